"""What the store keeps: one record type per resource, versioned for optimistic writes.

Relationships are kept on both sides (an agent lists its groups, a block lists its agents),
so every change that touches several records is one atomic multi-record write and a read
never needs a secondary lookup.
"""

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field

from core.filters import (
    ContainsText,
    Equals,
    Filterable,
    HasAll,
    HasAny,
    IsFalse,
    IsTrue,
    OneOf,
)
from core.lazy_model import LazyModel
from core.schemas.blocks import BlockBody
from core.schemas.groups import Group

Role = Literal["system", "user", "assistant", "tool", "approval", "summary"]
"""Who a stored message is from: system and user inputs, an assistant step, a tool's
result, a human's approval decision, or a compaction summary."""

RunKind = Literal["agent_turn"]
"""The job kinds RunService handles itself (others may be registered at runtime)."""


class Record(LazyModel):
    """Common envelope: id, timestamps and the version optimistic writes compare."""

    KIND: ClassVar[str]
    FILTERABLE: ClassVar[Filterable] = {}
    """Fields `Store.list` can filter this kind by, and with which filters (core.filters);
    a store keeps exactly these beside the record when it writes it."""

    id: str
    created_at: datetime
    updated_at: datetime | None = None
    version: int = 1
    expires_at: datetime | None = None
    """When set, the store may delete the record after this time (DynamoDB TTL)."""

    def filterable_value(self, field: str) -> object:
        """The value filters on `field` test; a kind that keeps a filterable field
        somewhere else than an attribute of that name overrides this."""
        return getattr(self, field, None)


_TAGS = (HasAny, HasAll)


class BlockRecord(Record, BlockBody):
    KIND: ClassVar[str] = "block"
    FILTERABLE: ClassVar[Filterable] = {
        "label": (Equals, OneOf, ContainsText),
        "value": (ContainsText,),
        "description": (ContainsText,),
        "template_name": (Equals,),
        "project_id": (Equals,),
        "is_template": (IsTrue, IsFalse),
        "tags": _TAGS,
    }

    value: str
    agent_ids: list[str] = Field(default_factory=list)
    group_ids: list[str] = Field(default_factory=list)


class AgentRecord(Record):
    """An agent's own settings; blocks and groups are referenced by id."""

    KIND: ClassVar[str] = "agent"
    FILTERABLE: ClassVar[Filterable] = {
        "name": (Equals, ContainsText),
        "tags": _TAGS,
        "project_id": (Equals,),
        "template_id": (Equals,),
        "base_template_id": (Equals,),
        "last_stop_reason": (Equals,),
        "identity_ids": _TAGS,
    }
    _ECHOED_FILTERABLE: ClassVar[frozenset[str]] = frozenset(
        {"project_id", "template_id", "base_template_id", "last_stop_reason", "identity_ids"}
    )

    name: str
    system: str
    agent_type: str
    model: str
    llm_config: dict[str, Any]
    embedding: str | None = None
    embedding_config: dict[str, Any] | None = None
    block_ids: list[str] = Field(default_factory=list)
    tool_names: list[str] = Field(default_factory=list)
    tool_rules: list[dict[str, Any]] | None = None
    tags: list[str] = Field(default_factory=list)
    description: str | None = None
    metadata: dict[str, Any] | None = None
    group_ids: list[str] = Field(default_factory=list)
    managed_group_ids: list[str] = Field(default_factory=list)
    # Conversation state: messages are children numbered from 1; those before
    # `context_start_seq` were summarised into `summary` and leave the model's context.
    next_message_seq: int = 1
    context_start_seq: int = 1
    summary: str | None = None
    pending_approval_id: str | None = None
    """The assistant message whose tool calls wait for a human decision."""
    pending_approval_seq: int | None = None
    """That message's seq, so the decision reads it by key (consistently); None on records
    written before this field existed, which fall back to the id index."""
    # Fields stored only to be echoed back: they change nothing in this service yet.
    echoed: dict[str, Any] = Field(default_factory=dict)

    def filterable_value(self, field: str) -> object:
        """Echoed fields (project, template, identities...) live in `echoed`."""
        if field in self._ECHOED_FILTERABLE:
            return self.echoed.get(field)
        return super().filterable_value(field)


