from tests.conftest import Api


def test_agent_round_trip(api: Api) -> None:
    agent = api.agent("alice", memory_blocks=[{"label": "human", "value": "Sam"}])
    assert api.ok("GET", f"/v1/agents/{agent['id']}")["name"] == "alice"
