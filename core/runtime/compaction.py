"""Compaction: when the context would overflow, summarise its oldest part.

The summary is stored on the agent (it joins the system prompt) and as a summary message;
the summarised messages stay in the store but leave the model's context.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import ids
from core.llm import ChatMessage, ChatRequest, ModelClient, ModelError
from core.model_handles import parse_handle
from core.persistence.retry import optimistic
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store
from core.records import AgentRecord, MessageRecord
from core.runtime.conversation import conversation_tokens, estimate_tokens, to_chat
from core.runtime.usage import UsageTally

TRIGGER_FRACTION = 0.8
"""Compact once the estimated context passes this share of the model's window."""

SUMMARY_PROMPT = (
    "You summarise conversations for an agent whose context is full. Write a concise summary "
    "of the conversation below that keeps every fact, decision, open question and the names "
    "of who said what. Reply with the summary only."
)


@dataclass
class Compaction:
    agent: AgentRecord
    messages: list[MessageRecord]
    kept: list[MessageRecord]


class Compactor:
    def __init__(
        self, store: Store, clock: Clock, model: ModelClient, max_messages: int = 100
    ) -> None:
        self._store = store
        self._clock = clock
        self._model = model
        self._max_messages = max_messages

    def maybe_compact(
        self,
        tenant: str,
        agent: AgentRecord,
        system: str,
        history: list[MessageRecord],
        incoming: list[MessageRecord],
        tally: UsageTally,
    ) -> Compaction | None:
        """Summarise the older half of `history` when it, the system prompt and the
        `incoming` (not yet stored) messages together would not fit the window."""
        window = int(agent.llm_config.get("context_window") or 0)
        size = estimate_tokens(system) + conversation_tokens(to_chat(history + incoming))
        too_long = len(history) + len(incoming) > self._max_messages
        too_big = bool(window) and size > window * TRIGGER_FRACTION
        if not (too_long or too_big) or len(history) < 2:
            return None
        cut = _cut_point(history)
        if cut == 0:
            return None
        old, kept = history[:cut], history[cut:]
        summary = self._summarise(agent, old, tally)

        def write(_: int) -> Compaction:
            uow = UnitOfWork(self._store, tenant, self._clock)
            current = uow.load(AgentRecord, agent.id)
            record = MessageRecord(
                id=ids.new_id(ids.MESSAGE),
                created_at=self._clock.now(),
                parent_id=agent.id,
                seq=current.next_message_seq,
                role="summary",
                text=summary,
                name=agent.name,
                sender_id=agent.id,
            )
            current.next_message_seq += 1
            current.summary = summary
            current.context_start_seq = kept[0].seq if kept else record.seq
            uow.add(record)
            uow.touch(current)
            uow.commit()
            return Compaction(current, [record], kept)

        # The summary call is paid for: a write that keeps losing is a 409, not a silent skip.
        return optimistic(write, what=f"agent {agent.id}")

    def _summarise(self, agent: AgentRecord, old: list[MessageRecord], tally: UsageTally) -> str:
        lines = [f"Earlier summary: {agent.summary}"] if agent.summary else []
        lines += [f"{m.name or m.role} ({m.role}): {m.text}" for m in old if m.text]
        provider, model = parse_handle(agent.model)
        request = ChatRequest(
            provider=provider,
            model=model,
            system=SUMMARY_PROMPT,
            messages=(ChatMessage(role="user", text="\n".join(lines)),),
            task="summarize",
            metadata={"agent_name": agent.name},
        )
        try:
            response = self._model.complete(request)
        except ModelError:
            return "\n".join(lines)[-2000:]
        tally.add(response.usage, step=False)
        return response.text or "\n".join(lines)[-2000:]


def _cut_point(history: list[MessageRecord]) -> int:
    """Half the history, moved forward so the kept part starts at a user or assistant turn
    (never at a tool result separated from its call)."""
    cut = len(history) // 2
    while cut < len(history) and history[cut].role not in ("user",):
        cut += 1
    return cut if cut < len(history) else len(history) // 2
