"""Per-request overhead of a group send: wall time and DynamoDB requests, on the offline model.

    .venv/bin/python bench/send_overhead.py [--sends 20] [--members 4]

Runs the real app (ASGI) over moto's in-process DynamoDB, so the time is the service's own
work plus moto's, not the network's or a model's. Prints one line per pattern.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import Counter

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")

import boto3  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from moto import mock_aws  # noqa: E402

from handler.app import create_app  # noqa: E402
from handler.composition import build_services  # noqa: E402
from infra.settings import Settings  # noqa: E402
from infra.table_definition import create_table_kwargs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sends", type=int, default=20)
    parser.add_argument("--members", type=int, default=4)
    args = parser.parse_args()
    with mock_aws():
        boto3.client("dynamodb").create_table(**create_table_kwargs("bench"))
        services = build_services(Settings(table_name="bench", serialize_dynamodb_calls=True))
        client = TestClient(create_app(services))
        calls: Counter[str] = Counter()
        dynamo = services.agents._store._client  # noqa: SLF001 - count this store's requests
        dynamo.meta.events.register(
            "before-call.dynamodb", lambda event_name, **_: calls.update([event_name])
        )

        def post(path: str, body: dict) -> dict:
            response = client.post(path, json=body)
            response.raise_for_status()
            return response.json()

        members = [post("/v1/agents/", {"name": f"m{i}"})["id"] for i in range(args.members)]
        boss = post("/v1/agents/", {"name": "boss"})["id"]
        configs = {
            "round_robin": {"manager_type": "round_robin"},
            "supervisor": {"manager_type": "supervisor", "manager_agent_id": boss},
            "dynamic": {"manager_type": "dynamic", "manager_agent_id": boss},
        }
        print(f"{args.members} members, {args.sends} sends each, offline model, moto DynamoDB")
        for name, config in configs.items():
            group = post(
                "/v1/groups/",
                {"agent_ids": members, "description": name, "manager_config": config},
            )
            times, requests, steps = [], [], 0
            for index in range(args.sends):
                calls.clear()
                start = time.perf_counter()
                reply = post(f"/v1/groups/{group['id']}/messages", {"input": f"message {index}"})
                times.append((time.perf_counter() - start) * 1000)
                requests.append(sum(calls.values()))
                steps = reply["usage"]["step_count"]
            print(
                f"{name:12} median {statistics.median(times):7.1f} ms  "
                f"p90 {sorted(times)[int(len(times) * 0.9) - 1]:7.1f} ms  "
                f"DynamoDB requests/send {statistics.median(requests):5.0f}  "
                f"({statistics.median(requests) / steps:4.1f} per model step, {steps} steps)"
            )


if __name__ == "__main__":
    main()
