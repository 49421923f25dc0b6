"""DynamoDB throttling or an outage that outlasts botocore's retries is a 503 with
Retry-After (the SDK waits and retries), never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from fastapi.testclient import TestClient

from handler.app import create_app
from handler.composition import Services, build_services
from infra.settings import Settings
from tests.conftest import Api


def _throttled(operation: str) -> ClientError:
    error = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
    return ClientError({"Error": error}, operation)


def _cancelled_by_throttling(operation: str) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
        "CancellationReasons": [{"Code": "None"}, {"Code": "ThrottlingError"}],
    }
    return ClientError(response, operation)  # type: ignore[arg-type]


def _unreachable(_: str) -> Exception:
    return EndpointConnectionError(endpoint_url="https://dynamodb.example")


@pytest.mark.parametrize("failure", [_throttled, _cancelled_by_throttling, _unreachable])
def test_store_outage_is_a_503_with_retry_after(
    client: TestClient, api: Api, services: Services, failure: Any
) -> None:
    agent = api.agent("a")
    store = services.agents._store  # noqa: SLF001 - fail this store's client
    raw = store._client._client  # noqa: SLF001

    def failing(event_name: str, **_: object) -> None:
        raise failure(event_name.rsplit(".", 1)[-1])

    raw.meta.events.register("before-call.dynamodb", failing)
    try:
        reads = client.get(f"/v1/agents/{agent['id']}")
        writes = client.post("/v1/agents/", json={"name": "b"})
    finally:
        raw.meta.events.unregister("before-call.dynamodb", failing)
    for response in (reads, writes):
        assert response.status_code == 503, response.text
        assert int(response.headers["retry-after"]) >= 1
        assert "retry" in response.json()["detail"]
    assert client.get(f"/v1/agents/{agent['id']}").status_code == 200


def test_other_client_errors_are_not_turned_into_503(services: Services) -> None:
    store = services.agents._store  # noqa: SLF001
    with pytest.raises(ClientError):
        store._client.describe_table(TableName="no-such-table")  # noqa: SLF001


def test_a_record_deeper_than_the_json_parser_goes_is_read_and_deleted(
    client: TestClient, api: Api, services: Services
) -> None:
    """Stored before requests were bounded: it must still show, list and delete."""
    from core.ports import Put
    from core.records import AgentRecord

    agent = api.agent("deep")
    group = api.group([agent["id"], api.agent("other")["id"]])
    store = services.agents._store  # noqa: SLF001
    record = store.get("default", AgentRecord, agent["id"])
    deep: dict[str, Any] = {}
    for _ in range(220):  # pydantic writes it, but its JSON parser stops at 200
        deep = {"a": deep}
    store.write("default", [Put(record.model_copy(update={"metadata": deep}), record.version)])
    assert client.get(f"/v1/agents/{agent['id']}").status_code == 200
    assert len(client.get("/v1/agents/").json()) == 2
    assert client.delete(f"/v1/groups/{group['id']}").status_code == 200
    assert client.delete(f"/v1/agents/{agent['id']}").status_code == 200
    assert client.get(f"/v1/agents/{agent['id']}").status_code == 404


SENDS = ("/messages", "/messages/stream", "/messages/async")


@pytest.mark.parametrize("route", SENDS)
def test_a_send_routes_503_says_do_not_retry_blindly(settings: Settings, route: str) -> None:
    """SPEC §6: a send route's 5xx carries x-should-retry: false, whether the store fails
    while the caller's stored key is looked up or while the send runs."""
    closed = settings.model_copy(update={"open_api": False, "api_key_cache_s": 0})
    services = build_services(closed)
    key = services.api_keys.create("team").key
    client = TestClient(create_app(services))
    api = Api(client)
    api.client.headers["Authorization"] = f"Bearer {key}"
    group = api.group([api.agent("a")["id"], api.agent("b")["id"]])
    raw = services.store._client._client  # type: ignore[attr-defined]  # noqa: SLF001

    def failing(event_name: str, **_: object) -> None:
        raise _throttled(event_name.rsplit(".", 1)[-1])

    def first_read_passes() -> Any:
        """The key lookup (the first call) passes; the send's own calls fail."""
        calls: list[str] = []

        def fail_after_first(event_name: str, **_: object) -> None:
            calls.append(event_name)
            if len(calls) > 1:
                raise _throttled(event_name.rsplit(".", 1)[-1])

        return fail_after_first

    answers = []
    for hook in (failing, first_read_passes()):
        raw.meta.events.register("before-call.dynamodb", hook)
        try:
            answers.append(client.post(f"/v1/groups/{group['id']}{route}", json={"input": "hi"}))
        finally:
            raw.meta.events.unregister("before-call.dynamodb", hook)
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["x-should-retry"] == "false"
        assert int(answer.headers["retry-after"]) >= 1
