"""What the model is shown each step: the system prompt with memory, and recent history.

Reads stay bounded (the newest CONTEXT_READ messages since the context start, whatever the
length of the history); when the context would overflow, the compactor summarises its
oldest part first.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from core.llm import ModelClient
from core.ports import Clock, Store
from core.records import AgentRecord, BlockRecord, MessageRecord
from core.runtime.compaction import Compactor
from core.runtime.memory import render_memory
from core.runtime.usage import UsageTally

CONTEXT_MESSAGES = 100
"""Most messages a context holds; past that the older half is summarised."""
CONTEXT_READ = 150
"""How many recent messages are read to build a context (more than CONTEXT_MESSAGES, so
everything in context is read when compaction summarises it)."""


def system_prompt(agent: AgentRecord, blocks: list[BlockRecord]) -> str:
    parts = [agent.system, render_memory(blocks)]
    if agent.summary:
        parts.append(f"<conversation_summary>\n{agent.summary}\n</conversation_summary>")
    return "\n\n".join(parts)


class BlockCache:
    """The memory blocks one send's agents read, kept for the send: read once, and again
    only after a memory edit of the send (an edit from elsewhere meanwhile reaches the
    send's next step at the latest after its next edit, and the next send surely)."""

    def __init__(self) -> None:
        self._blocks: dict[str, BlockRecord] = {}
        self._lock = threading.Lock()

    def get_many(self, store: Store, tenant: str, ids: list[str]) -> dict[str, BlockRecord]:
        with self._lock:
            known = dict(self._blocks)
        missing = [i for i in ids if i not in known]
        if missing:
            found = store.get_many(tenant, BlockRecord, missing)
            with self._lock:
                self._blocks.update(found)
            known.update(found)
        return {i: known[i] for i in ids if i in known}

    def forget(self) -> None:
        with self._lock:
            self._blocks.clear()


@dataclass
class StepContext:
    """The context of one step, after any compaction it needed."""

    agent: AgentRecord
    system: str
    history: list[MessageRecord]
    """Saved messages still in context, oldest first."""
    compacted: list[MessageRecord]
    """The summary records compaction saved for this step (usually none)."""


class ContextBuilder:
    def __init__(self, store: Store, clock: Clock, model: ModelClient) -> None:
        self._store = store
        self._compactor = Compactor(store, clock, model, max_messages=CONTEXT_MESSAGES)

    def recent(self, tenant: str, agent: AgentRecord, *, also: int = 0) -> list[MessageRecord]:
        """The agent's newest messages in context, oldest first: CONTEXT_READ of them, and
        `also` more (the caller's inputs saved just before, which it sets apart)."""
        newest = self._store.children(
            tenant,
            MessageRecord,
            agent.id,
            limit=CONTEXT_READ + also,
            after_seq=agent.context_start_seq - 1,
            newest_first=True,
        )
        return list(reversed(newest))

    def prepare(
        self,
        tenant: str,
        agent: AgentRecord,
        history: list[MessageRecord],
        pending: list[MessageRecord],
        tally: UsageTally,
        cache: BlockCache | None = None,
    ) -> StepContext:
        """Read the agent's memory (fresh: other agents may share its blocks; through the
        send's `cache` when it has one) and compact `history` when it and the `pending`
        inputs would not fit."""
        if cache is not None:
            blocks = cache.get_many(self._store, tenant, agent.block_ids)
        else:
            blocks = self._store.get_many(tenant, BlockRecord, agent.block_ids)

        def prompt(of: AgentRecord) -> str:
            return system_prompt(of, [blocks[b] for b in of.block_ids if b in blocks])

        system = prompt(agent)
        compaction = self._compactor.maybe_compact(tenant, agent, system, history, pending, tally)
        if compaction is None:
            return StepContext(agent, system, history, [])
        return StepContext(
            compaction.agent, prompt(compaction.agent), compaction.kept, compaction.messages
        )


def keep_recent(history: list[MessageRecord]) -> list[MessageRecord]:
    """The history a next step starts from: no longer than a context read."""
    return history[-CONTEXT_READ:]
