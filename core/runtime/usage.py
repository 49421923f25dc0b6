"""Token and step accounting for one request, per agent and in total."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.llm import Usage
from core.schemas.messages import AgentUsage, LettaUsageStatistics


def _add(total: int | None, value: int | None) -> int | None:
    if value is None:
        return total
    return (total or 0) + value


@dataclass
class UsageTally:
    """Usage of one agent: LLM steps and the tokens every model call reported."""

    agent_id: str
    name: str
    step_count: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None

    def add(self, usage: Usage, *, step: bool = True) -> None:
        self.step_count += 1 if step else 0
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cached_input_tokens = _add(self.cached_input_tokens, usage.cached_input_tokens)
        self.cache_write_tokens = _add(self.cache_write_tokens, usage.cache_write_tokens)
        self.reasoning_tokens = _add(self.reasoning_tokens, usage.reasoning_tokens)

    def merge(self, other: UsageTally) -> None:
        self.step_count += other.step_count
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cached_input_tokens = _add(self.cached_input_tokens, other.cached_input_tokens)
        self.cache_write_tokens = _add(self.cache_write_tokens, other.cache_write_tokens)
        self.reasoning_tokens = _add(self.reasoning_tokens, other.reasoning_tokens)


@dataclass
class RequestUsage:
    """Usage of a whole request, kept per agent so `by_agent` sums exactly to the totals."""

    by_agent: dict[str, UsageTally] = field(default_factory=dict)
    run_ids: list[str] | None = None

    def tally(self, agent_id: str, name: str) -> UsageTally:
        if agent_id not in self.by_agent:
            self.by_agent[agent_id] = UsageTally(agent_id, name)
        return self.by_agent[agent_id]

    def to_wire(self, *, include_by_agent: bool = True) -> LettaUsageStatistics:
        total = UsageTally("", "")
        for tally in self.by_agent.values():
            total.merge(tally)
        by_agent = [
            AgentUsage(
                agent_id=t.agent_id,
                name=t.name,
                step_count=t.step_count,
                prompt_tokens=t.prompt_tokens,
                completion_tokens=t.completion_tokens,
                total_tokens=t.prompt_tokens + t.completion_tokens,
            )
            for t in self.by_agent.values()
        ]
        return LettaUsageStatistics(
            completion_tokens=total.completion_tokens,
            prompt_tokens=total.prompt_tokens,
            total_tokens=total.prompt_tokens + total.completion_tokens,
            step_count=total.step_count,
            run_ids=self.run_ids,
            cached_input_tokens=total.cached_input_tokens,
            cache_write_tokens=total.cache_write_tokens,
            reasoning_tokens=total.reasoning_tokens,
            by_agent=by_agent if include_by_agent else None,
        )
