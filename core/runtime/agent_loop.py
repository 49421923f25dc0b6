"""The agent step loop: build the context, call the model, run tools, until the agent yields.

One turn = the steps an agent takes to answer what it was just given. Each step is
committed atomically on its own (its messages, the memory it edited, the agent's message
counter), so a failure mid-turn keeps every finished step and half-writes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core import ids
from core.errors import BadRequestError, NotFoundError
from core.llm import (
    ChatRequest,
    ChatResponse,
    ModelClient,
    ModelError,
    Reasoning,
    ToolCall,
    ToolSpec,
    complete_with_deltas,
)
from core.model_handles import parse_handle
from core.persistence.retry import optimistic
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store
from core.records import AgentRecord, BlockRecord, MessageRecord
from core.runtime import conversation
from core.runtime.compaction import Compactor
from core.runtime.memory import ToolError, render_memory
from core.runtime.rules import RuleBook
from core.runtime.tools import (
    InvalidToolCall,
    ToolContext,
    execute,
    parse_arguments,
    tool_specs,
)
from core.runtime.usage import UsageTally
from core.schemas.messages import ApprovalCreate, ToolReturn

logger = logging.getLogger(__name__)

REPLY_TOOL_AGENT_TYPES = {"memgpt_agent", "memgpt_v2_agent", "voice_convo_agent"}
"""Agent types that answer through send_message; their plain text is inner thought."""

CONTEXT_MESSAGES = 100
"""Most messages a context holds; past that the older half is summarised."""
CONTEXT_READ = 150
"""How many recent messages are read to build a context (more than CONTEXT_MESSAGES, so
everything in context is read when compaction summarises it)."""

MEMORY_EDITING_TOOLS = frozenset(
    {
        "core_memory_append",
        "core_memory_replace",
        "memory_insert",
        "memory_replace",
        "memory_rethink",
    }
)
COMMIT_CHUNK = 80
"""Records per write, leaving room under DynamoDB's 100-item transactions."""


