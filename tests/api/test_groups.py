"""Group create/modify/delete rules and block sharing, through the HTTP API."""

from __future__ import annotations

import pytest

from tests.conftest import Api

MISSING_AGENT = "agent-00000000-0000-4000-8000-000000000000"


@pytest.fixture
def members(api: Api) -> list[str]:
    return [api.agent(f"member-{i}")["id"] for i in range(3)]


@pytest.fixture
def manager(api: Api) -> str:
    return api.agent("manager")["id"]


def test_manager_config_defaults_to_round_robin(api: Api, members: list[str]) -> None:
    group = api.group(members)
    assert group["manager_type"] == "round_robin"
    assert group["agent_ids"] == members
    assert group["max_turns"] is None and group["manager_agent_id"] is None


@pytest.mark.parametrize("kind", ["supervisor", "dynamic", "sleeptime", "voice_sleeptime"])
def test_managed_types_require_a_manager(api: Api, members: list[str], kind: str) -> None:
    response = api.client.post(
        "/v1/groups/",
        json={"agent_ids": members, "description": "d", "manager_config": {"manager_type": kind}},
    )
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["detail"]]
    assert ["body", "manager_config", kind, "manager_agent_id"] in locs


def test_unknown_manager_type_is_422(api: Api, members: list[str]) -> None:
    response = api.client.post(
        "/v1/groups/",
        json={"agent_ids": members, "description": "d", "manager_config": {"manager_type": "x"}},
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"manager_type": "supervisor"}, {}),
        ({"manager_type": "dynamic"}, {"termination_token": "DONE!", "max_turns": None}),
        (
            {"manager_type": "dynamic", "termination_token": "STOP", "max_turns": 7},
            {"termination_token": "STOP", "max_turns": 7},
        ),
        (
            {"manager_type": "sleeptime", "sleeptime_agent_frequency": 3},
            {"sleeptime_agent_frequency": 3, "turns_counter": 0},
        ),
        (
            {
                "manager_type": "voice_sleeptime",
                "max_message_buffer_length": 10,
                "min_message_buffer_length": 5,
            },
            {"max_message_buffer_length": 10, "min_message_buffer_length": 5},
        ),
    ],
)
def test_each_manager_variant_is_flattened_onto_the_group(
    api: Api, members: list[str], manager: str, config: dict, expected: dict
) -> None:
    group = api.group(members, manager_config={**config, "manager_agent_id": manager})
    assert group["manager_type"] == config["manager_type"]
    assert group["manager_agent_id"] == manager
    for field, value in expected.items():
        assert group[field] == value, field
    assert api.ok("GET", f"/v1/groups/{group['id']}") == group


@pytest.mark.parametrize(
    ("lengths", "rule"),
    [
        ({"max_message_buffer_length": 10}, "together"),
        ({"min_message_buffer_length": 5}, "together"),
        ({"max_message_buffer_length": 10, "min_message_buffer_length": 4}, "greater than 4"),
        ({"max_message_buffer_length": 6, "min_message_buffer_length": 6}, "greater than min"),
    ],
)
def test_voice_sleeptime_buffer_rules(
    api: Api, members: list[str], manager: str, lengths: dict, rule: str
) -> None:
    config = {"manager_type": "voice_sleeptime", "manager_agent_id": manager, **lengths}
    response = api.client.post(
        "/v1/groups/", json={"agent_ids": members, "description": "d", "manager_config": config}
    )
    assert response.status_code == 400
    assert rule in response.json()["detail"].replace("min_message_buffer_length", "min")


def test_modify_can_set_fields_to_null_or_zero(api: Api, members: list[str], manager: str) -> None:
    group = api.group(
        members,
        project_id="p1",
        manager_config={
            "manager_type": "sleeptime",
            "manager_agent_id": manager,
            "sleeptime_agent_frequency": 3,
        },
    )
    path = f"/v1/groups/{group['id']}"
    zero = api.ok(
        "PATCH",
        path,
        json={"manager_config": {"manager_type": "sleeptime", "sleeptime_agent_frequency": 0}},
    )
    assert zero["sleeptime_agent_frequency"] == 0
    assert zero["manager_agent_id"] == manager  # not sent, so not changed
    cleared = api.ok(
        "PATCH",
        path,
        json={
            "project_id": None,
            "manager_config": {"manager_type": "sleeptime", "sleeptime_agent_frequency": None},
        },
    )
    assert cleared["sleeptime_agent_frequency"] is None and cleared["project_id"] is None
    assert api.ok("GET", path) == cleared


