"""The state of one group send, and what one agent's turn in it produced."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from core.records import (
    AgentRecord,
    GroupRecord,
    JournalEntry,
    MessageRecord,
    TranscriptRecord,
)
from core.runtime.agent_loop import TurnResult
from core.runtime.context import BlockCache
from core.runtime.turn import StopReason
from core.runtime.usage import RequestUsage
from core.schemas.messages import ApprovalCreate, LettaRequest

Show = Callable[[list[MessageRecord]], None]
Delta = Callable[[str, str, str, str], None]
"""`delta(agent_id, message_id, kind, text)`: a piece of a reply while it is produced."""


@dataclass(frozen=True)
class Decision:
    """The answer to an approval a paused send asked for: at `position`, `agent_id`'s turn
    goes on from the decision instead of being replayed."""

    position: int
    agent_id: str
    approval: ApprovalCreate


class SendCancelled(Exception):
    """The send's Run was cancelled: it stops before its next turn (not an error)."""


@dataclass
class GroupSend:
    """One send: the group as this send last wrote it, who spoke, what they produced and
    the usage so far. Patterns set `stop_reason`; the engine keeps `group` current."""

    tenant: str
    group: GroupRecord
    lease_id: str
    request: LettaRequest
    names: dict[str, str]
    usage: RequestUsage = field(default_factory=lambda: RequestUsage(run_ids=[]))
    produced: list[MessageRecord] = field(default_factory=list)
    stop_reason: StopReason = "end_turn"
    emit: Show | None = None
    replay_emit: Show | None = None
    """Where replayed records go: the live stream, not a Run's log (it has them)."""
    on_delta: Delta | None = None
    run_id: str | None = None
    """Set when the send is a Run's work: its messages are tagged with it."""
    should_stop: Callable[[], bool] | None = None
    """Asked before every turn: True ends the send as `cancelled` (its Run was cancelled)."""
    key: str | None = None
    """A keyed send journals its steps (core.groups.journal) so it can be resumed."""
    replay: dict[int, JournalEntry] = field(default_factory=dict)
    """Steps a resumed send already committed, by position: replayed, not redone."""
    pending: dict[int, JournalEntry] = field(default_factory=dict)
    """Steps done since the last write: journaled with the next one."""
    resumed: bool = False
    """The key's journal was found: this send goes on from where an attempt died."""
    agents: dict[str, AgentRecord] = field(default_factory=dict)
    """Each speaker as this send last read or wrote it: a turn starts from it (saving a
    read); a copy gone stale costs its first write a retry, nothing else."""
    blocks: BlockCache = field(default_factory=BlockCache)
    """The speakers' memory blocks, read once per send (again after a memory edit)."""
    tail: list[TranscriptRecord] = field(default_factory=list)
    tail_from: int | None = None
    """`tail` holds every transcript entry from seq `tail_from` on (None: not read yet)."""
    decision: Decision | None = None
    """An approval send: the paused turn it decides, where the pattern reaches it."""
    set_aside: list[str] = field(default_factory=list)
    """Ids of what the dead attempt's interrupted step had saved, removed on resuming."""
    position: int = 0
    failed: bool = False
    """The send ended with an error: what it journaled stays for a retry with its key."""
    released: bool = False
    """The lease was given back in the send's last turn's write (no more writes after)."""
    """The next step's position; patterns call the engine's verbs in a fixed order."""

    def show(self, records: list[MessageRecord], *, replayed: bool = False) -> None:
        """Add records to the response (and the stream) in the order they happened. What a
        resumed send replays is shown again (a retried stream gets the whole send) but not
        logged again (`replay_emit`: the stream only); an approval's send answers with what
        came after the pause only."""
        if replayed and self.decision is not None:
            return
        self.produced.extend(records)
        target = self.replay_emit if replayed else self.emit
        if target is not None and records:
            target(records)

    def next_position(self) -> int:
        self.position += 1
        return self.position - 1

    def check_cancelled(self) -> None:
        """Between turns: stop here if the send's Run was cancelled."""
        if self.should_stop is not None and self.should_stop():
            raise SendCancelled()

    def start_run(self, run_id: str) -> None:
        """List a background run this send started in `usage.run_ids`."""
        self.usage.run_ids = [*(self.usage.run_ids or []), run_id]


@dataclass
class Turn:
    """One agent's turn: the loop's result and what the agent itself produced."""

    agent_id: str
    result: TurnResult
    own: list[MessageRecord]
    """What the speaker produced (its inputs excluded)."""
    reached: int | None
    """The transcript seq the speaker was given everything up to (None: not caught up)."""

    @property
    def stop_reason(self) -> StopReason:
        return self.result.stop_reason

    @property
    def ended_normally(self) -> bool:
        return self.result.stop_reason == "end_turn"
