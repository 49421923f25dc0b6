"""End-to-end CRUD scenario through the official `letta-client==1.7.0` SDK in strict mode.

Run it with the SDK's own virtualenv against a running server:

    .venv-sdk/bin/python tests/sdk/crud_scenario.py --base-url http://127.0.0.1:8283 [--api-key K]

It drives agents, blocks and groups (all five manager types) through create, retrieve, list
(every page, both orders, both cursors), modify and delete, exactly as a Letta user would, and
exits non-zero with a message naming the failed check. The client is built with
`_strict_response_validation=True`, so every single-object response is validated against the
SDK's pydantic models; list pages are not validated by the SDK (it only `construct`s them), so
list responses are additionally fetched and validated as `list[Model]` here. Routes the SDK has
no method for (`GET /v1/groups/count`, group block attach/detach) go through the same client's
low-level `get`/`patch`, so they get the same headers, base-URL handling and strict checks.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from letta_client import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    Letta,
    NotFoundError,
    UnprocessableEntityError,
)
from letta_client.types import AgentState, BlockResponse, Group

PAGE = 2  # small page size so every listing spans several pages
MAX_PAGES = 500  # a listing longer than this is taken as a pagination loop
UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
AGENT_INCLUDE = ["agent.blocks", "agent.tags", "agent.tools"]


class ScenarioFailure(Exception):
    """A check did not hold."""


class Checks:
    """Counts passed checks; the first failed one raises."""

    def __init__(self) -> None:
        self.passed = 0

    def true(self, condition: object, message: str) -> None:
        if not condition:
            raise ScenarioFailure(message)
        self.passed += 1

    def eq(self, actual: object, expected: object, what: str) -> None:
        self.true(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")

    def id_of(self, value: object, prefix: str, what: str) -> None:
        self.true(
            isinstance(value, str) and re.fullmatch(f"{prefix}-{UUID4}", value) is not None,
            f"{what}: {value!r} is not a '{prefix}-<uuid4>' id",
        )

    def raises(self, exc_type: type[Exception], call: Callable[[], object], what: str) -> Any:
        try:
            result = call()
        except exc_type as exc:
            self.passed += 1
            if isinstance(exc, APIStatusError):
                self.true(
                    isinstance(exc.body, dict) and "detail" in exc.body,
                    f"{what}: error body should be JSON {{'detail': ...}}, got {exc.body!r}",
                )
            return exc
        except APIStatusError as exc:
            raise ScenarioFailure(
                f"{what}: expected {exc_type.__name__}, got HTTP {exc.status_code} "
                f"{exc.response.request.method} {exc.response.request.url}: {exc.body!r}"
            ) from exc
        raise ScenarioFailure(f"{what}: expected {exc_type.__name__}, call returned {result!r}")


class Scenario:
    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.client = Letta(
            base_url=self.base_url,
            api_key=api_key,
            max_retries=0,  # surface the first error instead of a retried success
            timeout=30.0,
            _strict_response_validation=True,
        )
        self.raw = httpx.Client(base_url=self.base_url, timeout=30.0, follow_redirects=False)
        self.check = Checks()
        self.run = uuid.uuid4().hex[:8]
        self.tag = f"sdk-scenario-{self.run}"
        self.blocks: dict[str, BlockResponse] = {}
        self.agents: dict[str, AgentState] = {}
        self.groups: dict[str, Group] = {}
        self.deleted_groups: list[str] = []

    # ------------------------------------------------------------------ helpers

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def strict_list(self, path: str, model: type, params: dict[str, Any] | None = None) -> list:
        """GET a list route and validate every item strictly (the SDK's pages do not)."""
        return self.client.get(path, cast_to=list[model], options={"params": params or {}})

    def paginate(self, list_call: Callable[..., Any], what: str, **params: Any) -> list[str]:
        """Follow the SDK's auto-pagination with a small page; return the ids in order."""
        limit = params.pop("limit", PAGE)
        page = list_call(limit=limit, **params)
        ids: list[str] = []
        for number in range(1, MAX_PAGES + 1):
            items = page.items
            self.check.true(
                len(items) <= limit, f"{what}: page {number} has {len(items)} items > limit {limit}"
            )
            for item in items:
                self.check.true(
                    item.id not in ids,
                    f"{what}: page {number} repeats {item.id} (cursor `after`/`before` ignored "
                    "or not exclusive?)",
                )
                ids.append(item.id)
            if not page.has_next_page():
                return ids
            page = page.get_next_page()
        raise ScenarioFailure(f"{what}: pagination did not end within {MAX_PAGES} pages")

    def exactly_once(self, listed: list[str], expected: Iterable[str], what: str) -> list[str]:
        """Every expected id is listed exactly once; returns them in listed order."""
        expected = list(expected)
        for item_id in expected:
            self.check.eq(listed.count(item_id), 1, f"{what}: occurrences of {item_id}")
        return [i for i in listed if i in expected]

    def check_orders(self, list_call: Callable[..., Any], mine: list[str], what: str, **kw: Any):
        """Both orders list everything once; desc is asc reversed; both cursors work."""
        asc = self.paginate(list_call, f"{what} asc", order="asc", **kw)
        desc = self.paginate(list_call, f"{what} desc", order="desc", **kw)
        mine_asc = self.exactly_once(asc, mine, f"{what} asc")
        mine_desc = self.exactly_once(desc, mine, f"{what} desc")
        self.check.eq(mine_desc, list(reversed(mine_asc)), f"{what}: desc order vs reversed asc")
        self.check.eq(sorted(asc), sorted(desc), f"{what}: asc and desc list the same ids")
        # `after` explicitly, then `before` (the SDK pages backwards with `before`=first id).
        after = self.paginate(list_call, f"{what} after", order="asc", after=asc[0], **kw)
        self.check.eq(after, asc[1:], f"{what}: order=asc&after=<first id>")
        pivot = asc.index(mine_asc[-1])
        before = self.paginate(list_call, f"{what} before", order="asc", before=asc[pivot], **kw)
        self.check.eq(
            sorted(before), sorted(asc[:pivot]), f"{what}: order=asc&before=<id> lists all earlier"
        )
        return asc, desc

    def agent_full(self, agent_id: str) -> AgentState:
        return self.client.agents.retrieve(agent_id, include=AGENT_INCLUDE)  # type: ignore[arg-type]

    def agent_block_ids(self, agent_id: str) -> list[str]:
        agent = self.agent_full(agent_id)
        ids = [b.id for b in agent.blocks]
        self.check.eq(
            sorted(str(b.id) for b in agent.memory.blocks),
            sorted(str(i) for i in ids),
            f"agent {agent_id}: memory.blocks ids vs blocks ids",
        )
        return [i for i in ids if i]

    # ------------------------------------------------------------------ steps

    def step_health(self) -> None:
        health = self.client.health()
        self.check.true(health.status and isinstance(health.status, str), "health.status empty")
        self.check.true(health.version and isinstance(health.version, str), "health.version empty")

    def step_trailing_slashes(self) -> None:
        for path in ("/v1/health", "/v1/groups", "/v1/agents", "/v1/blocks"):
            for spelling in (path, path + "/"):
                response = self.raw.get(spelling, headers=self._auth())
                self.check.eq(
                    response.status_code, 200, f"GET {spelling} (no redirect may be used)"
                )
                ctype = response.headers.get("content-type", "")
                self.check.true(
                    ctype.startswith("application/json"), f"GET {spelling}: content-type {ctype!r}"
                )

    def step_auth(self) -> None:
        response = self.raw.get("/v1/groups/")
        self.check.eq(response.status_code, 401, "GET /v1/groups/ without credentials")
        self.check.true("detail" in response.json(), "401 body should be {'detail': ...}")
        wrong = Letta(
            base_url=self.base_url,
            api_key="definitely-not-a-valid-key",
            max_retries=0,
            _strict_response_validation=True,
        )
        self.check.raises(AuthenticationError, lambda: wrong.groups.list(), "wrong api key")

    def step_blocks_create(self) -> None:
        for n in range(3):
            label = f"sdk_notes_{self.run}_{n}"
            block = self.client.blocks.create(
                label=label,
                value=f"shared note {n}",
                limit=4000,
                description=f"scenario block {n}",
            )
            self.check.id_of(block.id, "block", "created block id")
            self.check.eq(block.label, label, "block.label")
            self.check.eq(block.value, f"shared note {n}", "block.value")
            self.check.eq(block.limit, 4000, "block.limit")
            self.check.eq(block.description, f"scenario block {n}", "block.description")
            self.blocks[block.id] = block

    def step_blocks_retrieve_update(self) -> None:
        b0 = next(iter(self.blocks))
        got = self.client.blocks.retrieve(b0)
        self.check.eq(got.id, b0, "retrieved block id")
        self.check.eq(got.value, self.blocks[b0].value, "retrieved block value")
        updated = self.client.blocks.update(b0, value="edited note", description="edited")
        self.check.eq(updated.value, "edited note", "updated block value")
        self.check.eq(updated.description, "edited", "updated block description")
        self.check.eq(updated.label, self.blocks[b0].label, "block label kept on update")
        self.check.eq(updated.limit, 4000, "block limit kept on update")
        again = self.client.blocks.retrieve(b0)
        self.check.eq(again.value, "edited note", "block update persisted")
        self.blocks[b0] = again

    def step_blocks_list(self) -> None:
        mine = list(self.blocks)
        asc, _ = self.check_orders(self.client.blocks.list, mine, "blocks list")
        default = self.paginate(self.client.blocks.list, "blocks list default order")
        self.check.eq(default, asc, "blocks list default order is asc")
        self.strict_list("/v1/blocks/", BlockResponse, {"limit": 50})

    def step_agents_create(self) -> None:
        specs: list[dict[str, Any]] = [
            {  # model omitted: the server's default model
                "name": f"sdk-a1-{self.run}",
                "description": "first agent",
                "tags": [self.tag, "alpha"],
                "memory_blocks": [
                    {"label": "human", "value": "The user is Ada."},
                    {
                        "label": "persona",
                        "value": "I am a helpful agent.",
                        "limit": 3000,
                        "description": "who I am",
                    },
                ],
            },
            {
                "name": f"sdk-a2-{self.run}",
                "model": "offline/default",
                "tags": [self.tag, "beta"],
                "memory_blocks": [{"label": "human", "value": "The user is Bob."}],
            },
            {"name": f"sdk-a3-{self.run}", "model": "offline/default", "tags": [self.tag]},
            {"name": f"sdk-a4-{self.run}", "tags": [self.tag], "description": "fourth"},
            {"name": f"sdk-mgr-{self.run}", "model": "offline/default", "tags": [self.tag]},
        ]
        for spec in specs:
            agent = self.client.agents.create(**spec)
            what = f"created agent {spec['name']}"
            self.check.id_of(agent.id, "agent", f"{what} id")
            self.check.eq(agent.name, spec["name"], f"{what} name")
            self.check.eq(agent.description, spec.get("description"), f"{what} description")
            self.check.eq(agent.agent_type, "letta_v1_agent", f"{what} default agent_type")
            self.check.true(agent.llm_config.model, f"{what}: llm_config.model empty")
            self.check.true(agent.llm_config.context_window > 0, f"{what}: context_window <= 0")
            if "model" in spec:
                self.check.eq(agent.model, spec["model"], f"{what} model handle")
            elif agent.model is not None:
                self.check.true("/" in agent.model, f"{what}: model {agent.model!r} not a handle")
            self.agents[agent.id] = agent
        self.a1, self.a2, self.a3, self.a4, self.mgr = list(self.agents)

    def step_agents_retrieve(self) -> None:
        agent = self.agent_full(self.a1)
        self.check.eq(agent.id, self.a1, "retrieved agent id")
        self.check.eq(agent.name, f"sdk-a1-{self.run}", "retrieved agent name")
        self.check.eq(agent.description, "first agent", "retrieved agent description")
        self.check.eq(sorted(agent.tags), sorted([self.tag, "alpha"]), "retrieved agent tags")
        by_label = {b.label: b for b in agent.blocks}
        self.check.eq(sorted(by_label), ["human", "persona"], "retrieved agent block labels")
        self.check.eq(by_label["human"].value, "The user is Ada.", "human block value")
        self.check.eq(by_label["persona"].limit, 3000, "persona block limit")
        self.check.eq(by_label["persona"].description, "who I am", "persona block description")
        self.check.eq(
            sorted(str(b.label) for b in agent.memory.blocks),
            ["human", "persona"],
            "memory.blocks labels",
        )
        for block in agent.blocks:
            self.check.id_of(block.id, "block", "agent memory block id")
            standalone = self.client.blocks.retrieve(str(block.id))
            self.check.eq(standalone.value, block.value, "agent block readable at /v1/blocks/{id}")
        a2 = self.agent_full(self.a2)
        self.check.eq(a2.model, "offline/default", "retrieved a2 model")
        self.check.eq([b.label for b in a2.blocks], ["human"], "a2 block labels")

    def step_agents_list(self) -> None:
        mine = list(self.agents)
        list_call = self.client.agents.list
        _, desc = self.check_orders(list_call, mine, "agents list", tags=[self.tag])
        default = self.paginate(list_call, "agents list default order", tags=[self.tag])
        self.check.eq(default, desc, "agents list default order is desc")
        self.strict_list("/v1/agents/", AgentState, {"limit": 50})

    def step_agents_modify(self) -> None:
        updated = self.client.agents.update(
            self.a1,
            name=f"sdk-a1-{self.run}-edited",
            description="first agent (edited)",
            tags=[self.tag, "alpha", "edited"],
        )
        self.check.eq(updated.name, f"sdk-a1-{self.run}-edited", "modified agent name")
        self.check.eq(updated.description, "first agent (edited)", "modified agent description")
        agent = self.agent_full(self.a1)
        self.check.eq(agent.description, "first agent (edited)", "agent modify persisted")
        self.check.eq(
            sorted(agent.tags), sorted([self.tag, "alpha", "edited"]), "modified agent tags"
        )
        self.check.eq(len(agent.blocks), 2, "agent blocks kept on modify")
        self.check.eq(agent.model, self.agents[self.a1].model, "agent model kept on modify")

    def _create_group(self, what: str, **kwargs: Any) -> Group:
        group = self.client.groups.create(**kwargs)
        self.check.id_of(group.id, "group", f"{what} id")
        self.check.eq(group.agent_ids, kwargs["agent_ids"], f"{what} agent_ids (ordered)")
        self.check.eq(group.description, kwargs["description"], f"{what} description")
        config = kwargs.get("manager_config", {"manager_type": "round_robin"})
        self.check.eq(group.manager_type, config["manager_type"], f"{what} manager_type")
        for field, value in config.items():
            self.check.eq(getattr(group, field), value, f"{what} {field}")
        self.groups[group.id] = group
        return group

    def step_groups_create(self) -> None:
        a1, a2, a3, a4, mgr = self.a1, self.a2, self.a3, self.a4, self.mgr
        self.rr = self._create_group(
            "round_robin group",
            agent_ids=[a1, a2, a3],
            description="round robin",
            manager_config={"manager_type": "round_robin", "max_turns": 3},
        ).id
        default = self._create_group(
            "group without manager_config", agent_ids=[a4, a1], description="default manager"
        )
        self.check.eq(default.manager_agent_id, None, "default group manager_agent_id")
        self.default = default.id
        self.sup = self._create_group(
            "supervisor group",
            agent_ids=[a1, a2],
            description="supervisor",
            manager_config={"manager_type": "supervisor", "manager_agent_id": mgr},
        ).id
        self.dyn = self._create_group(
            "dynamic group",
            agent_ids=[a1, a2, a3],
            description="dynamic",
            manager_config={
                "manager_type": "dynamic",
                "manager_agent_id": mgr,
                "termination_token": "FINISHED!",
                "max_turns": 5,
            },
        ).id
        self.sleep = self._create_group(
            "sleeptime group",
            agent_ids=[a4],
            description="sleeptime",
            manager_config={
                "manager_type": "sleeptime",
                "manager_agent_id": mgr,
                "sleeptime_agent_frequency": 2,
            },
        ).id
        self.voice = self._create_group(
            "voice_sleeptime group",
            agent_ids=[a3],
            description="voice sleeptime",
            manager_config={
                "manager_type": "voice_sleeptime",
                "manager_agent_id": mgr,
                "max_message_buffer_length": 10,
                "min_message_buffer_length": 5,
            },
        ).id

    def step_groups_create_invalid(self) -> None:
        missing = f"agent-{uuid.uuid4()}"
        try:
            self.client.groups.create(agent_ids=[self.a1, missing], description="bad member")
        except APIStatusError as exc:
            self.check.true(
                exc.status_code in (400, 404, 422),
                f"unknown member id: expected 400/404/422, got {exc.status_code}",
            )
        else:
            raise ScenarioFailure("creating a group with an unknown member id succeeded")
        self.check.raises(
            BadRequestError,
            lambda: self.client.groups.create(agent_ids=[self.a1, self.a1], description="dup"),
            "group with duplicate member ids",
        )

    def step_groups_retrieve(self) -> None:
        for group_id, created in self.groups.items():
            got = self.client.groups.retrieve(group_id)
            self.check.eq(
                got.model_dump(exclude={"turns_counter", "last_processed_message_id"}),
                created.model_dump(exclude={"turns_counter", "last_processed_message_id"}),
                f"retrieved group {group_id} vs created",
            )
        self.check.raises(
            NotFoundError,
            lambda: self.client.groups.retrieve(f"group-{uuid.uuid4()}"),
            "retrieve unknown group",
        )
        self.check.raises(
            UnprocessableEntityError,
            lambda: self.client.groups.retrieve("group-not-a-uuid"),
            "retrieve malformed group id",
        )

    def step_groups_list(self) -> None:
        mine = list(self.groups)
        asc, _ = self.check_orders(self.client.groups.list, mine, "groups list")
        default = self.paginate(self.client.groups.list, "groups list default order")
        self.check.eq(default, asc, "groups list default order is asc")
        self.all_groups = asc
        kinds = {
            self.rr: "round_robin",
            self.default: "round_robin",
            self.sup: "supervisor",
            self.dyn: "dynamic",
            self.sleep: "sleeptime",
            self.voice: "voice_sleeptime",
        }
        for kind in sorted(set(kinds.values())):
            listed = self.client.groups.list(manager_type=kind, limit=50)  # type: ignore[arg-type]
            self.check.true(
                all(g.manager_type == kind for g in listed.items),
                f"groups list manager_type={kind} returned other types",
            )
            ids = self.paginate(self.client.groups.list, f"groups {kind}", manager_type=kind)
            self.exactly_once(ids, [g for g, k in kinds.items() if k == kind], f"groups {kind}")
        self.strict_list("/v1/groups/", Group, {"limit": 50})

    def step_groups_count(self) -> None:
        count = self.client.get("/v1/groups/count", cast_to=int)
        self.check.eq(count, len(self.all_groups), "GET /v1/groups/count vs listed groups")

    def step_agent_groups(self) -> None:
        expectations = {
            self.a1: ({self.rr, self.default, self.sup, self.dyn}, {self.sleep, self.voice}),
            self.a4: ({self.default, self.sleep}, {self.rr, self.sup, self.dyn, self.voice}),
            self.a3: ({self.rr, self.dyn, self.voice}, {self.default, self.sup, self.sleep}),
        }
        for agent_id, (member_of, not_member_of) in expectations.items():
            what = f"agents/{agent_id}/groups"
            ids = self.paginate(
                lambda aid=agent_id, **kw: self.client.agents.groups.list(aid, **kw),
                what,
                order="asc",
            )
            self.exactly_once(ids, member_of, what)
            for group_id in not_member_of:
                self.check.true(group_id not in ids, f"{what} lists {group_id} it is not in")
        sup_only = self.client.agents.groups.list(self.a1, manager_type="supervisor")
        self.check.eq(
            [g.id for g in sup_only.items if g.id in self.groups],
            [self.sup],
            "agents/{a1}/groups?manager_type=supervisor",
        )
        self.strict_list(f"/v1/agents/{self.a1}/groups", Group)

    def step_groups_modify(self) -> None:
        groups = self.client.groups
        g = groups.update(self.rr, description="round robin (edited)")
        self.check.eq(g.description, "round robin (edited)", "modified group description")
        self.check.eq(g.manager_type, "round_robin", "manager_type kept on modify")
        self.check.eq(g.max_turns, 3, "max_turns kept when manager_config omitted")
        self.check.eq(g.agent_ids, [self.a1, self.a2, self.a3], "agent_ids kept on modify")
        g = groups.update(
            self.rr, manager_config={"manager_type": "round_robin", "max_turns": None}
        )
        self.check.eq(g.max_turns, None, "max_turns cleared with null")
        self.check.eq(groups.retrieve(self.rr).max_turns, None, "cleared max_turns persisted")
        self.check.eq(g.description, "round robin (edited)", "description kept on clear")
        g = groups.update(self.rr, agent_ids=[self.a3, self.a1, self.a2])
        self.check.eq(g.agent_ids, [self.a3, self.a1, self.a2], "agent_ids reordered on modify")
        self.check.eq(
            groups.retrieve(self.rr).agent_ids, [self.a3, self.a1, self.a2], "new order persisted"
        )

        g = groups.update(
            self.dyn, manager_config={"manager_type": "dynamic", "termination_token": "STOP"}
        )
        self.check.eq(g.termination_token, "STOP", "dynamic termination_token modified")
        self.check.eq(g.max_turns, 5, "dynamic max_turns kept")
        self.check.eq(g.manager_agent_id, self.mgr, "dynamic manager_agent_id kept")

        g = groups.update(
            self.sleep,
            manager_config={"manager_type": "sleeptime", "sleeptime_agent_frequency": 0},
        )
        self.check.eq(g.sleeptime_agent_frequency, 0, "sleeptime_agent_frequency set to 0")
        self.check.eq(
            groups.retrieve(self.sleep).sleeptime_agent_frequency, 0, "frequency 0 persisted"
        )

        g = groups.update(self.voice, description="voice (edited)")
        self.check.eq(g.description, "voice (edited)", "voice group description modified")
        self.check.eq(g.max_message_buffer_length, 10, "max_message_buffer_length kept")
        self.check.eq(g.min_message_buffer_length, 5, "min_message_buffer_length kept")

        self.check.raises(
            BadRequestError,
            lambda: groups.update(
                self.rr,
                manager_config={"manager_type": "supervisor", "manager_agent_id": self.mgr},
            ),
            "changing manager_type on modify",
        )
        self.check.eq(groups.retrieve(self.rr).manager_type, "round_robin", "type unchanged")

    def step_group_blocks(self) -> None:
        block_id = next(iter(self.blocks))
        members = self.client.groups.retrieve(self.rr).agent_ids
        outsider = self.a4
        self.check.true(outsider not in members, "a4 should not be in the round-robin group")
        self.client.patch(f"/v1/groups/{self.rr}/blocks/attach/{block_id}", cast_to=object)
        group = self.client.groups.retrieve(self.rr)
        self.check.true(
            block_id in (group.shared_block_ids or []),
            f"attached block missing from shared_block_ids {group.shared_block_ids}",
        )
        for agent_id in members:
            self.check.true(
                block_id in self.agent_block_ids(agent_id),
                f"block attached to group is missing from member {agent_id}",
            )
        self.check.true(
            block_id not in self.agent_block_ids(outsider), "group block leaked to a non-member"
        )
        self.client.patch(f"/v1/groups/{self.rr}/blocks/detach/{block_id}", cast_to=object)
        group = self.client.groups.retrieve(self.rr)
        self.check.true(
            block_id not in (group.shared_block_ids or []),
            f"detached block still in shared_block_ids {group.shared_block_ids}",
        )
        for agent_id in members:
            self.check.true(
                block_id not in self.agent_block_ids(agent_id),
                f"block detached from group is still on member {agent_id}",
            )
        self.check.eq(self.client.blocks.retrieve(block_id).id, block_id, "block survives detach")

    def step_groups_delete(self) -> None:
        before = self.client.get("/v1/groups/count", cast_to=int)
        for group_id in list(self.groups):
            result = self.client.groups.delete(group_id)
            self.check.true(result is None or isinstance(result, dict), "delete body is JSON")
            del self.groups[group_id]
            self.deleted_groups.append(group_id)
            self.check.raises(
                NotFoundError,
                lambda gid=group_id: self.client.groups.retrieve(gid),
                "retrieve deleted group",
            )
            self.check.raises(
                NotFoundError,
                lambda gid=group_id: self.client.groups.delete(gid),
                "delete deleted group",
            )
        after = self.client.get("/v1/groups/count", cast_to=int)
        self.check.eq(after, before - 6, "groups count after deleting six groups")
        remaining = self.paginate(self.client.groups.list, "groups list after delete")
        self.check.eq(len(remaining), after, "groups list length vs count after delete")
        self.check.eq(
            [g for g in remaining if g in self.all_groups and g in self.deleted_groups],
            [],
            "deleted groups are gone from the list",
        )
        self.check.eq(self.agent_full(self.a1).id, self.a1, "members survive group deletion")

    def step_agents_delete(self) -> None:
        for agent_id in list(self.agents):
            result = self.client.agents.delete(agent_id)
            self.check.true(result is None or isinstance(result, dict), "delete body is JSON")
            del self.agents[agent_id]
            self.check.raises(
                NotFoundError,
                lambda aid=agent_id: self.client.agents.retrieve(aid),
                "retrieve deleted agent",
            )
        listed = self.paginate(self.client.agents.list, "agents list after delete", tags=[self.tag])
        self.check.eq(
            [a for a in listed if a in (self.a1, self.a2, self.a3, self.a4, self.mgr)],
            [],
            "deleted agents are gone from the list",
        )

    def step_blocks_delete(self) -> None:
        for block_id in list(self.blocks):
            result = self.client.blocks.delete(block_id)
            self.check.true(result is None or isinstance(result, dict), "delete body is JSON")
            del self.blocks[block_id]
            self.check.raises(
                NotFoundError,
                lambda bid=block_id: self.client.blocks.retrieve(bid),
                "retrieve deleted block",
            )

    # ------------------------------------------------------------------ driver

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        steps = [
            ("health", self.step_health),
            ("collection routes: both slash spellings, no redirect", self.step_trailing_slashes),
        ]
        if self.api_key:
            steps.append(("401 without or with a wrong api key", self.step_auth))
        return steps + [
            ("blocks: create three", self.step_blocks_create),
            ("blocks: retrieve and modify", self.step_blocks_retrieve_update),
            ("blocks: list every page, both orders, cursors", self.step_blocks_list),
            ("agents: create five (model omitted / offline/default)", self.step_agents_create),
            ("agents: retrieve with blocks and tags", self.step_agents_retrieve),
            ("agents: list every page, both orders, cursors", self.step_agents_list),
            ("agents: modify", self.step_agents_modify),
            ("groups: create all five manager types", self.step_groups_create),
            ("groups: unknown and duplicate members rejected", self.step_groups_create_invalid),
            ("groups: retrieve, 404 and 422", self.step_groups_retrieve),
            ("groups: list every page, both orders, cursors, filters", self.step_groups_list),
            ("groups: count", self.step_groups_count),
            ("agents/{id}/groups", self.step_agent_groups),
            ("groups: modify, clear, reorder, 0, type change 400", self.step_groups_modify),
            ("groups: block attach/detach reaches members", self.step_group_blocks),
            ("groups: delete then 404", self.step_groups_delete),
            ("agents: delete then 404", self.step_agents_delete),
            ("blocks: delete then 404", self.step_blocks_delete),
        ]

    def cleanup(self) -> None:
        """Best effort: remove whatever a failed run left behind."""
        for group_id in list(self.groups):
            self._quietly(lambda gid=group_id: self.client.groups.delete(gid))
        for agent_id in list(self.agents):
            self._quietly(lambda aid=agent_id: self.client.agents.delete(aid))
        for block_id in list(self.blocks):
            self._quietly(lambda bid=block_id: self.client.blocks.delete(bid))

    @staticmethod
    def _quietly(call: Callable[[], object]) -> None:
        with contextlib.suppress(Exception):  # cleanup must not mask the real failure
            call()

    def execute(self) -> int:
        current = "setup"
        try:
            for number, (name, step) in enumerate(self.steps(), 1):
                current = name
                before = self.check.passed
                step()
                print(f"ok   {number:2d} {name} ({self.check.passed - before} checks)", flush=True)
        except Exception as exc:  # every failure is reported, then exit 1
            print(f"FAIL {current}: {describe(exc)}", flush=True)
            print(
                f"sdk scenario: FAILED after {self.check.passed} checks passed, 1 failed",
                flush=True,
            )
            self.cleanup()
            return 1
        finally:
            self.raw.close()
        print(f"sdk scenario: {self.check.passed} checks passed, 0 failed", flush=True)
        return 0


def describe(exc: BaseException) -> str:
    """A one-paragraph explanation of a failure, with the HTTP exchange where there is one."""
    if isinstance(exc, ScenarioFailure):
        return str(exc)
    if isinstance(exc, APIResponseValidationError):
        request = exc.response.request
        cause = exc.__cause__
        body = exc.body if len(repr(exc.body)) < 1500 else repr(exc.body)[:1500] + "..."
        return (
            f"strict response validation failed for {request.method} {request.url} "
            f"(HTTP {exc.status_code}): {exc.message}\n  pydantic: {cause}\n  body: {body}"
        )
    if isinstance(exc, APIStatusError):
        request = exc.response.request
        return f"{request.method} {request.url} -> HTTP {exc.status_code}: {exc.body!r}"
    if isinstance(exc, APIConnectionError):
        return f"{exc.request.method} {exc.request.url}: {exc.message} ({exc.__cause__!r})"
    return "".join(traceback.format_exception(exc)).rstrip()


def wait_finished(client: Letta, run_id: str, timeout: float = 60) -> Any:
    """The run once it has ended (completed, failed or cancelled)."""
    deadline = time.monotonic() + timeout
    while True:
        run = client.runs.retrieve(run_id)
        if run.status in ("completed", "failed", "cancelled"):
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {run.status} after {timeout}s")
        time.sleep(0.1)


Step = Callable[[Letta, "Checks", list[tuple[str, str]]], None]


def run_steps(
    name: str,
    doc: str,
    steps: list[Step],
    argv: list[str] | None = None,
    *,
    client_options: Callable[[argparse.Namespace], dict[str, Any]] | None = None,
    arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> int:
    """A small scenario's main: parse --base-url/--api-key (and `arguments`), run each
    step with a strict client (or `client_options`), report every failure, delete what the
    steps recorded in `created` ("group" or "agent", id), print the tally line."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8283")
    parser.add_argument("--api-key", default=None, help="bearer key, when the server wants one")
    if arguments is not None:
        arguments(parser)
    args = parser.parse_args(argv)
    base = {"base_url": args.base_url.rstrip("/"), "api_key": args.api_key}
    options = (
        client_options(args)
        if client_options
        else {"max_retries": 0, "timeout": 120.0, "_strict_response_validation": True}
    )
    client = Letta(**base, **options)
    check = Checks()
    created: list[tuple[str, str]] = []
    failed = False
    try:
        for step in steps:
            step(client, check, created)
    except Exception as exc:  # every failure is reported, then exit 1
        failed = True
        print(f"FAIL: {describe(exc)}", flush=True)
    cleanup = Letta(**base, timeout=60.0)
    for kind, resource_id in reversed(created):
        with contextlib.suppress(Exception):
            (cleanup.groups if kind == "group" else cleanup.agents).delete(resource_id)
    print(f"{name}: {check.passed} passed, {int(failed)} failed", flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8283")
    parser.add_argument("--api-key", default=None, help="bearer key, when the server wants one")
    args = parser.parse_args(argv)
    return Scenario(args.base_url, args.api_key).execute()


if __name__ == "__main__":
    sys.exit(main())
