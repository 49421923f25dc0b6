"""The group-turn engine every manager type runs on.

A send holds the group's lease (a second concurrent send gets 409), appends the user's input
to the shared transcript, lets the manager module pick speakers, and answers with what they
said. Each speaker turn reads only the transcript entries it has not been given yet (a
bounded read, whatever the length of the history) and is appended to the transcript in one
atomic write when it ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from core import ids
from core.errors import ConflictError, SendInterruptedError
from core.llm import ModelTask
from core.persistence.retry import optimistic
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store
from core.records import GroupRecord, MessageRecord, TranscriptRecord
from core.runtime.agent_loop import AgentLoop, TurnOptions, TurnResult, TurnTool
from core.runtime.transcript import relay, to_transcript
from core.runtime.usage import RequestUsage
from core.schemas.messages import LettaRequest

DEFAULT_LEASE = timedelta(seconds=180)
"""How long a send holds the group between two of its writes; every speaker turn renews
it. Keep it above the function's timeout, so a send that was killed (timeout, out of memory)
frees the group soon after, while a live one never loses it."""

RELAY_LIMIT = 100
"""At most this many unseen transcript entries are handed to a speaker at once."""


@dataclass
class GroupSend:
    """The state of one send: who spoke, what they produced, and the usage so far."""

    tenant: str
    group: GroupRecord
    request: LettaRequest
    names: dict[str, str]
    usage: RequestUsage = field(default_factory=RequestUsage)
    produced: list[MessageRecord] = field(default_factory=list)
    stop_reason: str = "end_turn"
    emit: Callable[[list[MessageRecord]], None] | None = None
    on_delta: Callable[[str, str, str, str], None] | None = None
    """`on_delta(agent_id, message_id, kind, text)` when the caller streams tokens."""

    def show(self, records: list[MessageRecord]) -> None:
        """Add records to the response (and the stream) in the order they happened."""
        self.produced.extend(records)
        if self.emit is not None and records:
            self.emit(records)


@dataclass
class Turn:
    agent_id: str
    result: TurnResult
    own: list[MessageRecord]
    """What the speaker produced (its inputs excluded)."""
    reached: int | None
    """The transcript seq the speaker was given everything up to."""

    @property
    def stop_reason(self) -> str:
        return self.result.stop_reason


class GroupEngine:
    def __init__(
        self, store: Store, clock: Clock, loop: AgentLoop, lease: timedelta = DEFAULT_LEASE
    ) -> None:
        self.store = store
        self.clock = clock
        self.loop = loop
        self.lease = lease

    # -- lease ---------------------------------------------------------------------------

    def acquire(
        self, tenant: str, group_id: str, known: GroupRecord | None = None
    ) -> tuple[GroupRecord, str]:
        """Take the group's lease; the first try starts from `known` (the copy the request
        just read), a lost race reads the group again."""
        lease_id = ids.new_id("lease")

        def take(attempt: int) -> GroupRecord:
            uow = UnitOfWork(self.store, tenant, self.clock)
            if attempt == 0 and known is not None:
                group = uow.track(GroupRecord, known.model_copy(deep=True))
            else:
                group = uow.load(GroupRecord, group_id)
            now = self.clock.now()
            if group.lease_id and group.lease_expires_at and group.lease_expires_at > now:
                raise ConflictError(
                    f"Group {group_id} is busy with another send; retry once it has finished."
                )
            group.lease_id, group.lease_expires_at = lease_id, now + self.lease
            uow.touch(group)
            uow.commit()
            return group

        return optimistic(take, what=f"group {group_id}"), lease_id

    def release(
        self, tenant: str, group_id: str, lease_id: str, known: GroupRecord | None = None
    ) -> None:
        self.update_group(
            tenant, group_id, lambda g: _clear_lease(g, lease_id), require_lease=None, known=known
        )

    def update_group(
        self,
        tenant: str,
        group_id: str,
        change: Callable[[GroupRecord], Any],
        *,
        require_lease: str | None,
        add: Callable[[GroupRecord], list[TranscriptRecord]] | None = None,
        known: GroupRecord | None = None,
    ) -> GroupRecord:
        """Apply `change` to the group (and add the records `add` builds from it) in one
        atomic write. The first try starts from `known`, the copy this send holds, saving a
        read; a lost race reads the group again and retries."""

        def write(attempt: int) -> GroupRecord:
            uow = UnitOfWork(self.store, tenant, self.clock)
            if attempt == 0 and known is not None:
                group = uow.track(GroupRecord, known.model_copy(deep=True))
            else:
                group = uow.load(GroupRecord, group_id)
            if require_lease is not None:
                if group.lease_id != require_lease:
                    raise SendInterruptedError(
                        f"Group {group_id} was taken over by another send while this one "
                        "ran; what was produced so far is in the transcript."
                    )
                group.lease_expires_at = self.clock.now() + self.lease
            for record in add(group) if add else []:
                uow.add(record)
            change(group)
            uow.touch(group)
            uow.commit()
            return group

        return optimistic(write, what=f"group {group_id}")

    # -- transcript ----------------------------------------------------------------------

    def append(
        self,
        send: GroupSend,
        lease_id: str,
        records: list[MessageRecord],
        seen: tuple[str, int | None] | None = None,
    ) -> list[TranscriptRecord]:
        """Append records to the transcript and note what the speaker was given, in one
        atomic write; returns the saved copies."""
        saved: list[TranscriptRecord] = []

        def build(group: GroupRecord) -> list[TranscriptRecord]:
            saved[:] = to_transcript(records, group.id, group.next_transcript_seq)
            return saved

        def advance(group: GroupRecord) -> None:
            group.next_transcript_seq += len(records)
            if seen is not None and seen[1] is not None:
                agent_id, seq = seen
                group.seen[agent_id] = max(group.seen.get(agent_id, 0), seq)

        if records or seen is not None:
            send.group = self.update_group(
                send.tenant,
                send.group.id,
                advance,
                require_lease=lease_id,
                add=build,
                known=send.group,
            )
        return saved

    @staticmethod
    def _delta_listener(send: GroupSend, agent_id: str) -> Callable[[str, str, str], None] | None:
        forward = send.on_delta
        if forward is None:
            return None
        return lambda message_id, kind, text: forward(agent_id, message_id, kind, text)

    def commit_turn(self, send: GroupSend, lease_id: str, turn: Turn) -> None:
        """A finished speaker turn joins the transcript in one write."""
        self.append(send, lease_id, turn.own, (turn.agent_id, turn.reached))

    def unseen(self, send: GroupSend, agent_id: str) -> tuple[list[TranscriptRecord], int]:
        """Transcript entries this agent has not been given, and the seq they reach."""
        group = send.group  # kept current by this send's own writes, under its lease
        given = max(group.seen.get(agent_id, 0), group.transcript_start_seq - 1)
        newest = self.store.children(
            send.tenant,
            TranscriptRecord,
            group.id,
            limit=RELAY_LIMIT,
            after_seq=given,
            newest_first=True,
        )
        entries = list(reversed(newest))
        return entries, entries[-1].seq if entries else given

    # -- speaking ------------------------------------------------------------------------

    def speak(
        self,
        send: GroupSend,
        lease_id: str,
        agent_id: str,
        *,
        extra: list[MessageRecord] | None = None,
        relay_transcript: bool = True,
        to_transcript_now: bool = True,
        visible: bool = True,
        extra_tools: tuple[TurnTool, ...] = (),
        task: ModelTask = "respond",
        choices: tuple[str, ...] = (),
    ) -> Turn:
        """One agent's turn: it is given what it has not seen, runs, and (by default) its
        messages join the transcript and the response."""
        inputs: list[MessageRecord] = []
        reached = None
        if relay_transcript:
            entries, reached = self.unseen(send, agent_id)
            inputs = relay(entries, agent_id, self.clock)
        inputs.extend(extra or [])
        input_ids = {r.id for r in inputs}

        def on_step(records: list[MessageRecord]) -> None:
            if visible:
                send.show([r for r in records if r.id not in input_ids])

        result = self.loop.run(
            send.tenant,
            agent_id,
            inputs,
            TurnOptions(
                max_steps=send.request.max_steps,
                enable_thinking=send.request.thinking_enabled,
                override_model=send.request.override_model,
                group_id=send.group.id,
                extra_tools=extra_tools,
                task=task,
                choices=choices,
                on_step=on_step,
                on_delta=self._delta_listener(send, agent_id) if visible else None,
            ),
        )
        own = [r for r in result.messages if r.id not in input_ids]
        turn = Turn(agent_id, result, own, reached)
        if to_transcript_now:
            send.usage.tally(agent_id, result.agent.name).merge(result.usage)
            self.commit_turn(send, lease_id, turn)
        return turn


def _clear_lease(group: GroupRecord, lease_id: str) -> None:
    if group.lease_id == lease_id:
        group.lease_id = None
        group.lease_expires_at = None
