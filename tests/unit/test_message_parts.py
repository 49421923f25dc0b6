"""core.message_parts and the part-by-part pages over it: each part of a stored message has
an id that leads back to its record, pages count parts, and records stored before part ids
(ids without zero low bits) still render with distinct ids and page by their own id."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from core import ids, message_parts
from core.errors import BadRequestError
from core.paging import PageRequest
from core.ports import Put
from core.records import MessageRecord
from core.runtime.rendering import RenderOptions, render, render_parts
from core.services.message_pages import page_of_messages
from tests.fakes import InMemoryStore

AGENT = "agent-00000000-0000-4000-8000-000000000000"
TENANT = "t"


def _legacy_id() -> str:
    """A message id as ids were made before part ids: random to the last digit."""
    while True:
        value = f"message-{uuid.uuid4()}"
        if not value.endswith("0000"):
            return value


def _step(record_id: str, seq: int, calls: int = 2, **fields: Any) -> MessageRecord:
    return MessageRecord(
        id=record_id,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        parent_id=AGENT,
        seq=seq,
        role="assistant",
        reasoning={"text": f"thinking {seq}"},
        text=f"reply {seq}",
        tool_calls=[
            {"id": f"call-{seq}-{k}", "name": "core_memory_append", "arguments": "{}"}
            for k in range(calls)
        ],
        step_id=f"step-{seq}",
        **fields,
    )


def _user(record_id: str, seq: int) -> MessageRecord:
    return MessageRecord(
        id=record_id,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        parent_id=AGENT,
        seq=seq,
        role="user",
        text=f"input {seq}",
    )


def _store(*records: MessageRecord) -> InMemoryStore:
    store = InMemoryStore()
    store.write(TENANT, [Put(r, None) for r in records])
    return store


def _page(store: InMemoryStore, options: RenderOptions | None = None, **page: Any) -> list[str]:
    request = PageRequest(**{"limit": 1000, **page})
    shown = page_of_messages(
        store, TENANT, MessageRecord, AGENT, request, options or RenderOptions()
    )
    return [m.id for m in shown]


def test_new_message_ids_leave_the_part_bits_zero() -> None:
    made = [ids.new_id(ids.MESSAGE) for _ in range(50)]
    assert all(ids.is_valid(ids.MESSAGE, m) and m.endswith("0000") for m in made)
    assert len(set(made)) == 50
    assert not all(ids.new_id(ids.RUN).endswith("0000") for _ in range(5))


@pytest.mark.parametrize(
    "record_id",
    [
        "message-3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f0000",  # as new ids are made
        "message-3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a13",  # as ids were made before
    ],
)
def test_each_part_has_its_own_valid_id_and_leads_back_to_its_record(record_id: str) -> None:
    parts = render_parts(_step(record_id, 1, calls=3), RenderOptions())
    shown = [p.message.id for p in parts]
    assert [p.message.message_type for p in parts] == [
        "reasoning_message",
        "assistant_message",
        "tool_call_message",
        "tool_call_message",
        "tool_call_message",
    ]
    assert len(set(shown)) == 5 and all(ids.is_valid(ids.MESSAGE, i) for i in shown)
    assert shown[1] == record_id  # the reply keeps the record's id
    assert all(message_parts.is_part_of(i, record_id) for i in shown)
    assert not message_parts.is_part_of(ids.new_id(ids.MESSAGE), record_id)
    if record_id.endswith("0000"):
        assert [message_parts.owners(i)[0] for i in shown] == [(record_id, p.slot) for p in parts]


def test_ranks_follow_the_order_parts_are_rendered_in() -> None:
    parts = render_parts(_step(ids.new_id(ids.MESSAGE), 1, calls=20), RenderOptions())
    ranks = [message_parts.rank(p.slot) for p in parts]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)


def test_a_summary_and_its_event_have_two_ids_and_the_event_names_the_summary() -> None:
    record = MessageRecord(
        id=ids.new_id(ids.MESSAGE),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        parent_id=AGENT,
        seq=1,
        role="summary",
        text="so far",
    )
    summary, event = render([record], RenderOptions())
    assert summary.id == record.id != event.id
    assert event.event_data == {"summary_message_id": record.id}  # type: ignore[union-attr]


def test_an_id_that_is_no_message_id_is_only_itself() -> None:
    assert message_parts.owners("not-an-id") == [("not-an-id", message_parts.MAIN)]
    with pytest.raises(BadRequestError):
        _page(_store(_user(ids.new_id(ids.MESSAGE), 1)), after="not-an-id")


@pytest.mark.parametrize("make_id", [lambda: ids.new_id(ids.MESSAGE), _legacy_id])
def test_pages_count_parts_and_cursors_resume_inside_a_record(make_id: Any) -> None:
    records = [_user(make_id(), 1), _step(make_id(), 2), _user(make_id(), 3)]
    store = _store(*records)
    every = _page(store)
    assert len(every) == 6
    assert _page(store, order="desc") == every[::-1]
    step = records[1].id
    assert _page(store, limit=2, after=step) == every[3:5]  # the reply, then the first call
    assert _page(store, limit=2, order="desc", after=step) == every[1:2][::-1] + every[:1]
    assert _page(store, limit=1, before=step) == every[1:2]  # the step's own reasoning
    if step.endswith("0000"):  # any part of a new record is a cursor
        assert _page(store, limit=2, after=every[1]) == every[2:4]
        assert _page(store, limit=9, before=every[4], after=every[1]) == every[2:4]


def test_a_part_id_the_record_does_not_render_is_not_a_cursor() -> None:
    step = _step(ids.new_id(ids.MESSAGE), 1, calls=1)
    store = _store(step)
    missing = message_parts.part_id(step.id, message_parts.tool_call_slot(5))
    with pytest.raises(BadRequestError):
        _page(store, after=missing)


def test_a_record_id_is_a_cursor_even_when_no_part_carries_it() -> None:
    """Ids handed out before parts had ids still page: the record's id sits after its
    reasoning, before its tool calls."""
    step = _step(ids.new_id(ids.MESSAGE), 2, calls=2, approval_call_ids=[])
    step.text = None
    store = _store(_user(ids.new_id(ids.MESSAGE), 1), step)
    every = _page(store)
    assert step.id not in every
    assert _page(store, after=step.id) == every[2:]


def test_filtered_pages_are_full_and_cursors_on_hidden_parts_still_work() -> None:
    records = [_step(ids.new_id(ids.MESSAGE), seq, calls=1) for seq in range(1, 6)]
    store = _store(*records)
    replies = RenderOptions(include_return_message_types=("assistant_message",))
    wanted = _page(store, replies)
    assert wanted == [r.id for r in records]
    assert _page(store, replies, limit=2) == wanted[:2]
    reasoning_of_third = _page(store)[6]
    assert _page(store, replies, limit=2, after=reasoning_of_third) == wanted[2:4]
