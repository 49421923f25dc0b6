"""The messages a run produced, read in pages.

An agent's run stores only the seq range it produced (its messages are the agent's,
numbered children of the agent), so its listing reads that range and keeps the run's own.
A logged run (a group send, whose messages come from several agents) reads its own log.
"""

from __future__ import annotations

from collections.abc import Iterator

from core.paging import PageRequest
from core.ports import Store
from core.records import RUN_FINISHED, MessageRecord, RunMessageRecord, RunRecord
from core.runtime.rendering import RenderOptions
from core.schemas.messages import LettaMessage
from core.services.message_pages import Children, message_page, page_of_messages

SCAN_CHUNK = 50


class RunMessages:
    def __init__(self, store: Store) -> None:
        self._store = store

    def tagged_seqs(self, tenant: str, run: RunRecord) -> list[int]:
        """Seqs of the messages tagged with this run since it started (a failed handler
        returns nothing, but the steps it finished are committed)."""
        if run.first_seq is None:
            return []
        return [
            m.seq
            for m in self._scan(tenant, run, run.first_seq - 1, None, newest_first=False)
            if m.run_id == run.id
        ]

    @staticmethod
    def _belongs(run: RunRecord, message: MessageRecord) -> bool:
        """In a finished run's range, untagged messages are its own (a handler's inputs
        need not carry the run id); while it runs, only tagged ones are known to be."""
        if message.run_id == run.id:
            return True
        return run.status in RUN_FINISHED and message.run_id is None

    @staticmethod
    def _window(run: RunRecord) -> tuple[int, int | None] | None:
        """Exclusive seq bounds of the run's messages, or None when it has none (yet)."""
        if run.first_seq is None:
            return None
        if run.status in RUN_FINISHED:
            return run.first_seq - 1, (run.last_seq or run.first_seq) + 1
        return run.first_seq - 1, None

    def after(self, tenant: str, run: RunRecord, seq: int, limit: int) -> list[MessageRecord]:
        """Up to `limit` of the run's messages after `seq` (their seq_id)."""
        if run.logged:
            return list(
                self._store.children(tenant, RunMessageRecord, run.id, limit=limit, after_seq=seq)
            )
        if run.first_seq is None:
            return []
        low = max(seq, run.first_seq - 1)
        high = (run.last_seq or run.first_seq) + 1 if run.status in RUN_FINISHED else None
        found: list[MessageRecord] = []
        for message in self._scan(tenant, run, low, high, newest_first=False):
            if self._belongs(run, message):
                found.append(message)
                if len(found) >= limit:
                    break
        return found

    def page(
        self, tenant: str, run: RunRecord, page: PageRequest, options: RenderOptions
    ) -> list[LettaMessage]:
        """One page of the run's rendered messages, cut part by part as every message
        listing is (core.services.message_pages)."""
        if run.logged:
            return page_of_messages(self._store, tenant, RunMessageRecord, run.id, page, options)
        bounds = self._window(run)
        if bounds is None:
            return []
        history = self._history(tenant, run)

        def read(low: int | None, high: int | None, newest_first: bool) -> Iterator[MessageRecord]:
            scan = history.read(low, high, newest_first)
            return (message for message in scan if self._belongs(run, message))

        return message_page(page, options, history.find, read, bounds)

    def _scan(
        self, tenant: str, run: RunRecord, low: int, high: int | None, *, newest_first: bool
    ) -> Iterator[MessageRecord]:
        """The agent's messages strictly between the seq bounds, in chunks."""
        return self._history(tenant, run).read(low, high, newest_first)

    def _history(self, tenant: str, run: RunRecord) -> Children[MessageRecord]:
        """The run's agent's history, which holds the run's messages among others."""
        return Children(self._store, tenant, MessageRecord, run.agent_id, SCAN_CHUNK)
