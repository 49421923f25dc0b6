"""A bug answers 500 JSON; on the send routes it also tells the SDK not to retry."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from handler.app import create_app
from handler.composition import Services


class Broken:
    def send(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    agent = group = send  # the async sends' entry points


@pytest.mark.parametrize(
    ("path", "no_retry"),
    [
        ("/v1/groups/group-123e4567-e89b-42d3-8456-426614174000/messages", True),
        ("/v1/agents/agent-123e4567-e89b-42d3-8456-426614174000/messages", True),
        ("/v1/groups/group-123e4567-e89b-42d3-8456-426614174000/messages/async", True),
        ("/v1/agents/agent-123e4567-e89b-42d3-8456-426614174000/messages/async", True),
    ],
)
def test_send_route_5xx_says_do_not_retry(services: Services, path: str, no_retry: bool) -> None:
    broken = services.replace(
        group_messages=Broken(), agent_messages=Broken(), async_sends=Broken()
    )
    client = TestClient(create_app(broken), raise_server_exceptions=False)
    response = client.post(path, json={"input": "hi"})
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}
    assert (response.headers.get("x-should-retry") == "false") is no_retry
