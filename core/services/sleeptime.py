"""sleeptime and voice_sleeptime: the main agent answers; sleeptime agents learn from the
conversation afterwards, as background Runs, by editing the memory they share with it."""

from __future__ import annotations

from collections.abc import Callable

from core.persistence.retry import optimistic
from core.persistence.unit_of_work import UnitOfWork
from core.records import AgentRecord, GroupRecord, MessageRecord, TranscriptRecord
from core.runtime.group_engine import GroupEngine, GroupSend
from core.runtime.transcript import as_lines
from core.services.runs import AGENT_TURN, RunService

DEFAULT_MAX_BUFFER = 30
DEFAULT_MIN_BUFFER = 15
REVIEW_LIMIT = 100

REVIEW_PROMPT = (
    "Here is the conversation of the agent whose memory you manage, since your last "
    "review. Store what matters in the memory blocks you share with it, then stop.\n\n{lines}"
)
EVICTION_PROMPT = (
    "These messages are leaving the voice agent's context. Store what matters from them in "
    "the memory blocks you share with it, then stop.\n\n{lines}"
)


def should_run(turns: int, frequency: int | None) -> bool:
    """After foreground turns 1, 1+N, 1+2N…; null means every turn, 0 never."""
    if frequency is None:
        return True
    return frequency > 0 and (turns - 1) % frequency == 0


def sleeptime(runs: RunService) -> Callable[[GroupEngine, GroupSend, str], None]:
    def pattern(engine: GroupEngine, send: GroupSend, lease: str) -> None:
        turn = engine.speak(send, lease, send.group.manager_agent_id or "")
        send.stop_reason = turn.stop_reason
        if turn.stop_reason != "end_turn":
            return

        def count(group: GroupRecord) -> None:
            group.turns_counter = (group.turns_counter or 0) + 1

        group = engine.update_group(send.tenant, send.group.id, count, require_lease=lease)
        send.group = group
        if not group.agent_ids or not should_run(
            group.turns_counter or 0, group.sleeptime_agent_frequency
        ):
            return
        since = 0
        if group.last_processed_message_id:
            last = engine.store.find_child(
                send.tenant, TranscriptRecord, group.last_processed_message_id
            )
            since = last.seq if last is not None and last.parent_id == group.id else 0
        entries = list(
            reversed(
                engine.store.children(
                    send.tenant,
                    TranscriptRecord,
                    group.id,
                    limit=REVIEW_LIMIT,
                    after_seq=max(since, group.transcript_start_seq - 1),
                    newest_first=True,
                )
            )
        )
        if not entries:
            return
        text = REVIEW_PROMPT.format(lines=as_lines(entries))
        _start_runs(runs, send, text, "sleeptime")
        processed = entries[-1].id

        def mark(g: GroupRecord) -> None:
            g.last_processed_message_id = processed

        send.group = engine.update_group(send.tenant, group.id, mark, require_lease=lease)

    return pattern


def voice_sleeptime(runs: RunService) -> Callable[[GroupEngine, GroupSend, str], None]:
    def pattern(engine: GroupEngine, send: GroupSend, lease: str) -> None:
        main = send.group.manager_agent_id or ""
        turn = engine.speak(send, lease, main)
        send.stop_reason = turn.stop_reason
        group = send.group
        max_len = group.max_message_buffer_length or DEFAULT_MAX_BUFFER
        min_len = group.min_message_buffer_length or DEFAULT_MIN_BUFFER
        evicted = _evict(engine, send.tenant, main, max_len, min_len)
        if not evicted or not group.agent_ids:
            return
        text = EVICTION_PROMPT.format(lines=as_lines(evicted))
        _start_runs(runs, send, text, "voice_sleeptime")

    return pattern


def _start_runs(runs: RunService, send: GroupSend, text: str, manager_type: str) -> None:
    """One background Run per sleeptime agent of the group, listed in the response."""
    group = send.group
    for member in group.agent_ids:
        run = runs.submit(
            send.tenant,
            member,
            {
                "kind": AGENT_TURN,
                "input": text,
                "group_id": group.id,
                "task": "remember",
            },
            {"group_id": group.id, "manager_type": manager_type},
        )
        send.usage.run_ids = [*(send.usage.run_ids or []), run.id]


def _evict(
    engine: GroupEngine, tenant: str, agent_id: str, max_len: int, min_len: int
) -> list[MessageRecord]:
    """When the agent's in-context messages exceed `max_len`, move its context start so
    `min_len` remain; returns the messages that left."""

    def move(_: int) -> list[MessageRecord]:
        uow = UnitOfWork(engine.store, tenant, engine.clock)
        agent = uow.load(AgentRecord, agent_id)
        if agent.next_message_seq - agent.context_start_seq <= max_len:
            return []
        new_start = agent.next_message_seq - min_len
        evicted = engine.store.children(
            tenant,
            MessageRecord,
            agent_id,
            limit=new_start - agent.context_start_seq,
            after_seq=agent.context_start_seq - 1,
            before_seq=new_start,
        )
        agent.context_start_seq = new_start
        uow.touch(agent)
        uow.commit()
        return evicted

    return optimistic(move, what=f"agent {agent_id}")
