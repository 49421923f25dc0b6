"""A member messaged directly is given its groups' news once: the copies and the note that
they were given commit together, however the news is cut into writes and wherever the
process dies between them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from core.errors import RecordTooLargeError
from core.groups.catch_up import NOTE_BYTES, give_unseen
from core.groups.transcript import relay, relayed_id
from core.ports import Change, record_bytes
from core.records import AgentRecord
from tests.fakes import Killed
from tests.unit.groups.conftest import TENANT, Groups, reply


def _news_for_ann(env: Groups) -> tuple[str, str, list[str]]:
    """ann, her group, and the ids her copies of what bob and cid said after her get."""
    ann, bob, cid = env.agent("ann"), env.agent("bob"), env.agent("cid")
    group = env.group([ann, bob, cid])
    env.model.script("ann", reply("ann first"))
    env.model.script("bob", reply("bob second"))
    env.model.script("cid", reply("cid third"))
    env.send(group, "plan the trip")
    after_ann = [e for e in env.transcript(group) if e.sender_id in (bob, cid)]
    assert [e.text for e in after_ann] == ["bob second", "cid third"]
    return ann, group, [relayed_id(e.id, ann) for e in after_ann]


def _copies(env: Groups, ann: str, wanted: list[str]) -> list[str]:
    return [m.id for m in env.history(ann) if m.id in wanted]


def test_news_larger_than_one_write_is_given_in_several_each_entry_once(env: Groups) -> None:
    ann, group, wanted = _news_for_ann(env)
    # One write holds the agent, the group's note and a single copy.
    env.store.limits = replace(env.store.limits, max_changes_per_write=3)
    writes = env.store.writes

    saved, copies = give_unseen(
        env.store, env.clock, TENANT, env.store.get(TENANT, AgentRecord, ann)
    )

    assert env.store.writes - writes == 2
    assert _copies(env, ann, wanted) == wanted == [c.id for c in copies]
    assert env.group_record(group).seen[ann] == env.transcript(group)[-1].seq
    assert saved.next_message_seq == env.history(ann)[-1].seq + 1
    give_unseen(env.store, env.clock, TENANT, saved)
    assert env.store.writes - writes == 2  # nothing left to give: no write at all
    assert _copies(env, ann, wanted) == wanted


def test_a_process_dying_between_two_writes_loses_and_doubles_nothing(
    env: Groups, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann, _, wanted = _news_for_ann(env)
    env.store.limits = replace(env.store.limits, max_changes_per_write=3)
    real_write = env.store.write
    calls: list[int] = []

    def dies_on_the_second(tenant: str, changes: Sequence[Change]) -> None:
        calls.append(len(changes))
        if len(calls) == 2:
            raise Killed()
        real_write(tenant, changes)

    monkeypatch.setattr(env.store, "write", dies_on_the_second)
    with pytest.raises(Killed):
        give_unseen(env.store, env.clock, TENANT, env.store.get(TENANT, AgentRecord, ann))
    assert _copies(env, ann, wanted) == wanted[:1]  # the first write, copy and note together

    monkeypatch.setattr(env.store, "write", real_write)  # the next process
    give_unseen(env.store, env.clock, TENANT, env.store.get(TENANT, AgentRecord, ann))
    assert _copies(env, ann, wanted) == wanted


def test_a_write_is_measured_as_it_is_written(env: Groups) -> None:
    """Copies carry the run's id and their seq, and the group grows by its note: a write
    sized without them could exceed the store's limit on every retry."""
    ann, group, wanted = _news_for_ann(env)
    agent = env.store.get(TENANT, AgentRecord, ann)
    assert agent is not None
    # Just room for the agent, the group with its note, and one copy tagged with a run.
    env.store.limits = replace(env.store.limits, max_write_bytes=_one_copy_write(env, ann, group))
    _, copies = give_unseen(env.store, env.clock, TENANT, agent, run_id=RUN)
    assert [c.id for c in copies] == wanted
    assert {m.run_id for m in env.history(ann) if m.id in wanted} == {RUN}


def test_idle_groups_without_news_leave_room_for_those_with_news(env: Groups) -> None:
    ann, group, wanted = _news_for_ann(env)
    quiet = [env.group([ann]) for _ in range(6)]  # groups where nothing was said
    assert all(env.group_record(g).next_transcript_seq == 1 for g in quiet)
    env.store.limits = replace(env.store.limits, max_changes_per_write=4)
    give_unseen(env.store, env.clock, TENANT, env.store.get(TENANT, AgentRecord, ann))
    assert _copies(env, ann, wanted) == wanted


def test_news_too_large_for_any_write_is_an_error_not_a_silent_stop(env: Groups) -> None:
    ann, _, _ = _news_for_ann(env)
    env.store.limits = replace(env.store.limits, max_changes_per_write=2)  # agent + group
    with pytest.raises(RecordTooLargeError):
        give_unseen(env.store, env.clock, TENANT, env.store.get(TENANT, AgentRecord, ann))


RUN = "run-123e4567-e89b-42d3-8456-426614174000"


def _one_copy_write(env: Groups, ann: str, group: str) -> int:
    """The bytes of a write of ann, her group noted, and one run-tagged copy of news."""
    agent = env.store.get(TENANT, AgentRecord, ann)
    record = env.group_record(group)
    assert agent is not None
    entry = [e for e in env.transcript(group) if e.sender_id != ann and e.role != "user"][0]
    copy = relay([entry], ann, env.clock)[0]
    copy.run_id, copy.seq = RUN, agent.next_message_seq
    record.seen[ann] = entry.seq
    return record_bytes(agent) + record_bytes(record) + record_bytes(copy) + NOTE_BYTES