class JournalEntry(LazyModel):
    """What one step of a send did, kept so a resumed send replays it instead of redoing it:
    a write (`done`), an agent's turn (its own messages by seq, stop reason and usage), a
    turn that failed (`error`), or a background run it started (`run_id`)."""

    agent_id: str | None = None
    own_seqs: list[int] = Field(default_factory=list)
    first_seq: int | None = None
    """Where the turn's records (inputs included) start in the agent's history."""
    stop_reason: str | None = None
    reached: int | None = None
    usage: list[int] = Field(default_factory=list)
    """step_count, prompt_tokens, completion_tokens."""
    error: str | None = None
    run_id: str | None = None
    end: int | None = None
    """The position after the turn: steps taken inside it (a broadcast's workers) are
    skipped on replay too, so later steps keep their numbers."""


class SendJournal(LazyModel):
    """The steps a keyed send (a Run, or a send with an idempotency key) committed, by
    position, written with the group in the same atomic writes as the steps themselves.
    `baseline`: each speaker's next message seq when the send began, so what an interrupted
    turn left behind can be told apart."""

    key: str
    baseline: dict[str, int] = Field(default_factory=dict)
    entries: dict[int, JournalEntry] = Field(default_factory=dict)


class GroupRecord(Record, Group):
    """A group is stored as it is shown, plus the record envelope and its send state."""

    KIND: ClassVar[str] = "group"
    FILTERABLE: ClassVar[Filterable] = {"manager_type": (Equals,), "project_id": (Equals,)}

    # Transcript: children numbered from 1; a reset moves `transcript_start_seq` past them.
    next_transcript_seq: int = 1
    transcript_start_seq: int = 1
    seen: dict[str, int] = Field(default_factory=dict)
    """Per member, the last transcript seq it has been given, so each sees things once."""
    owner_agent_id: str | None = None
    """Set on the group `enable_sleeptime` creates: it is deleted with that agent."""
    last_processed_seq: int | None = None
    """The transcript seq of `last_processed_message_id` (read by key, not by index)."""
    lease_id: str | None = None
    lease_expires_at: datetime | None = None
    """While a send holds the lease, other sends to the group are refused (409)."""
    journal: SendJournal | None = None
    """The keyed send holding (or last holding, if it died) the lease: what it committed."""

    def agent_ids_with_manager(self) -> list[str]:
        """Members in speaking order, then the manager if it is not one of them."""
        ids = list(self.agent_ids)
        if self.manager_agent_id and self.manager_agent_id not in ids:
            ids.append(self.manager_agent_id)
        return ids


class ChildRecord(Record):
    """A record that lives in order under a parent (an agent's messages, a group's
    transcript): `seq` is its position, unique and increasing within the parent."""

    PARENT_KIND: ClassVar[str]

    parent_id: str
    seq: int


class StepFacts(LazyModel):
    """What the model step behind an assistant message used and how it ended, for
    `GET /v1/runs/{run_id}/steps`: the model handle, its tokens, and the stop reason when
    the step ended its agent's turn (None while the turn went on)."""

    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    stop_reason: str | None = None


class MessageRecord(ChildRecord):
    """One stored message of an agent's conversation, in provider-neutral form.

    An assistant message holds one model step: its reasoning, text and tool calls. It is
    rendered to several typed Letta messages (reasoning, tool call, assistant), each with an
    id derived from the record's (core.message_parts), so a page may end between them.
    """

    KIND: ClassVar[str] = "message"
    PARENT_KIND: ClassVar[str] = "agent"

    role: Role
    text: str | None = None
    content: list[dict[str, Any]] | None = None
    """User content parts (text and images) when the input was not plain text."""
    reasoning: dict[str, Any] | None = None
    tool_calls: list[dict[str, str]] = Field(default_factory=list)
    approval_call_ids: list[str] = Field(default_factory=list)
    """Calls that wait for a human decision (rendered as approval requests). While any do,
    none of the step's calls has run; the others run when the decision arrives."""
    tool_call_id: str | None = None
    tool_name: str | None = None
    tool_status: str | None = None
    approvals: list[dict[str, Any]] | None = None
    name: str | None = None
    sender_id: str | None = None
    otid: str | None = None
    step_id: str | None = None
    run_id: str | None = None
    group_id: str | None = None
    send_key: str | None = None
    """The keyed group send that saved it: a resumed send sets aside only its own records
    (core.groups.journal), never a member's copies from a direct chat meanwhile."""
    is_err: bool | None = None
    step: StepFacts | None = None
    """On the assistant message of a model step (records saved before it existed have none)."""


