"""10 MB bodies under uvicorn (as StreamFunction and `make run` serve the app): each is
refused with a small 413, and the server keeps answering health checks within 100 ms
while it reads and checks them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from handler.app import create_app
from handler.composition import Services
from handler.json_limits import MAX_BODY_BYTES
from tests.servers import free_port, serving, uvicorn_server

SEND = "/v1/groups/group-123e4567-e89b-42d3-8456-426614174000/messages"


@pytest.fixture
def base_url(services: Services) -> Iterator[str]:
    port = free_port()
    with serving(uvicorn_server(create_app(services), port)):
        yield f"http://127.0.0.1:{port}"


def _large_bodies() -> list[bytes]:
    small_items = json.dumps({"messages": [{"role": "user", "content": "x"}] * 300_000})
    one_long_string = json.dumps({"input": "y" * (MAX_BODY_BYTES - 100)})
    return [
        small_items.encode(),  # the finding: 14 s of parsing, echoed whole in a 422
        one_long_string.encode(),  # read and checked whole, in a worker thread
        b"z" * (MAX_BODY_BYTES + 1),  # refused from its Content-Length
    ]


SENDER = """
import json, sys, httpx
base, send, *paths = sys.argv[1:]
answers = []
with httpx.Client(base_url=base, timeout=60) as client:
    for _ in range(2):
        for path in paths:
            with open(path, "rb") as body:
                response = client.post(send, content=body.read())
            answers.append([response.status_code, len(response.content)])
print(json.dumps(answers))
"""


def test_health_answers_within_100_ms_while_10_mb_bodies_arrive(
    base_url: str, tmp_path: Path
) -> None:
    """The bodies come from another process, so only the server's own work competes with
    the health checks. Before the request limits, the first body alone blocked the
    server's event loop for seconds."""
    paths = []
    for number, body in enumerate(_large_bodies()):
        paths.append(tmp_path / f"body{number}")
        paths[-1].write_bytes(body)
    with httpx.Client(base_url=base_url, timeout=5) as probe:
        probe.get("/v1/health/")  # connect and warm up before measuring
        sender = subprocess.Popen(
            [sys.executable, "-c", SENDER, base_url, SEND, *map(str, paths)],
            stdout=subprocess.PIPE,
            text=True,
        )
        latencies: list[float] = []
        while sender.poll() is None:
            started = time.perf_counter()
            assert probe.get("/v1/health/").status_code == 200
            latencies.append(time.perf_counter() - started)
            time.sleep(0.01)
    answers = json.loads(sender.communicate()[0])
    assert [status for status, _ in answers] == [413] * 6
    assert all(size < 300 for _, size in answers), answers
    assert len(latencies) >= 5, "the bodies were refused before any health check ran"
    # On a shared 2-core machine any process can be descheduled for 100 ms, bodies or not:
    # nine in ten checks within 100 ms, none near the seconds a blocked loop took.
    latencies.sort()
    assert latencies[int(len(latencies) * 0.9)] < 0.1, latencies[-5:]
    assert latencies[-1] < 1.0, latencies[-5:]