@dataclass(frozen=True)
class TurnOptions:
    max_steps: int = 50
    enable_thinking: bool = True
    override_model: str | None = None
    run_id: str | None = None
    group_id: str | None = None
    extra_tools: tuple[ToolSpec, ...] = ()
    broadcast: Callable[[str], str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    on_step: Callable[[list[MessageRecord]], None] | None = None
    """Called with each step's saved records as soon as they are saved (for streaming)."""
    on_delta: Callable[[str, str, str], None] | None = None
    """`on_delta(message_id, kind, text)`: pieces of a reply while the model produces them
    (stream_tokens); the saved message later has that id."""


@dataclass
class TurnResult:
    agent: AgentRecord
    messages: list[MessageRecord]
    stop_reason: str
    usage: UsageTally


@dataclass
class _StepOutcome:
    records: list[MessageRecord]
    stop_reason: str | None


class AgentLoop:
    def __init__(self, store: Store, clock: Clock, model: ModelClient) -> None:
        self._store = store
        self._clock = clock
        self._model = model
        self._compactor = Compactor(store, clock, model, max_messages=CONTEXT_MESSAGES)

    def run(
        self,
        tenant: str,
        agent_id: str,
        inputs: list[MessageRecord],
        options: TurnOptions,
    ) -> TurnResult:
        """Take `inputs` (unsaved records) through the agent until it yields."""
        agent = self._store.get(tenant, AgentRecord, agent_id)
        if agent is None:
            raise NotFoundError(f"Agent not found: {agent_id}")
        tally = UsageTally(agent.id, agent.name)
        produced: list[MessageRecord] = []
        history = self._recent(tenant, agent)
        pending = list(inputs)
        rules = RuleBook(agent.tool_rules or [])
        stop_reason = "max_steps"
        for step_number in range(options.max_steps):
            blocks = self._store.get_many(tenant, BlockRecord, agent.block_ids)
            system = system_prompt(agent, [blocks[b] for b in agent.block_ids if b in blocks])
            compacted = self._compactor.maybe_compact(
                tenant, agent, system, history, pending, tally
            )
            if compacted is not None:
                agent = compacted.agent
                produced.extend(compacted.messages)
                if options.on_step is not None:
                    options.on_step(compacted.messages)
                history = compacted.kept
                system = system_prompt(agent, [blocks[b] for b in agent.block_ids if b in blocks])
            step_id = ids.new_id(ids.STEP)
            message_id = ids.new_id(ids.MESSAGE)
            response = self._call_model(
                agent, system, history + pending, rules, step_number, options, message_id
            )
            if isinstance(response, ModelError):
                error = self._error_record(agent, step_id, response, options)
                outcome = _StepOutcome([error], response.stop_reason)
            else:
                tally.add(response.usage)
                outcome = self._apply(tenant, agent, response, step_id, rules, options, message_id)
            if outcome.stop_reason is None and step_number == options.max_steps - 1:
                outcome.stop_reason = "max_steps"
            committed, agent = self._commit(tenant, agent, pending, outcome, options)
            produced.extend(committed)
            if options.on_step is not None:
                options.on_step(committed)
            history = (history + committed)[-CONTEXT_READ:]
            pending = []
            if outcome.stop_reason is not None:
                stop_reason = outcome.stop_reason
                break
        return TurnResult(agent, produced, stop_reason, tally)

    def approval_records(
        self, tenant: str, agent: AgentRecord, approval: ApprovalCreate, options: TurnOptions
    ) -> list[MessageRecord]:
        """The records that answer a pending approval: the decision, then one tool result per
        call (run if approved, an error if denied, or the caller's own result)."""
        if agent.pending_approval_id is None:
            raise BadRequestError(f"Agent {agent.id} has no tool call waiting for approval.")
        request = self._store.find_child(tenant, MessageRecord, agent.pending_approval_id)
        if request is None:
            raise BadRequestError("The pending approval request no longer exists.")
        if approval.approval_request_id not in (None, request.id):
            raise BadRequestError(
                f"approval_request_id {approval.approval_request_id!r} is not the pending "
                f"request {request.id!r}."
            )
        decisions = {a.tool_call_id: a for a in approval.approvals or []}
        records = [
            MessageRecord(
                **self._base(agent, "approval", None, options),
                approvals=[a.model_dump(mode="json") for a in approval.approvals or []]
                or [
                    {
                        "type": "approval",
                        "tool_call_id": c["id"],
                        "approve": approval.approve,
                        "reason": approval.reason,
                    }
                    for c in request.tool_calls
                ],
            )
        ]
        for call in request.tool_calls:
            tool_call = ToolCall(call["id"], call["name"], call["arguments"])
            decision = decisions.get(call["id"])
            if call["id"] not in request.approval_call_ids:
                result, status = self._approved(tenant, agent, tool_call, options)
            elif isinstance(decision, ToolReturn):
                result, status = decision.tool_return, decision.status
            elif decision is None and approval.approve is None:
                raise BadRequestError(f"No decision given for tool call {call['id']!r}.")
            elif decision.approve if decision is not None else approval.approve:
                result, status = self._approved(tenant, agent, tool_call, options)
            else:
                reason = (decision.reason if decision is not None else approval.reason) or ""
                result, status = f"The user denied this tool call. {reason}".strip(), "error"
            records.append(self._tool_record(agent, tool_call, result, status, None, options))
        return records

    def _approved(
        self, tenant: str, agent: AgentRecord, call: ToolCall, options: TurnOptions
    ) -> tuple[str, str]:
        allowed = list(dict.fromkeys([*agent.tool_names, *(t.name for t in options.extra_tools)]))
        try:
            arguments = parse_arguments(call, allowed)
        except InvalidToolCall as exc:
            return str(exc), "error"
        return self._run_tool(tenant, agent, call.name, arguments, options)

    # -- steps ---------------------------------------------------------------------------

    def _recent(self, tenant: str, agent: AgentRecord) -> list[MessageRecord]:
        newest = self._store.children(
            tenant,
            MessageRecord,
            agent.id,
            limit=CONTEXT_READ,
            after_seq=agent.context_start_seq - 1,
            newest_first=True,
        )
        return list(reversed(newest))

    def _call_model(
        self,
        agent: AgentRecord,
        system: str,
        records: list[MessageRecord],
        rules: RuleBook,
        step_number: int,
        options: TurnOptions,
        message_id: str,
    ) -> ChatResponse | ModelError:
        handle = options.override_model or agent.model
        provider, model = parse_handle(handle)
        allowed = rules.allowed_tools(agent.tool_names, step_number)
        specs = [*tool_specs(allowed), *options.extra_tools]
        request = ChatRequest(
            provider=provider,
            model=model,
            system=system,
            messages=tuple(conversation.to_chat(records)),
            tools=tuple(specs),
            tool_choice="required" if rules.must_call_tool(step_number) else "auto",
            enable_thinking=options.enable_thinking,
            max_tokens=agent.llm_config.get("max_tokens"),
            temperature=agent.llm_config.get("temperature"),
            metadata={
                "agent_id": agent.id,
                "agent_name": agent.name,
                "agent_type": agent.agent_type,
                **options.metadata,
            },
        )
        listener = options.on_delta
        thinks_in_text = agent.agent_type in REPLY_TOOL_AGENT_TYPES

        def on_delta(kind: str, text: str) -> None:
            # Text of an agent that replies through send_message is its inner thought.
            shown = "reasoning" if thinks_in_text and kind == "text" else kind
            if listener is not None:
                listener(message_id, shown, text)

        try:
            return complete_with_deltas(
                self._model, request, on_delta if listener is not None else None
            )
        except ModelError as error:
            return error

    def _apply(
        self,
        tenant: str,
        agent: AgentRecord,
        response: ChatResponse,
        step_id: str,
        rules: RuleBook,
        options: TurnOptions,
        message_id: str,
    ) -> _StepOutcome:
        """Turn one model response into records; run its tools (unless approval is due)."""
        assistant = self._assistant_record(agent, response, step_id, options)
        assistant.id = message_id  # the id its streamed pieces already carried
        records = [assistant]
        if not response.tool_calls:
            return _StepOutcome(records, "end_turn")
        allowed = list(dict.fromkeys([*agent.tool_names, *(t.name for t in options.extra_tools)]))
        waiting = [c.id for c in response.tool_calls if rules.requires_approval(c.name)]
        if waiting:
            assistant.approval_call_ids = waiting
            return _StepOutcome(records, "requires_approval")
        stop: str | None = None
        for call in response.tool_calls:
            try:
                arguments = parse_arguments(call, allowed)
            except InvalidToolCall as exc:
                records.append(self._tool_record(agent, call, str(exc), "error", step_id, options))
                return _StepOutcome(records, "invalid_tool_call")
            result, status = self._run_tool(tenant, agent, call.name, arguments, options)
            records.append(self._tool_record(agent, call, result, status, step_id, options))
            rules.record_call(call.name)
            if rules.ends_turn(call.name, agent.agent_type in REPLY_TOOL_AGENT_TYPES):
                stop = "end_turn"
        return _StepOutcome(records, stop)

    def _run_tool(
        self,
        tenant: str,
        agent: AgentRecord,
        name: str,
        arguments: dict[str, Any],
        options: TurnOptions,
    ) -> tuple[str, str]:
        """Run a tool against fresh state and commit its memory edits, retrying races."""
        if name not in MEMORY_EDITING_TOOLS:
            return self._run_stateless_tool(tenant, agent, name, arguments, options)

        def edit(_: int) -> tuple[str, str]:
            uow = UnitOfWork(self._store, tenant, self._clock)
            current = uow.load(AgentRecord, agent.id)
            blocks = uow.load_existing(BlockRecord, current.block_ids)
            context = ToolContext(
                blocks=blocks,
                touched=set(),
                search=lambda q, n: self._search(tenant, agent.id, q, n),
                broadcast=options.broadcast,
            )
            try:
                result = execute(name, arguments, context)
            except ToolError as exc:
                return str(exc), "error"
            except Exception as exc:  # noqa: BLE001 - a tool failure goes back to the model
                logger.exception("tool %s failed", name)
                return f"Tool {name!r} failed: {type(exc).__name__}.", "error"
            for block in blocks:
                if block.id in context.touched:
                    uow.touch(block)
            uow.commit()
            return result, "success"

        return optimistic(edit, what=f"the memory of agent {agent.id}")

    def _run_stateless_tool(
        self,
        tenant: str,
        agent: AgentRecord,
        name: str,
        arguments: dict[str, Any],
        options: TurnOptions,
    ) -> tuple[str, str]:
        """Tools that change no stored state need no reads or writes of their own."""
        context = ToolContext(
            blocks=[],
            touched=set(),
            search=lambda q, n: self._search(tenant, agent.id, q, n),
            broadcast=options.broadcast,
        )
        try:
            return execute(name, arguments, context), "success"
        except ToolError as exc:
            return str(exc), "error"
        except Exception as exc:  # noqa: BLE001 - a tool failure goes back to the model
            logger.exception("tool %s failed", name)
            return f"Tool {name!r} failed: {type(exc).__name__}.", "error"

    def _search(self, tenant: str, agent_id: str, query: str, limit: int) -> list[str]:
        needle = query.lower()
        hits = []
        for record in self._store.children(
            tenant, MessageRecord, agent_id, limit=500, newest_first=True
        ):
            if (
                record.role in ("user", "assistant")
                and record.text
                and needle in record.text.lower()
            ):
                hits.append(f"[{record.created_at.isoformat()}] {record.role}: {record.text}")
            if len(hits) >= limit:
                break
        return hits

    def _commit(
        self,
        tenant: str,
        known: AgentRecord,
        pending: list[MessageRecord],
        outcome: _StepOutcome,
        options: TurnOptions,
    ) -> tuple[list[MessageRecord], AgentRecord]:
        """Number and save the step's messages with the agent's counter. The step's own
        records are one atomic write; a long run of inputs before them (a member catching up
        on a group) is saved first, in writes that each fit a transaction."""
        agent = known
        for start in range(0, len(pending), COMMIT_CHUNK):
            agent = self._save(tenant, agent, pending[start : start + COMMIT_CHUNK], None)
        agent = self._save(tenant, agent, outcome.records, outcome)
        return [*pending, *outcome.records], agent

    def _save(
        self,
        tenant: str,
        known: AgentRecord,
        records: list[MessageRecord],
        outcome: _StepOutcome | None,
    ) -> AgentRecord:
        """One atomic write of records and the agent's counter. The first try starts from
        the copy the turn holds (saving a read); a lost race reads the agent again."""

        def write(attempt: int) -> AgentRecord:
            uow = UnitOfWork(self._store, tenant, self._clock)
            if attempt == 0:
                agent = uow.track(AgentRecord, known.model_copy(deep=True))
            else:
                agent = uow.load(AgentRecord, known.id)
            for offset, record in enumerate(records):
                record.parent_id = agent.id
                record.seq = agent.next_message_seq + offset
                uow.add(record)
            agent.next_message_seq += len(records)
            if any(r.role == "approval" for r in records):
                agent.pending_approval_id = None
            if outcome is not None and outcome.stop_reason == "requires_approval":
                agent.pending_approval_id = outcome.records[0].id
            if outcome is not None and outcome.stop_reason is not None:
                agent.echoed["last_stop_reason"] = outcome.stop_reason
            uow.touch(agent)
            uow.commit()
            return agent

        return optimistic(write, what=f"agent {known.id}")

    # -- records -------------------------------------------------------------------------

    def _base(
        self, agent: AgentRecord, role: str, step_id: str | None, options: TurnOptions
    ) -> dict[str, Any]:
        return {
            "id": ids.new_id(ids.MESSAGE),
            "created_at": self._clock.now(),
            "parent_id": agent.id,
            "seq": 0,
            "role": role,
            "name": agent.name,
            "sender_id": agent.id,
            "step_id": step_id,
            "run_id": options.run_id,
            "group_id": options.group_id,
        }

    def _assistant_record(
        self, agent: AgentRecord, response: ChatResponse, step_id: str, options: TurnOptions
    ) -> MessageRecord:
        reasoning = response.reasoning
        text = response.text
        thinking_aloud = agent.agent_type in REPLY_TOOL_AGENT_TYPES and response.tool_calls
        if thinking_aloud and text and (reasoning is None or not reasoning.text):
            # Text beside a tool call of an agent that replies through send_message is its
            # inner thought, not its reply.
            reasoning = Reasoning(text=text, native=False)
            text = None
        return MessageRecord(
            **self._base(agent, "assistant", step_id, options),
            text=text,
            reasoning=_reasoning_dict(reasoning),
            tool_calls=[
                {"id": c.id, "name": c.name, "arguments": c.arguments} for c in response.tool_calls
            ],
        )

    def _tool_record(
        self,
        agent: AgentRecord,
        call: ToolCall,
        result: str,
        status: str,
        step_id: str | None,
        options: TurnOptions,
    ) -> MessageRecord:
        return MessageRecord(
            **self._base(agent, "tool", step_id, options),
            text=result,
            tool_call_id=call.id,
            tool_name=call.name,
            tool_status=status,
            is_err=True if status == "error" else None,
        )

    def _error_record(
        self, agent: AgentRecord, step_id: str, error: ModelError, options: TurnOptions
    ) -> MessageRecord:
        return MessageRecord(
            **self._base(agent, "assistant", step_id, options),
            text=f"The model call failed ({error.stop_reason}): {error.detail}",
            is_err=True,
        )


def system_prompt(agent: AgentRecord, blocks: list[BlockRecord]) -> str:
    parts = [agent.system, render_memory(blocks)]
    if agent.summary:
        parts.append(f"<conversation_summary>\n{agent.summary}\n</conversation_summary>")
    return "\n\n".join(parts)


def _reasoning_dict(reasoning: Any) -> dict[str, Any] | None:
    if reasoning is None:
        return None
    return {
        "text": reasoning.text,
        "native": reasoning.native,
        "signature": reasoning.signature,
        "redacted_data": reasoning.redacted_data,
        "omitted": reasoning.omitted,
    }


def tool_call_arguments(arguments: str) -> dict[str, Any]:
    """Arguments as a dict when they parse, else empty (for rendering only)."""
    try:
        value = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