class TranscriptRecord(MessageRecord):
    """One entry of a group's shared transcript: the user's input or a member's message,
    with the same id as the member's own copy."""

    KIND: ClassVar[str] = "transcript"
    PARENT_KIND: ClassVar[str] = "group"


RunStatus = Literal["created", "running", "completed", "failed", "cancelled"]
RUN_FINISHED: frozenset[str] = frozenset({"completed", "failed", "cancelled"})


class RunRecord(Record):
    """A unit of background work on one agent (a sleeptime agent's pass, for instance).

    `job` says what to run and is opaque to the run machinery: its `kind` picks the handler
    registered with RunService, the rest is that handler's business. `first_seq`/`last_seq`
    bound the agent's messages the run produced: `first_seq` is the agent's next message seq
    when the run starts (a lower bound while it runs), both are set to the produced range
    when it finishes (None when it produced nothing).
    """

    KIND: ClassVar[str] = "run"
    FILTERABLE: ClassVar[Filterable] = {
        "agent_id": (Equals, OneOf),
        "status": (Equals, OneOf),
        "stop_reason": (Equals,),
        "background": (IsTrue, IsFalse),
        "group_id": (Equals,),
    }

    agent_id: str
    status: RunStatus = "created"
    stop_reason: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    background: bool = True
    metadata: dict[str, Any] = Field(default_factory=dict)
    job: dict[str, Any] = Field(default_factory=dict)
    first_seq: int | None = None
    last_seq: int | None = None
    error: str | None = None
    """Why a failed run failed (kept for operators; not shown on the wire)."""
    step_count: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    callback_url: str | None = None
    callback_sent_at: datetime | None = None
    callback_status_code: int | None = None
    callback_error: str | None = None
    attempts: int = 0
    """How many deliveries started it; a redelivered `running` run resumes (a worker died)."""
    logged: bool = False
    """The run's messages are its own log (RunMessageRecord children: a group send's, which
    come from several agents), not a range of its agent's history."""

    def filterable_value(self, field: str) -> object:
        """The group a run works for is in its metadata."""
        if field == "group_id":
            value = self.metadata.get("group_id")
            return value if isinstance(value, str) else None
        return super().filterable_value(field)


class RunMessageRecord(MessageRecord):
    """One message a logged run showed, in the order shown (`seq`), with its own id."""

    KIND: ClassVar[str] = "run_message"
    PARENT_KIND: ClassVar[str] = "run"


class IdempotencyRecord(Record):
    """A send made with an idempotency key: running while `status` is running, then the
    response every retry with the same key gets."""

    KIND: ClassVar[str] = "idempotency"

    status: Literal["running", "done"] = "running"
    fingerprint: str
    response: dict[str, Any] | None = None
    running_until: datetime | None = None


class ApiKeyRecord(Record):
    """An API key, stored under the SHA-256 of its text (the id) and never as the text: a
    copy of the table opens nothing. Every key lives in one partition no tenant can name
    (core.services.api_keys.KEY_TENANT), so a request's key is found by one read of its
    hash, without knowing its tenant first."""

    KIND: ClassVar[str] = "api_key"
    FILTERABLE: ClassVar[Filterable] = {"tenant": (Equals,)}

    tenant: str
    """The tenant the key opens."""
    prefix: str
    """The key's first characters, shown by listings so an operator can tell keys apart."""
    name: str | None = None
    revoked_at: datetime | None = None
    """Set by revocation; the key opens nothing from then on (kept for the listing)."""
