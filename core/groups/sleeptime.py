"""sleeptime: the main agent (the manager) answers; after foreground turns 1, 1+N, 1+2N…
each sleeptime agent (a member) reviews the conversation since its last review as a
background Run, editing the memory it shares with the main agent."""

from __future__ import annotations

from core.groups.engine import GroupEngine
from core.groups.main_agent import MainAgentAnswers
from core.groups.send import GroupSend
from core.groups.transcript import as_lines
from core.records import GroupRecord, TranscriptRecord

REVIEW_LIMIT = 100
"""Most transcript entries one review covers."""

REVIEW_PROMPT = (
    "Here is the conversation of the agent whose memory you manage, since your last "
    "review. Store what matters in the memory blocks you share with it, then stop.\n\n{lines}"
)


def should_run(turns: int, frequency: int | None) -> bool:
    """After foreground turns 1, 1+N, 1+2N…; null means every turn, 0 never."""
    if frequency is None:
        return True
    return frequency > 0 and (turns - 1) % frequency == 0


class Sleeptime(MainAgentAnswers):
    manager_type = "sleeptime"

    def run(self, engine: GroupEngine, send: GroupSend) -> None:
        turn = engine.take_turn(send, send.group.manager_agent_id or "")
        send.stop_reason = turn.stop_reason
        if not turn.ended_normally:
            return

        def count(group: GroupRecord) -> None:
            group.turns_counter = (group.turns_counter or 0) + 1

        group = engine.update_group(send, count)
        if not group.agent_ids or not should_run(
            group.turns_counter or 0, group.sleeptime_agent_frequency
        ):
            return
        entries = engine.transcript_since(send, _last_processed_seq(engine, send), REVIEW_LIMIT)
        if not entries:
            return
        text = REVIEW_PROMPT.format(lines=as_lines(entries))
        for member in group.agent_ids:
            engine.start_background(send, member, text, task="remember")
        last = entries[-1]

        def mark(g: GroupRecord) -> None:
            g.last_processed_message_id = last.id
            g.last_processed_seq = last.seq

        engine.update_group(send, mark)


def _last_processed_seq(engine: GroupEngine, send: GroupSend) -> int:
    """Where the previous review stopped: kept on the group; groups written before the seq
    was kept name the message only, found through the (eventually consistent) index (remove
    that path once every stored group has the seq)."""
    group = send.group
    if group.last_processed_seq is not None:
        return group.last_processed_seq
    if not group.last_processed_message_id:
        return 0
    last = engine.store.find_child(send.tenant, TranscriptRecord, group.last_processed_message_id)
    return last.seq if last is not None and last.parent_id == group.id else 0
