"""The send journal: how a send that died resumes from its last committed step, and how an
approval picks up the send that paused for it.

Every group send has a key (its idempotency key, its Run's id, or one of its own) and numbers
its steps (turns, writes, background runs) in the order its pattern takes them. What each
step did is kept on the group, in the same atomic write that commits the step (a turn's
entry rides with its transcript write), so the journal never claims a step that did not
happen, nor misses one that did. When the same key sends again after the first attempt
died, the pattern runs from the start, but steps the journal holds are replayed from it
(their messages read back, their usage counted again) instead of redone: no model call, no
tool call, no write twice. What a step interrupted midway had already saved (an agent's
partial turn, its records stamped with the send's key) is set aside first, so the redone
step starts clean. A send that pauses for an approval keeps its journal: the approval's
send replays up to the pause, goes on from the decision, and the pattern continues.
"""

from __future__ import annotations

from typing import cast

from core.groups.send import GroupSend, Turn
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store
from core.records import AgentRecord, GroupRecord, JournalEntry, MessageRecord, SendJournal
from core.runtime.turn import StopReason, TurnResult
from core.runtime.usage import UsageTally


def begin(group: GroupRecord, send: GroupSend, baseline: dict[str, int]) -> None:
    """At the lease's taking: resume the journal this key left, or start a new one."""
    send.resumed = False
    if send.key is None:
        group.journal = None
    elif group.journal is not None and group.journal.key == send.key:
        send.replay, send.resumed = dict(group.journal.entries), True
    else:
        group.journal = SendJournal(key=send.key, baseline=baseline)


def flush(group: GroupRecord, send: GroupSend) -> None:
    """Into this write: the steps done since the last one (the lease clears them once it
    is written)."""
    if group.journal is None:
        return
    if send.decision is not None:  # past the pause the path changed: later steps are stale
        group.journal.entries = {
            p: e for p, e in group.journal.entries.items() if p < send.position
        }
    group.journal.entries.update(send.pending)


def of_turn(turn: Turn, end: int | None = None) -> JournalEntry:
    usage = turn.result.usage
    return JournalEntry(
        end=end,
        agent_id=turn.agent_id,
        own_seqs=[r.seq for r in turn.own],
        first_seq=min((r.seq for r in turn.result.messages), default=None),
        stop_reason=turn.stop_reason,
        reached=turn.reached,
        usage=[usage.step_count, usage.prompt_tokens, usage.completion_tokens],
    )


def of_failure(agent_id: str, error: Exception) -> JournalEntry:
    return JournalEntry(agent_id=agent_id, error=f"{type(error).__name__}: {error}")


def replayed_turn(store: Store, send: GroupSend, entry: JournalEntry) -> Turn | Exception:
    """The turn as it was: its own messages read back, its usage as it was counted."""
    agent_id = entry.agent_id or ""
    if entry.error is not None:
        return RuntimeError(entry.error)
    own: list[MessageRecord] = []
    if entry.own_seqs:
        wanted = set(entry.own_seqs)
        own = [
            r
            for r in store.children(
                send.tenant,
                MessageRecord,
                agent_id,
                limit=max(wanted) - min(wanted) + 1,
                after_seq=min(wanted) - 1,
                before_seq=max(wanted) + 1,
            )
            if r.seq in wanted
        ]
    agent = store.get(send.tenant, AgentRecord, agent_id)
    if agent is None:
        return RuntimeError(f"Agent {agent_id} was deleted while its send was interrupted.")
    steps, prompt, completion = (entry.usage + [0, 0, 0])[:3]
    usage = UsageTally(agent_id, agent.name, steps, prompt, completion)
    stop_reason = cast(StopReason, entry.stop_reason or "end_turn")
    return Turn(agent_id, TurnResult(agent, own, stop_reason, usage), own, entry.reached)


def set_aside_interrupted(store: Store, clock: Clock, send: GroupSend) -> list[str]:
    """Remove what a step that died midway saved: each speaker's messages of this send (its
    group, its run) from after the send began that no journaled turn holds. Returns their
    ids (a Run's log forgets them too)."""
    journal = send.group.journal
    if journal is None or not send.resumed:
        return []
    kept: dict[str, set[int]] = {}
    for entry in send.replay.values():
        if entry.agent_id and entry.first_seq is not None:
            top = max([entry.first_seq, *entry.own_seqs])
            kept.setdefault(entry.agent_id, set()).update(range(entry.first_seq, top + 1))
    removed: list[str] = []
    for agent_id, start in journal.baseline.items():
        later = store.children(
            send.tenant, MessageRecord, agent_id, limit=10_000, after_seq=start - 1
        )
        # Only what this send saved: not a direct chat's copies, not background runs'.
        stray = [
            r for r in later if r.send_key == send.key and r.seq not in kept.get(agent_id, set())
        ]
        chunk = store.limits.max_changes_per_write
        for start_at in range(0, len(stray), chunk):
            uow = UnitOfWork(store, send.tenant, clock)
            for record in stray[start_at : start_at + chunk]:
                uow.remove(uow.track(MessageRecord, record))
            uow.commit()
        removed.extend(r.id for r in stray)
    return removed


def paused_at(send: GroupSend, agent_id: str) -> int | None:
    """Where the resumed send's pattern paused for `agent_id`'s approval (its last turn that
    stopped so), or None when its journal does not say."""
    paused = [
        position
        for position, entry in send.replay.items()
        if entry.agent_id == agent_id and entry.stop_reason == "requires_approval"
    ]
    return max(paused) if paused else None
