"""The group-send engine: the lease, and the verbs every pattern is composed of.

A send holds the group's lease (core.groups.lease) from `open` to `close`. Patterns never
write the group or the transcript themselves: they call verbs. Each verb that writes does
so in one atomic write under the lease, and each speaker turn reads only
the transcript entries it has not been given yet (a bounded read, whatever the length of
the history).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from core import ids
from core.errors import ConflictError, SendInterruptedError
from core.groups import journal
from core.groups.lease import DEFAULT_LEASE, GroupLease
from core.groups.send import Decision, Delta, GroupSend, Show, Turn
from core.groups.transcript import relay, to_transcript
from core.groups.turn_write import PublishWithTurn
from core.llm import ModelTask
from core.observability import in_context
from core.persistence.retry import optimistic
from core.persistence.unit_of_work import UnitOfWork
from core.ports import NO_METRICS, BackgroundRuns, Clock, Metrics, Store
from core.records import AgentRecord, GroupRecord, JournalEntry, MessageRecord, TranscriptRecord
from core.runtime.agent_loop import AgentLoop, TurnOptions
from core.runtime.turn import TurnTool
from core.schemas.messages import LettaRequest

DONE = JournalEntry()
"""The journal's entry for a write: it happened (it rides in the write itself)."""

TAIL_KEPT = 300
"""The most transcript entries a send keeps in memory (core.groups.send.GroupSend.tail)."""

RELAY_LIMIT = 100
"""At most this many unseen transcript entries are handed to a speaker at once."""


