"""The shapes of one agent turn: what a caller asks for, lends and gets back.

Kept apart from the loop so callers (services, group patterns) and the loop's own parts
share these types without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from core.llm import ModelTask, ToolSpec
from core.records import AgentRecord, MessageRecord
from core.runtime.usage import UsageTally
from core.schemas.agents import StopReasonType

if TYPE_CHECKING:
    from core.persistence.unit_of_work import UnitOfWork
    from core.runtime.context import BlockCache

StopReason = StopReasonType
"""Why a turn or step ended: Letta's stop reasons."""

REPLY_TOOL_AGENT_TYPES = frozenset({"memgpt_agent", "memgpt_v2_agent", "voice_convo_agent"})
"""Agent types that answer through send_message; their plain text is inner thought."""


def replies_through_tool(agent: AgentRecord) -> bool:
    """Whether the agent answers through send_message (so its plain text is a thought)."""
    return agent.agent_type in REPLY_TOOL_AGENT_TYPES


@dataclass(frozen=True)
class TurnTool:
    """A tool a caller lends the agent for one turn (a group pattern's coordination tool)."""

    spec: ToolSpec
    run: Callable[[dict[str, Any]], str]
    """Gets the parsed arguments, returns the result text; may raise ToolError."""
    rules: tuple[dict[str, Any], ...] = ()
    """Tool rules (Letta's wire form) that come with the tool for the turn, such as a
    supervisor's forced first broadcast; see core.runtime.rules.turn_rules."""


class TurnFinish(Protocol):
    """Changes a caller adds to the write of a turn's last step, so they commit with it
    (a group send's transcript entries and cursor). `stage` may run more than once (a
    retried write); `committed` runs once that write succeeded."""

    def stage(
        self,
        uow: UnitOfWork,
        attempt: int,
        saved: list[MessageRecord],
        stop_reason: StopReason,
        usage: UsageTally,
    ) -> None: ...

    def committed(self) -> None: ...


@dataclass(frozen=True)
class TurnOptions:
    """How one turn runs. Callers change what the agent can do by lending tools and
    naming the model's task, never through flags the loop interprets."""

    max_steps: int = 50
    enable_thinking: bool = True
    override_model: str | None = None
    run_id: str | None = None
    group_id: str | None = None
    send_key: str | None = None
    """Stamped on every record the turn saves (core.records.MessageRecord.send_key)."""
    extra_tools: tuple[TurnTool, ...] = ()
    """Tools lent for this turn, offered beside the agent's own."""
    task: ModelTask = "respond"
    choices: tuple[str, ...] = ()
    """What a "choose" task picks from."""
    on_step: Callable[[list[MessageRecord]], None] | None = None
    """Called with each step's saved records as soon as they are saved (for streaming)."""
    should_stop: Callable[[], bool] | None = None
    """Asked before every step but the first: True ends the turn as `cancelled` (a Run
    cancelled while it works)."""
    on_delta: Callable[[str, str, str], None] | None = None
    """`on_delta(message_id, kind, text)`: pieces of a reply while the model produces them
    (stream_tokens); the saved message later has that id."""
    finish: TurnFinish | None = None
    """Joined to the write of the turn's last step (none when the turn is cut short by a
    cancellation or an error: the caller then does its part itself)."""
    blocks: BlockCache | None = None
    """The memory blocks of the caller's whole request (a group send), read once."""
    agent: AgentRecord | None = None
    """The agent as the caller last read or wrote it, saving the turn a read; its first
    write checks the version, so a stale copy costs a retry, never a lost change."""
    given: tuple[MessageRecord, ...] = ()
    """Inputs the caller saved just before the turn (a member's group news, saved with the
    note that it was given): the first step shows them as inputs, which are never
    compacted away before the agent has seen them, and the turn's messages include them;
    they are not saved again."""

    def lent(self, name: str) -> TurnTool | None:
        """The lent tool of that name, if any."""
        return next((t for t in self.extra_tools if t.spec.name == name), None)


@dataclass
class TurnResult:
    agent: AgentRecord
    messages: list[MessageRecord]
    stop_reason: StopReason
    usage: UsageTally


@dataclass
class StepOutcome:
    """One step's records, not yet saved, and why the turn stops after it (None: go on)."""

    records: list[MessageRecord]
    stop_reason: StopReason | None


@dataclass(frozen=True)
class ToolResult:
    """What a tool call gave back to the model."""

    text: str
    status: Literal["success", "error"]

    @classmethod
    def error(cls, text: str) -> ToolResult:
        return cls(text, "error")
