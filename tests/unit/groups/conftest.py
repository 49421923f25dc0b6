"""A group harness on in-memory fakes: real services and engine, a model scripted per
agent (so parallel workers stay deterministic), background runs recorded, not run."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from core.groups.engine import GroupEngine
from core.llm import ChatRequest, ChatResponse, ModelError, Reasoning, ToolCall, Usage
from core.paging import PageRequest
from core.records import GroupRecord, MessageRecord, TranscriptRecord
from core.runtime.agent_loop import AgentLoop
from core.schemas.agents import CreateAgentRequest
from core.schemas.groups import GroupCreate
from core.schemas.messages import LettaMessageBase, LettaRequest, LettaResponse
from core.services.agents import AgentService
from core.services.group_messages import GroupMessageService
from core.services.groups import GroupService
from tests.fakes import FakeClock, InMemoryStore, RecordingMetrics

TENANT = "tenant-groups"

Step = ChatResponse | ModelError | Callable[[ChatRequest], ChatResponse]


def reply(text: str, thought: str | None = None, tokens: int = 10) -> ChatResponse:
    """A plain answer, with prompted reasoning when `thought` is given."""
    reasoning = Reasoning(text=thought) if thought else None
    return ChatResponse(text=text, reasoning=reasoning, usage=Usage(tokens, 2))


def call(tool: str, arguments: str, thought: str | None = None) -> ChatResponse:
    """A tool call (no text)."""
    reasoning = Reasoning(text=thought) if thought else None
    return ChatResponse(
        text=None,
        reasoning=reasoning,
        tool_calls=(ToolCall(f"call-{uuid.uuid4().hex[:8]}", tool, arguments),),
        usage=Usage(7, 3),
        finish_reason="tool_calls",
    )


class ModelByAgent:
    """Plays each agent's own script, in order, whatever the order agents are called in.

    `requests[name]` keeps every request an agent's model got, so tests assert exactly
    what each agent was shown."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[Step]] = {}
        self.requests: dict[str, list[ChatRequest]] = {}
        self.order: list[str] = []
        self._lock = threading.Lock()

    def script(self, name: str, *steps: Step) -> None:
        self.scripts.setdefault(name, []).extend(steps)

    def complete(self, request: ChatRequest) -> ChatResponse:
        name = str(request.metadata.get("agent_name"))
        with self._lock:
            self.requests.setdefault(name, []).append(request)
            self.order.append(name)
            script = self.scripts.get(name)
            if not script:
                raise AssertionError(f"{name} has no scripted step left")
            step = script.pop(0)
        if isinstance(step, ModelError):
            raise step
        return step(request) if callable(step) else step


@dataclass
class BackgroundRecorder:
    """core.ports.BackgroundRuns that records what would start."""

    started: list[dict[str, Any]] = field(default_factory=list)

    def start_turn(
        self,
        tenant: str,
        agent_id: str,
        text: str,
        *,
        task: str,
        group_id: str | None,
        metadata: dict[str, Any],
        run_id: str | None = None,
    ) -> str:
        if run_id is not None and any(s["run_id"] == run_id for s in self.started):
            return run_id
        run_id = run_id or f"run-{uuid.uuid4()}"
        self.started.append(
            {"run_id": run_id, "agent_id": agent_id, "text": text, "task": task, **metadata}
        )
        return run_id


@dataclass
class Groups:
    store: InMemoryStore
    model: ModelByAgent
    background: BackgroundRecorder
    agents: AgentService
    groups: GroupService
    messages: GroupMessageService
    metrics: RecordingMetrics
    clock: FakeClock

    def agent(self, name: str, **fields: Any) -> str:
        return self.agents.create(TENANT, CreateAgentRequest(name=name, **fields)).id

    def group(self, members: list[str], **manager: Any) -> str:
        manager.setdefault("manager_type", "round_robin")
        body = GroupCreate(agent_ids=members, description="test", manager_config=manager)
        return self.groups.create(TENANT, body).id

    def send(self, group_id: str, text: str = "hello team", **options: Any) -> LettaResponse:
        request = LettaRequest(messages=[{"role": "user", "content": text}], **options)
        return self.messages.send(TENANT, group_id, request)

    def transcript(self, group_id: str) -> list[TranscriptRecord]:
        return self.store.children(TENANT, TranscriptRecord, group_id, limit=1000)

    def history(self, agent_id: str) -> list[MessageRecord]:
        return self.store.children(TENANT, MessageRecord, agent_id, limit=1000)

    def group_record(self, group_id: str) -> GroupRecord:
        record = self.store.get(TENANT, GroupRecord, group_id)
        assert record is not None
        return record

    def listed(self, group_id: str) -> list[LettaMessageBase]:
        from core.runtime.rendering import RenderOptions

        page = PageRequest(limit=1000, order="asc")
        return self.messages.list(TENANT, group_id, page, RenderOptions())

    def seen_by(self, name: str, call_number: int = -1) -> list[tuple[str, str | None, str]]:
        """(role, speaker name, text) of what one model call of an agent was given."""
        request = self.model.requests[name][call_number]
        return [(m.role, m.name, m.text or "") for m in request.messages]


@pytest.fixture
def env() -> Groups:
    return make_groups()


G = TypeVar("G", bound=Groups)


def make_groups(store: InMemoryStore | None = None, kind: type[G] = Groups) -> G:
    """A fresh harness (a test that compares two worlds builds the second with this);
    `store`: another store (one that can die, for instance), `kind`: a harness with more."""
    store = store if store is not None else InMemoryStore()
    clock, model = FakeClock(), ModelByAgent()
    background = BackgroundRecorder()
    metrics = RecordingMetrics()
    loop = AgentLoop(store, clock, model, metrics)
    engine = GroupEngine(store, clock, loop, background=background, metrics=metrics)
    return kind(
        store=store,
        model=model,
        background=background,
        agents=AgentService(store, clock, "offline/default"),
        groups=GroupService(store, clock),
        messages=GroupMessageService(store, clock, engine),
        metrics=metrics,
        clock=clock,
    )


def speakers(response: LettaResponse) -> list[str | None]:
    """The name on each returned message, in order."""
    return [getattr(m, "name", None) for m in response.messages]


def kinds(response: LettaResponse) -> list[str]:
    return [m.message_type for m in response.messages]  # type: ignore[attr-defined]


def check_usage_sums(response: LettaResponse) -> None:
    """by_agent adds up exactly to the totals."""
    usage = response.usage
    assert usage.by_agent is not None
    assert sum(a.step_count for a in usage.by_agent) == usage.step_count
    assert sum(a.prompt_tokens for a in usage.by_agent) == usage.prompt_tokens
    assert sum(a.completion_tokens for a in usage.by_agent) == usage.completion_tokens
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