def test_modify_round_robin_turns_and_order(api: Api, members: list[str]) -> None:
    group = api.group(members, manager_config={"manager_type": "round_robin", "max_turns": 5})
    path = f"/v1/groups/{group['id']}"
    changed = api.ok(
        "PATCH",
        path,
        json={
            "agent_ids": list(reversed(members)),
            "manager_config": {"manager_type": "round_robin", "max_turns": None},
        },
    )
    assert changed["agent_ids"] == list(reversed(members))
    assert changed["max_turns"] is None
    assert api.ok("PATCH", path, json={"description": ""})["description"] == ""


def test_changing_manager_type_is_400(api: Api, members: list[str], manager: str) -> None:
    group = api.group(members)
    response = api.client.patch(
        f"/v1/groups/{group['id']}",
        json={"manager_config": {"manager_type": "supervisor", "manager_agent_id": manager}},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "Cannot change group pattern after creation"
    assert api.ok("GET", f"/v1/groups/{group['id']}")["manager_type"] == "round_robin"


def test_dynamic_members_with_duplicate_names_are_400_at_create_and_modify(
    api: Api, manager: str
) -> None:
    ann, other_ann, bob = api.agent("ann")["id"], api.agent("ann")["id"], api.agent("bob")["id"]
    dynamic = {"manager_type": "dynamic", "manager_agent_id": manager}

    refused = api.client.post(
        "/v1/groups/",
        json={"agent_ids": [ann, bob, other_ann], "description": "d", "manager_config": dynamic},
    )
    assert refused.status_code == 400
    assert refused.json()["detail"] == "Duplicate agent names found: ann"

    group = api.group([ann, bob], manager_config=dynamic)
    path = f"/v1/groups/{group['id']}"
    modified = api.client.patch(path, json={"agent_ids": [ann, other_ann]})
    assert modified.status_code == 400
    assert "Duplicate agent names found" in modified.json()["detail"]
    assert api.ok("GET", path)["agent_ids"] == [ann, bob]
    # Other patterns do not pick speakers by name: the same members are fine there.
    api.group([ann, other_ann])


def test_a_managed_group_cannot_lose_its_manager(
    api: Api, members: list[str], manager: str
) -> None:
    group = api.group(
        members, manager_config={"manager_type": "supervisor", "manager_agent_id": manager}
    )
    response = api.client.patch(
        f"/v1/groups/{group['id']}",
        json={"manager_config": {"manager_type": "supervisor", "manager_agent_id": None}},
    )
    assert response.status_code == 400


def test_duplicate_members_are_400(api: Api, members: list[str]) -> None:
    response = api.client.post(
        "/v1/groups/", json={"agent_ids": [members[0], members[1], members[0]], "description": "d"}
    )
    assert response.status_code == 400
    assert members[0] in response.json()["detail"]
    group = api.group(members)
    response = api.client.patch(
        f"/v1/groups/{group['id']}", json={"agent_ids": [members[1], members[1]]}
    )
    assert response.status_code == 400
    assert api.ok("GET", f"/v1/groups/{group['id']}")["agent_ids"] == members


def test_missing_member_or_manager_is_404(api: Api, members: list[str]) -> None:
    response = api.client.post(
        "/v1/groups/", json={"agent_ids": [members[0], MISSING_AGENT], "description": "d"}
    )
    assert response.status_code == 404
    assert MISSING_AGENT in response.json()["detail"]
    response = api.client.post(
        "/v1/groups/",
        json={
            "agent_ids": members,
            "description": "d",
            "manager_config": {"manager_type": "supervisor", "manager_agent_id": MISSING_AGENT},
        },
    )
    assert response.status_code == 404
    group = api.group(members)
    response = api.client.patch(f"/v1/groups/{group['id']}", json={"agent_ids": [MISSING_AGENT]})
    assert response.status_code == 404
    assert api.ok("GET", "/v1/groups/count") == 1


def test_manager_cannot_be_a_member(api: Api, members: list[str]) -> None:
    response = api.client.post(
        "/v1/groups/",
        json={
            "agent_ids": members,
            "description": "d",
            "manager_config": {"manager_type": "dynamic", "manager_agent_id": members[0]},
        },
    )
    assert response.status_code == 400


def test_membership_is_visible_from_the_agent(api: Api, members: list[str], manager: str) -> None:
    group = api.group(
        members[:2], manager_config={"manager_type": "supervisor", "manager_agent_id": manager}
    )

    def groups_of(agent_id: str) -> list[str]:
        return [g["id"] for g in api.ok("GET", f"/v1/agents/{agent_id}/groups")]

    assert groups_of(members[0]) == [group["id"]]
    assert groups_of(manager) == [group["id"]]
    assert groups_of(members[2]) == []
    assert api.ok("GET", f"/v1/agents/{manager}")["managed_group"]["id"] == group["id"]
    api.ok("PATCH", f"/v1/groups/{group['id']}", json={"agent_ids": members[1:]})
    assert groups_of(members[0]) == []
    assert groups_of(members[2]) == [group["id"]]
    api.ok("DELETE", f"/v1/groups/{group['id']}")
    assert groups_of(members[1]) == [] and groups_of(manager) == []
    assert api.ok("GET", f"/v1/agents/{manager}")["managed_group"] is None


def test_deleting_a_member_removes_it_from_its_groups(api: Api, members: list[str]) -> None:
    group = api.group(members)
    assert api.ok("DELETE", f"/v1/agents/{members[1]}")["message"]
    assert api.ok("GET", f"/v1/groups/{group['id']}")["agent_ids"] == [members[0], members[2]]


def test_deleting_a_manager_is_409_until_the_group_goes(
    api: Api, members: list[str], manager: str
) -> None:
    group = api.group(
        members, manager_config={"manager_type": "supervisor", "manager_agent_id": manager}
    )
    response = api.client.delete(f"/v1/agents/{manager}")
    assert response.status_code == 409
    assert group["id"] in response.json()["detail"]
    api.ok("DELETE", f"/v1/groups/{group['id']}")
    api.ok("DELETE", f"/v1/agents/{manager}")
    assert api.client.get(f"/v1/agents/{manager}").status_code == 404


def _block_ids(api: Api, agent_id: str) -> list[str]:
    return [b["id"] for b in api.ok("GET", f"/v1/agents/{agent_id}")["blocks"]]


def test_attach_and_detach_reach_every_agent(api: Api, members: list[str], manager: str) -> None:
    group = api.group(
        members, manager_config={"manager_type": "sleeptime", "manager_agent_id": manager}
    )
    block = api.block("shared", "the plan")
    path = f"/v1/groups/{group['id']}/blocks"
    assert api.ok("PATCH", f"{path}/attach/{block['id']}") is None
    api.ok("PATCH", f"{path}/attach/{block['id']}")  # twice is harmless
    assert api.ok("GET", f"/v1/groups/{group['id']}")["shared_block_ids"] == [block["id"]]
    for agent_id in [*members, manager]:
        assert _block_ids(api, agent_id).count(block["id"]) == 1
    api.ok("PATCH", f"{path}/detach/{block['id']}")
    assert api.ok("GET", f"/v1/groups/{group['id']}")["shared_block_ids"] == []
    for agent_id in [*members, manager]:
        assert block["id"] not in _block_ids(api, agent_id)
    assert api.ok("GET", f"/v1/blocks/{block['id']}")["value"] == "the plan"


def test_shared_blocks_reach_members_added_later(api: Api, members: list[str]) -> None:
    block = api.block("shared")
    group = api.group(members[:1], shared_block_ids=[block["id"]])
    assert block["id"] in _block_ids(api, members[0])
    api.ok("PATCH", f"/v1/groups/{group['id']}", json={"agent_ids": members})
    assert all(block["id"] in _block_ids(api, m) for m in members)


def test_attach_conflicting_label_is_400_and_changes_nothing(api: Api, members: list[str]) -> None:
    own = api.ok("GET", f"/v1/agents/{members[0]}")
    api.ok(
        "PATCH", f"/v1/agents/{members[0]}", json={"block_ids": [api.block("human", "mine")["id"]]}
    )
    group = api.group(members)
    clash = api.block("human", "theirs")
    response = api.client.patch(f"/v1/groups/{group['id']}/blocks/attach/{clash['id']}")
    assert response.status_code == 400
    assert "human" in response.json()["detail"]
    assert api.ok("GET", f"/v1/groups/{group['id']}")["shared_block_ids"] == []
    assert clash["id"] not in _block_ids(api, members[1])
    assert own["id"] == members[0]


def test_deleting_a_block_detaches_it_everywhere(api: Api, members: list[str]) -> None:
    block = api.block("shared")
    group = api.group(members, shared_block_ids=[block["id"]])
    api.ok("DELETE", f"/v1/blocks/{block['id']}")
    assert api.ok("GET", f"/v1/groups/{group['id']}")["shared_block_ids"] == []
    assert all(block["id"] not in _block_ids(api, m) for m in members)


@pytest.mark.parametrize("collection", ["/v1/groups", "/v1/agents", "/v1/blocks", "/v1/health"])
def test_collections_answer_with_and_without_trailing_slash(api: Api, collection: str) -> None:
    for path in (collection, f"{collection}/"):
        response = api.client.get(path, follow_redirects=False)
        assert response.status_code == 200, path
    for path in ("/v1/groups", "/v1/groups/"):
        response = api.client.post(
            path, json={"agent_ids": [], "description": "d"}, follow_redirects=False
        )
        assert response.status_code == 200, path


def test_manager_update_without_manager_type_uses_the_groups_own(
    api: Api, members: list[str]
) -> None:
    """The SDK's update types make manager_type optional; such a body still applies."""
    group = api.group(members, manager_config={"manager_type": "round_robin", "max_turns": 2})
    path = f"/v1/groups/{group['id']}"
    assert api.ok("PATCH", path, json={"manager_config": {"max_turns": 6}})["max_turns"] == 6
    response = api.client.patch(path, json={"manager_config": {"max_turns": 0}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "manager_config", "max_turns"]
    assert api.ok("GET", path)["max_turns"] == 6


def test_hidden_is_set_at_create_and_kept(api: Api, members: list[str]) -> None:
    """Letta's GroupCreate takes `hidden`; its GroupUpdate has no such field."""
    group = api.ok(
        "POST", "/v1/groups/", json={"agent_ids": members, "description": "d", "hidden": True}
    )
    assert group["hidden"] is True
    assert api.ok("GET", f"/v1/groups/{group['id']}")["hidden"] is True
    changed = api.ok("PATCH", f"/v1/groups/{group['id']}", json={"description": "e"})
    assert (changed["hidden"], changed["description"]) == (True, "e")
    plain = api.ok("POST", "/v1/groups/", json={"agent_ids": members, "description": "d"})
    assert not plain["hidden"]


def test_default_page_sizes_are_lettas(api: Api, members: list[str]) -> None:
    """SPEC §5: groups list 50 by default (oldest first), a transcript 10 (newest first)."""
    made = [
        api.ok("POST", "/v1/groups/", json={"agent_ids": members[:1], "description": f"g{n}"})
        for n in range(52)
    ]
    listed = api.ok("GET", "/v1/groups/")
    assert [g["id"] for g in listed] == [g["id"] for g in made[:50]]
    group = made[0]["id"]
    for n in range(3):  # one member: an input and a reply each, six transcript messages
        api.ok("POST", f"/v1/groups/{group}/messages", json={"input": f"m{n}"})
    api.ok("POST", f"/v1/groups/{group}/messages", json={"input": "m3"})
    api.ok("POST", f"/v1/groups/{group}/messages", json={"input": "m4"})
    everything = api.ok("GET", f"/v1/groups/{group}/messages", params={"limit": 100})
    assert len(everything) > 10
    assert api.ok("GET", f"/v1/groups/{group}/messages") == everything[:10]


def test_a_system_message_of_the_transcript_can_be_edited(api: Api, members: list[str]) -> None:
    """SPEC §5: user, system, reasoning or assistant messages of the group can be edited;
    the edit reaches the members' copies."""
    group = api.ok("POST", "/v1/groups/", json={"agent_ids": members[:2], "description": "d"})
    path = f"/v1/groups/{group['id']}/messages"
    sent = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "plan"}]
    api.ok("POST", path, json={"messages": sent})
    listed = api.ok("GET", path, params={"limit": 100, "order": "asc"})
    system = next(m for m in listed if m["message_type"] == "system_message")
    assert system["content"] == "be brief"

    edit = {"message_type": "system_message", "content": "be thorough"}
    edited = api.ok("PATCH", f"{path}/{system['id']}", json=edit)
    assert (edited["id"], edited["message_type"], edited["content"]) == (
        system["id"],
        "system_message",
        "be thorough",
    )
    again = api.ok("GET", path, params={"limit": 100, "order": "asc"})
    assert [m["content"] for m in again if m["message_type"] == "system_message"] == ["be thorough"]
    held = api.ok(
        "GET",
        f"/v1/agents/{members[0]}/messages",
        params={"group_id": group["id"], "limit": 100},
    )
    assert [m["content"] for m in held if m["message_type"] == "system_message"] == ["be thorough"]