class GroupEngine:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        loop: AgentLoop,
        background: BackgroundRuns | None = None,
        lease: timedelta = DEFAULT_LEASE,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        """`lease`: how long a send holds the group between two of its writes."""
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.loop = loop
        self._background = background
        self._lease = GroupLease(store, clock, lease)

    # -- the lease -----------------------------------------------------------------------

    def open(
        self,
        tenant: str,
        group: GroupRecord,
        request: LettaRequest,
        names: dict[str, str],
        *,
        emit: Show | None = None,
        on_delta: Delta | None = None,
        key: str | None = None,
        run_id: str | None = None,
        baseline: dict[str, int] | None = None,
        resuming: bool = False,
        inputs: list[MessageRecord] | None = None,
        paused: bool = False,
    ) -> GroupSend:
        """Take the group's lease for a send (409 while another send holds it). A keyed
        send journals its steps; the same key after an attempt that died resumes it
        (core.groups.journal). `baseline`: each speaker's next message seq now.
        `resuming`: the send must go on from its key's journal; when the group has been
        used by another send since, there is none, and it is interrupted instead.
        `inputs`: the user's messages, appended to the transcript in the same write.
        `paused`: an approval picks up a send that paused (it was not interrupted)."""
        send = GroupSend(
            tenant, group, ids.new_id("lease"), request, names, emit=emit, on_delta=on_delta
        )
        send.key, send.run_id = key, run_id
        try:
            self._lease.take(send, baseline or {}, inputs or [], resuming=resuming)
        except ConflictError as error:
            if type(error) is ConflictError:  # busy, not a write that lost a race
                self.lease_conflict(group)
            raise
        if resuming and not send.resumed:
            self.close(send)
            raise SendInterruptedError(
                f"This send to group {group.id} was interrupted and another send has used "
                "the group since; what it produced so far is in the transcript."
            )
        if not paused:  # a paused send stopped whole: nothing of it to set aside
            send.set_aside = journal.set_aside_interrupted(self.store, self.clock, send)
        return send

    def lease_conflict(self, group: GroupRecord) -> None:
        """Count a send refused because another send holds the group (409 busy)."""
        self.metrics.count("LeaseConflicts", manager=group.manager_type)

    def close(self, send: GroupSend) -> None:
        """Give the lease back (if this send still holds it)."""
        self._lease.give_back(send)

    # -- turns ---------------------------------------------------------------------------

    def take_turn(
        self,
        send: GroupSend,
        agent_id: str,
        *,
        tools: tuple[TurnTool, ...] = (),
        last: bool = False,
    ) -> Turn:
        """The common turn: the agent catches up on what it has not seen, answers in view
        of the caller, and its messages join the transcript."""
        send.check_cancelled()
        position = send.next_position()
        decision = send.decision
        if decision is not None and decision.position == position:
            return self._decide(send, position, decision, tools)
        if position in send.replay:
            return self._replayed(send, position, visible=True)
        inputs, reached = self._catch_up(send, agent_id)
        return self._published_turn(send, position, agent_id, inputs, reached, tools, last)

    def continue_turn(self, send: GroupSend, agent_id: str, inputs: list[MessageRecord]) -> Turn:
        """An agent goes on from where it paused, on `inputs` (an approval decision), in
        view and into the transcript, without catching up on anything else."""
        send.check_cancelled()
        position = send.next_position()
        if position in send.replay:
            return self._replayed(send, position, visible=True)
        return self._published_turn(send, position, agent_id, inputs, None)

    def ask(
        self,
        send: GroupSend,
        agent_id: str,
        prompt: MessageRecord,
        *,
        task: ModelTask = "respond",
        choices: tuple[str, ...] = (),
    ) -> Turn:
        """A question to one agent, answered in view but kept out of the transcript (a
        manager choosing the next speaker)."""
        send.check_cancelled()
        position = send.next_position()
        if position in send.replay:
            return self._replayed(send, position, visible=True)
        turn = self._run(send, agent_id, [prompt], None, visible=True, task=task, choices=choices)
        self._tally(send, turn)
        send.pending[position] = journal.of_turn(turn, send.position)
        return turn

    def work_in_parallel(
        self, send: GroupSend, agent_ids: Sequence[str], brief: MessageRecord
    ) -> list[Turn | Exception]:
        """Each agent catches up and works on `brief` out of view, all at once; results in
        the order given, one agent's failure being its entry. Nothing is published: the
        caller publishes the turns it keeps."""

        positions = [send.next_position() for _ in agent_ids]

        def work(agent_id: str, position: int) -> Turn | Exception:
            if position in send.replay:
                return journal.replayed_turn(self.store, send, send.replay[position])
            try:
                inputs, reached = self._catch_up(send, agent_id)
                inputs.append(brief.model_copy(update={"id": ids.new_id(ids.MESSAGE)}))
                turn = self._run(send, agent_id, inputs, reached, visible=False)
            except Exception as error:  # noqa: BLE001 - one worker's failure is its entry
                send.pending[position] = journal.of_failure(agent_id, error)
                return error
            send.pending[position] = journal.of_turn(turn)
            return turn

        with ThreadPoolExecutor(max_workers=max(1, len(agent_ids))) as pool:
            # Each worker runs in a copy of this context, so its log lines carry the ids.
            results = list(pool.map(in_context(work), agent_ids, positions))
        for position, result in zip(positions, results, strict=True):
            # An approval's send counts only what it does itself, not what it replays.
            if isinstance(result, Turn) and (position not in send.replay or not send.decision):
                self._tally(send, result)
        return results

    # -- the transcript and the group ----------------------------------------------------

    def publish(self, send: GroupSend, turn: Turn) -> None:
        """A finished turn joins the transcript, with what its speaker was given, in one
        write."""
        position = send.next_position()
        if position not in send.replay:
            send.pending[position] = DONE
            self._publish(send, turn)

    def _publish(self, send: GroupSend, turn: Turn) -> None:
        self._append(send, turn.own, seen=(turn.agent_id, turn.reached))

    def append(
        self,
        send: GroupSend,
        records: list[MessageRecord],
        *,
        seen: tuple[str, int | None] | None = None,
    ) -> list[TranscriptRecord]:
        """Append records to the transcript (and note what an agent was given) in one
        write; returns the saved copies (none when a resumed send replays it)."""
        position = send.next_position()
        if position in send.replay:
            return []
        send.pending[position] = DONE
        return self._append(send, records, seen=seen)

    def _append(
        self,
        send: GroupSend,
        records: list[MessageRecord],
        *,
        seen: tuple[str, int | None] | None = None,
    ) -> list[TranscriptRecord]:
        if not records and (seen is None or seen[1] is None) and not send.pending:
            return []
        saved: list[TranscriptRecord] = []

        def add(group: GroupRecord) -> None:
            saved[:] = to_transcript(records, group.id, group.next_transcript_seq)
            group.next_transcript_seq += len(records)
            agent_id, seq = seen if seen is not None else ("", None)
            if seq is not None:
                group.seen[agent_id] = max(group.seen.get(agent_id, 0), seq)

        self._lease.write(send, add, new=lambda: saved)
        if send.tail_from is not None and saved:
            send.tail = [*send.tail, *saved][-TAIL_KEPT:]
            send.tail_from = max(send.tail_from, send.tail[0].seq)
        return saved

    def mark_seen(self, send: GroupSend, agent_id: str) -> None:
        """The agent has been given everything in the transcript so far."""
        self.append(send, [], seen=(agent_id, send.group.next_transcript_seq - 1))

    def update_group(self, send: GroupSend, change: Callable[[GroupRecord], Any]) -> GroupRecord:
        """Change the group's own fields (a pattern's counters) in one write under the lease
        (a resumed send has it already: the group it holds shows the change)."""
        position = send.next_position()
        if position not in send.replay:
            send.pending[position] = DONE
            self._lease.write(send, change)
        return send.group

    def transcript_since(
        self, send: GroupSend, after_seq: int, limit: int
    ) -> list[TranscriptRecord]:
        """Up to `limit` of the newest transcript entries after `after_seq`, oldest first
        (never before the last reset). The send holds the lease, so nobody else appends:
        once it has read the tail it keeps it current itself, and reads it only once."""
        after_seq = max(after_seq, send.group.transcript_start_seq - 1)
        if send.tail_from is not None and send.tail_from <= after_seq + 1:
            return [e for e in send.tail if e.seq > after_seq][-limit:]
        newest = self.store.children(
            send.tenant,
            TranscriptRecord,
            send.group.id,
            limit=limit,
            after_seq=after_seq,
            newest_first=True,
        )
        entries = list(reversed(newest))
        complete_from = after_seq + 1 if len(entries) < limit else entries[0].seq
        if send.tail_from is None or complete_from < send.tail_from:
            send.tail, send.tail_from = entries, complete_from
        return entries

    def trim_context(
        self, send: GroupSend, agent_id: str, *, above: int, keep: int
    ) -> list[MessageRecord]:
        """When the agent has more than `above` messages in context, the oldest leave it
        (they stay stored) so `keep` remain; returns those that left, oldest first."""

        send.agents.pop(agent_id, None)  # changed here: its next turn reads it afresh

        def move(_: int) -> list[MessageRecord]:
            uow = UnitOfWork(self.store, send.tenant, self.clock)
            agent = uow.load(AgentRecord, agent_id)
            if agent.next_message_seq - agent.context_start_seq <= above:
                return []
            new_start = agent.next_message_seq - keep
            left = self.store.children(
                send.tenant,
                MessageRecord,
                agent_id,
                limit=new_start - agent.context_start_seq,
                after_seq=agent.context_start_seq - 1,
                before_seq=new_start,
            )
            agent.context_start_seq = new_start
            uow.touch(agent)
            uow.commit()
            return left

        return optimistic(move, what=f"agent {agent_id}")

    # -- background work and notes -------------------------------------------------------

    def start_background(
        self, send: GroupSend, agent_id: str, text: str, *, task: ModelTask = "respond"
    ) -> None:
        """Start the agent on `text` as a background Run, listed in the send's usage."""
        if self._background is None:
            raise RuntimeError("This engine was built without a way to start background runs.")
        position = send.next_position()
        if position in send.replay:
            send.start_run(send.replay[position].run_id or "")
            return
        run_id = self._background.start_turn(
            send.tenant,
            agent_id,
            text,
            task=task,
            group_id=send.group.id,
            metadata={"group_id": send.group.id, "manager_type": send.group.manager_type},
            # Fixed by the step, so a resumed send that redoes it starts no second run.
            run_id=ids.derived_id(ids.RUN, send.key, str(position)) if send.key else None,
        )
        send.pending[position] = JournalEntry(agent_id=agent_id, run_id=run_id)
        send.start_run(run_id)

    def note(
        self, send: GroupSend, text: str, *, sender_id: str | None = None, name: str | None = None
    ) -> MessageRecord:
        """An input message from someone other than the user (a manager, the pattern)."""
        return MessageRecord(
            id=ids.new_id(ids.MESSAGE),
            created_at=self.clock.now(),
            parent_id="",
            seq=0,
            role="user",
            text=text,
            name=name or (send.names.get(sender_id) if sender_id else None),
            sender_id=sender_id,
            group_id=send.group.id,
            send_key=send.key,
        )

    # -- internals -----------------------------------------------------------------------

    def _catch_up(self, send: GroupSend, agent_id: str) -> tuple[list[MessageRecord], int]:
        """What the agent has not been given yet, relayed as its inputs, and the seq that
        reaches. `send.group` is current: this send made every write since it read it."""
        group = send.group
        given = max(group.seen.get(agent_id, 0), group.transcript_start_seq - 1)
        entries = self.transcript_since(send, given, RELAY_LIMIT)
        relayed = relay(entries, agent_id, self.clock)
        for record in relayed:
            record.send_key = send.key
        return relayed, entries[-1].seq if entries else given

    def _run(
        self,
        send: GroupSend,
        agent_id: str,
        inputs: list[MessageRecord],
        reached: int | None,
        *,
        visible: bool,
        tools: tuple[TurnTool, ...] = (),
        task: ModelTask = "respond",
        choices: tuple[str, ...] = (),
        finish: PublishWithTurn | None = None,
    ) -> Turn:
        input_ids = {r.id for r in inputs}

        def on_step(records: list[MessageRecord]) -> None:
            send.show([r for r in records if r.id not in input_ids])

        delta = send.on_delta if visible else None
        options = TurnOptions(
            max_steps=send.request.max_steps,
            enable_thinking=send.request.thinking_enabled,
            override_model=send.request.override_model,
            group_id=send.group.id,
            run_id=send.run_id,
            send_key=send.key,
            extra_tools=tools,
            task=task,
            choices=choices,
            on_step=on_step if visible else None,
            on_delta=(lambda m, k, t: delta(agent_id, m, k, t)) if delta is not None else None,
            agent=send.agents.get(agent_id),
            finish=finish,
            blocks=send.blocks,
        )
        self.metrics.count("Turns", manager=send.group.manager_type)
        result = self.loop.run(send.tenant, agent_id, inputs, options)
        send.agents[agent_id] = result.agent
        own = [r for r in result.messages if r.id not in input_ids]
        return Turn(agent_id, result, own, reached)

    def _replayed(self, send: GroupSend, position: int, *, visible: bool) -> Turn:
        """A turn the resumed send had committed: what it said and used, as it was (an
        approval's send counts only what it does itself)."""
        entry = send.replay[position]
        turn = journal.replayed_turn(self.store, send, entry)
        if entry.end is not None:
            send.position = max(send.position, entry.end)
        if isinstance(turn, Exception):
            raise turn
        if visible:
            send.show(turn.own, replayed=True)
        if send.decision is None:
            self._tally(send, turn)
        return turn

    def _decide(
        self, send: GroupSend, position: int, decision: Decision, tools: tuple[TurnTool, ...]
    ) -> Turn:
        """The paused turn goes on: the decision (and the tool results it gives) as its
        inputs, then the agent finishes its turn, in view and into the transcript."""
        agent = self.store.get(send.tenant, AgentRecord, decision.agent_id)
        if agent is None:
            raise ConflictError(f"Agent {decision.agent_id} no longer exists.")
        options = TurnOptions(
            max_steps=send.request.max_steps,
            group_id=send.group.id,
            run_id=send.run_id,
            extra_tools=tools,  # the approved call may be a lent one (a broadcast)
            blocks=send.blocks,  # an approved memory edit refreshes the send's blocks
        )
        decided = self.loop.approval_records(send.tenant, agent, decision.approval, options)
        send.show(decided)
        return self._published_turn(send, position, agent.id, decided, None, tools)

    def _published_turn(
        self,
        send: GroupSend,
        position: int,
        agent_id: str,
        inputs: list[MessageRecord],
        reached: int | None,
        tools: tuple[TurnTool, ...] = (),
        last: bool = False,
    ) -> Turn:
        """A turn in view that joins the transcript in the write of its last step (or, cut
        short, in a write of its own). `last`: the pattern's final step, whose write also
        gives the lease back."""
        finish = PublishWithTurn(
            self._lease, send, position, agent_id, {r.id for r in inputs}, reached, last
        )
        turn = self._run(send, agent_id, inputs, reached, visible=True, tools=tools, finish=finish)
        self._tally(send, turn)
        if not finish.applied:
            send.pending[position] = journal.of_turn(turn, send.position)
            self._publish(send, turn)
        return turn

    @staticmethod
    def _tally(send: GroupSend, turn: Turn) -> None:
        send.usage.tally(turn.agent_id, turn.result.agent.name).merge(turn.result.usage)
