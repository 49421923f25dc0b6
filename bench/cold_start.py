"""Cold start: a fresh process importing the Lambda entry and answering its first request,
against a bare FastAPI + Mangum + boto3 handler doing the same DynamoDB read; and, for
what a first send costs, a fresh process whose first request is a round_robin-3 send.

    .venv/bin/python -m bench.cold_start [--rounds 7]

Both run in new interpreters (alternating, so load on the machine hits both alike) against
one moto server in this process, as Lambda's init and first invoke would: the clock starts
before the first import and stops when the first response is back. Peak memory is the
child's maximum resident set.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TABLE = "bench-cold"


def _child_app() -> int:
    import handler.lambda_entry as entry
    from bench.lambda_events import LambdaContext, rest_event

    response: dict[str, Any] = entry.handler(rest_event("GET", "/v1/agents/"), LambdaContext())
    return int(response["statusCode"])


def _child_send() -> int:
    """A first request that is a group send (offline model): it loads what listing does
    not (the group engine, the agent loop, the model providers)."""
    import handler.lambda_entry as entry
    from bench.lambda_events import LambdaContext, rest_event

    path = f"/v1/groups/{os.environ['BENCH_GROUP_ID']}/messages"
    event = rest_event("POST", path, {"input": "hello team"})
    response: dict[str, Any] = entry.handler(event, LambdaContext())
    return int(response["statusCode"])


def _child_setup() -> None:
    """Three agents and a round_robin group for the send children; prints the group id."""
    import handler.lambda_entry as entry
    from bench.lambda_events import LambdaContext, rest_event

    def call(method: str, path: str, body: Any) -> Any:
        answer = entry.handler(rest_event(method, path, body), LambdaContext())
        assert answer["statusCode"] == 200, answer
        return json.loads(answer["body"])

    members = [call("POST", "/v1/agents/", {"name": f"member-{n}"})["id"] for n in "abc"]
    group = call("POST", "/v1/groups/", {"agent_ids": members, "description": "bench"})
    print(json.dumps({"group_id": group["id"]}))


def _child_bare() -> int:
    """What any FastAPI service on Lambda pays at least: the framework, the adapter, the
    SDK, one client and one read."""
    import boto3
    from fastapi import FastAPI
    from mangum import Mangum

    from bench.lambda_events import LambdaContext, rest_event

    app = FastAPI()
    client = boto3.client("dynamodb", region_name=os.environ["AWS_REGION"])

    @app.get("/v1/agents/")
    def agents() -> list[dict[str, Any]]:
        answer = client.query(
            TableName=os.environ["TABLE_NAME"],
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": {"S": "T#default#agent"}},
            Limit=50,
        )
        return [json.loads(item["doc"]["S"]) for item in answer.get("Items", [])]

    response: dict[str, Any] = Mangum(app, lifespan="off")(
        rest_event("GET", "/v1/agents/"), LambdaContext()
    )
    return int(response["statusCode"])


def child(kind: str) -> None:
    if kind == "setup":
        _child_setup()
        return
    start = time.perf_counter()
    status = {"app": _child_app, "send": _child_send, "bare": _child_bare}[kind]()
    ms = (time.perf_counter() - start) * 1000
    # VmHWM, not getrusage: Linux carries the forking parent's peak into ru_maxrss.
    status_lines = Path("/proc/self/status").read_text().splitlines()
    peak_kb = next(int(line.split()[1]) for line in status_lines if line.startswith("VmHWM"))
    peak_mb = peak_kb / 1024
    print(json.dumps({"ms": ms, "peak_mb": peak_mb, "status": status}))


def measure(rounds: int) -> dict[str, list[dict[str, float]]]:
    """{"app": [...], "bare": [...], "send": [...]}: one figure per fresh process."""
    import boto3
    from moto.server import ThreadedMotoServer

    from infra.table_definition import create_table_kwargs

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint).create_table(
            **create_table_kwargs(TABLE)
        )
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "AWS_REGION": "us-east-1",
            "TABLE_NAME": TABLE,
            "POWERTOOLS_METRICS_NAMESPACE": "Bench",
            "POWERTOOLS_SERVICE_NAME": "bench",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "PYTHONDONTWRITEBYTECODE": "0",
        }
        env.pop("STORE_BACKEND", None)
        setup = _run_child("setup", env)
        env["BENCH_GROUP_ID"] = setup["group_id"]
        results: dict[str, list[dict[str, float]]] = {"app": [], "bare": [], "send": []}
        for index in range(rounds + 1):
            for kind in ("bare", "app", "send") if index % 2 else ("send", "app", "bare"):
                figures = _run_child(kind, env)
                assert figures["status"] == 200, (kind, figures)
                if index:  # the first round warms the page cache and .pyc files
                    results[kind].append(figures)
        return results
    finally:
        server.stop()


def _run_child(kind: str, env: dict[str, str]) -> dict[str, Any]:
    """Run `--child kind` in a new interpreter; its last line of output, as JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.cold_start", "--child", kind],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith('{"')]
    answer: dict[str, Any] = json.loads(lines[-1])
    return answer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--child", choices=("app", "bare", "send", "setup"))
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    import statistics

    results = measure(args.rounds)
    for kind, figures in results.items():
        times = [f["ms"] for f in figures]
        peaks = [f["peak_mb"] for f in figures]
        print(
            f"{kind:5} median {statistics.median(times):6.0f} ms (min {min(times):.0f}, max "
            f"{max(times):.0f})  peak {statistics.median(peaks):.0f} MB"
        )
    ratio = statistics.median(f["ms"] for f in results["app"]) / statistics.median(
        f["ms"] for f in results["bare"]
    )
    print(f"ratio {ratio:.2f}x")


if __name__ == "__main__":
    main()
