"""Members hold their group's conversation, as in Letta: a member's messages filtered by the
group list the whole exchange, a direct message to a member afterwards has it in context,
and a reset removes it from all of them and nothing else."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any

from fastapi.testclient import TestClient

from core.ports import Change, Store
from handler.app import create_app
from handler.composition import build_services, build_store
from infra.settings import Settings
from tests.conftest import Api
from tests.fakes import RecordingModel


def _texts(messages: list[dict[str, Any]]) -> list[str]:
    return [
        str(m.get("content"))
        for m in messages
        if m["message_type"] in ("user_message", "assistant_message")
    ]


def test_members_hold_the_exchange_and_a_reset_takes_only_it(api: Api) -> None:
    ann, bob, cid = (api.agent(n)["id"] for n in ("ann", "bob", "cid"))
    group = api.group([ann, bob, cid])["id"]
    sent = api.ok("POST", f"/v1/groups/{group}/messages", json={"input": "plan the trip"})
    exchange = _texts(sent["messages"])
    assert len(exchange) == 3

    for member in (ann, bob, cid):
        held = api.ok(
            "GET",
            f"/v1/agents/{member}/messages",
            params={"group_id": group, "order": "asc", "limit": 100},
        )
        assert _texts(held) == ["plan the trip", *exchange]
    outsider = api.agent("dee")["id"]
    assert api.ok("GET", f"/v1/agents/{outsider}/messages", params={"group_id": group}) == []

    # ann spoke first; asked directly, she is given what bob and cid said after her.
    api.ok("POST", f"/v1/agents/{ann}/messages", json={"input": "what did they say?"})
    history = api.ok("GET", f"/v1/agents/{ann}/messages", params={"order": "asc", "limit": 100})
    said = _texts(history)
    asked = said.index("what did they say?")
    assert all(any(reply in text for text in said[:asked]) for reply in exchange[1:])
    direct = said[asked:]

    api.ok("PATCH", f"/v1/groups/{group}/reset-messages")
    for member in (ann, bob, cid):
        held = api.ok("GET", f"/v1/agents/{member}/messages", params={"group_id": group})
        assert held == []
    left = _texts(
        api.ok("GET", f"/v1/agents/{ann}/messages", params={"order": "asc", "limit": 100})
    )
    assert left == direct  # her direct chat stays, the group's part is gone
    assert api.ok("GET", f"/v1/agents/{bob}/messages", params={"limit": 100}) == []


class MeetingStore:
    """The store, except that once `meet` is called the first write of each of two threads
    waits for the other's: both sends have read what the member was not given yet before
    either saves anything, the race a direct chat must not answer with two copies."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._barrier: threading.Barrier | None = None
        self._waited: set[int] = set()

    def meet(self) -> None:
        self._barrier = threading.Barrier(2, timeout=10)

    def write(self, tenant: str, changes: Sequence[Change]) -> None:
        me = threading.get_ident()
        if self._barrier is not None and me not in self._waited:
            self._waited.add(me)
            with contextlib.suppress(threading.BrokenBarrierError):
                self._barrier.wait()
        self._store.write(tenant, changes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_two_direct_sends_at_once_give_a_member_each_group_message_once(
    settings: Settings,
) -> None:
    store = MeetingStore(build_store(settings))
    services = build_services(settings, store=store)  # type: ignore[arg-type]
    with TestClient(create_app(services)) as client:
        api = Api(client)
        ann, bob = (api.agent(n)["id"] for n in ("ann", "bob"))
        group = api.group([ann, bob])["id"]
        sent = api.ok("POST", f"/v1/groups/{group}/messages", json={"input": "plan the trip"})
        bob_said = _texts(sent["messages"])[-1]  # said after ann spoke: news for her

        store.meet()
        answers: list[int] = []

        def ask(question: str) -> None:
            with TestClient(create_app(services)) as own:
                answer = own.post(f"/v1/agents/{ann}/messages", json={"input": question})
                answers.append(answer.status_code)

        askers = [threading.Thread(target=ask, args=(q,)) for q in ("first?", "second?")]
        for asker in askers:
            asker.start()
        for asker in askers:
            asker.join()
        assert answers == [200, 200]

        history = api.ok("GET", f"/v1/agents/{ann}/messages", params={"limit": 100})
        said = _texts(history)
        assert {"first?", "second?"} <= set(said)
        assert said.count(bob_said) == 1  # relayed to her once, not once per send


def test_a_run_lists_the_group_news_its_agent_was_given(api: Api, client: TestClient) -> None:
    ann, bob = (api.agent(n)["id"] for n in ("ann", "bob"))
    group = api.group([ann, bob])["id"]
    sent = api.ok("POST", f"/v1/groups/{group}/messages", json={"input": "plan the trip"})
    bob_said = _texts(sent["messages"])[-1]

    run = client.post(f"/v1/agents/{ann}/messages/async", json={"input": "news?"}).json()
    launcher = client.app.state.services.runs.launcher  # type: ignore[attr-defined]
    assert launcher.wait_idle(timeout=30)
    assert api.ok("GET", f"/v1/runs/{run['id']}")["status"] == "completed"

    listed = _texts(api.ok("GET", f"/v1/runs/{run['id']}/messages"))
    history = api.ok("GET", f"/v1/agents/{ann}/messages", params={"order": "asc", "limit": 100})
    tagged = _texts([m for m in history if m.get("run_id") == run["id"]])
    assert listed == tagged and tagged[0] == bob_said and "news?" in tagged


def test_news_is_shown_as_input_and_does_not_push_the_direct_chat_out(settings: Settings) -> None:
    """A big batch of news, from two groups (more copies than one context read), is the
    turn's input: the compactor never summarises it before the agent has seen it, and the
    direct conversation keeps its place in context."""
    model = RecordingModel()
    with TestClient(create_app(build_services(settings, model=model))) as client:
        api = Api(client)
        ann, bob = api.agent("ann")["id"], api.agent("bob")["id"]
        for n in range(25):
            api.ok("POST", f"/v1/agents/{ann}/messages", json={"input": f"direct-{n:02d}"})
        manager = {"manager_type": "round_robin", "max_turns": 1}
        for name in ("g1", "g2"):
            group = api.group([bob, ann], manager_config=manager)["id"]
            for n in range(40):  # only bob speaks: every input and reply is news for ann
                api.ok("POST", f"/v1/groups/{group}/messages", json={"input": f"{name}-{n:02d}"})
        model.requests.clear()
        api.ok("POST", f"/v1/agents/{ann}/messages", json={"input": "final?"})

    shown = "\n".join(str(m) for m in model.requests[-1].messages)
    relayed = {f"{g}-{n:02d}" for g in ("g1", "g2") for n in range(40)}
    assert {said for said in relayed if said in shown} == relayed  # 160 copies, all shown
    assert "direct-24" in shown  # the latest direct exchange is still in context
