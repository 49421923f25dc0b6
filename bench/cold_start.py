"""Cold start: a fresh process importing the Lambda entry and answering its first request,
against a bare FastAPI + Mangum + boto3 handler doing the same DynamoDB read.

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
    start = time.perf_counter()
    status = _child_app() if kind == "app" else _child_bare()
    ms = (time.perf_counter() - start) * 1000
    # VmHWM, not getrusage: Linux carries the forking parent's peak into ru_maxrss.
    status_lines = Path("/proc/self/status").read_text().splitlines()
    peak_kb = next(int(line.split()[1]) for line in status_lines if line.startswith("VmHWM"))
    peak_mb = peak_kb / 1024
    print(json.dumps({"ms": ms, "peak_mb": peak_mb, "status": status}))


def measure(rounds: int) -> dict[str, list[dict[str, float]]]:
    """{"app": [...], "bare": [...]}: one figure per fresh process."""
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
        results: dict[str, list[dict[str, float]]] = {"app": [], "bare": []}
        for index in range(rounds + 1):
            for kind in ("bare", "app") if index % 2 else ("app", "bare"):
                done = subprocess.run(
                    [sys.executable, "-m", "bench.cold_start", "--child", kind],
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                figures = json.loads(done.stdout.strip().splitlines()[-1])
                assert figures["status"] == 200, (kind, done.stdout, done.stderr)
                if index:  # the first round warms the page cache and .pyc files
                    results[kind].append(figures)
        return results
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--child", choices=("app", "bare"))
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
