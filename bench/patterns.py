"""The group patterns the benchmark sends to, built through the public API of any transport
(the Lambda entry, the ASGI app, HTTP): each is a function of `call(method, path, body)`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Call = Callable[[str, str, Any], Any]
"""call(method, path, json body or None) -> the JSON answer; raises unless it is a 200."""

PATTERNS = ("round_robin-3", "round_robin-8", "supervisor-3", "dynamic-3", "sleeptime")


def agent(call: Call, name: str, model: str, **body: Any) -> str:
    answer: dict[str, Any] = call("POST", "/v1/agents/", {"name": name, "model": model, **body})
    return str(answer["id"])


def build_group(call: Call, pattern: str, model: str = "offline/default") -> str:
    """A new group of the named pattern (PATTERNS) with new agents; its id."""
    if pattern.startswith("round_robin-"):
        size = int(pattern.split("-")[1])
        members = [agent(call, f"member{i}", model) for i in range(size)]
        config: dict[str, Any] = {"manager_type": "round_robin"}
    elif pattern.startswith(("supervisor-", "dynamic-")):
        manager_type, size = pattern.split("-")
        members = [agent(call, f"worker{i}", model) for i in range(int(size))]
        boss = agent(call, "boss", model)
        config = {"manager_type": manager_type, "manager_agent_id": boss}
    elif pattern == "sleeptime":
        block = call("POST", "/v1/blocks/", {"label": "human", "value": "Name: Sam"})
        main = agent(call, "main", model, block_ids=[block["id"]])
        sleeper = agent(
            call, "dreamer", model, agent_type="sleeptime_agent", block_ids=[block["id"]]
        )
        members = [sleeper]
        config = {
            "manager_type": "sleeptime",
            "manager_agent_id": main,
            "sleeptime_agent_frequency": 1,
        }
    else:
        raise ValueError(f"Unknown pattern {pattern!r}")
    group: dict[str, Any] = call(
        "POST",
        "/v1/groups/",
        {"agent_ids": members, "description": pattern, "manager_config": config},
    )
    return str(group["id"])


def send(call: Call, group_id: str, text: str) -> dict[str, Any]:
    answer: dict[str, Any] = call("POST", f"/v1/groups/{group_id}/messages", {"input": text})
    return answer
