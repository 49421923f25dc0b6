"""Rows measured over HTTP against `make run`'s server (SQLite store) in a child process:
send time per pattern with an OpenAI-compatible model that answers at once, supervisor
fan-out at 200 ms model latency, and the server's memory after many sends."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.figures import Figure
from bench.local_server import LocalServer
from bench.model_server import ModelServer
from bench.patterns import PATTERNS, build_group, send


def _timed(server: LocalServer, group: str, sends: int) -> list[float]:
    times = []
    for index in range(sends):
        start = time.perf_counter()
        send(server.call, group, f"message {index}")
        times.append((time.perf_counter() - start) * 1000)
    return times


def pattern_rows(data_dir: Path, sends: int, memory_sends: int) -> dict[str, Any]:
    """Send time per pattern over HTTP (model: bench/model_server.py), then the server's
    resident memory before and after `memory_sends` round_robin-3 sends."""
    results: dict[str, Any] = {}
    with (
        ModelServer() as model,
        LocalServer(
            data_dir,
            OPENAI_BASE_URL=model.base_url,
            OPENAI_API_KEY="bench",
            DEFAULT_MODEL="openai/bench",
        ) as server,
    ):
        for pattern in PATTERNS:
            group = build_group(server.call, pattern, model="openai/bench")
            send(server.call, group, "warm up")
            results[pattern] = Figure.of(_timed(server, group, sends))
        group = build_group(server.call, "round_robin-3", model="openai/bench")
        before = server.rss_mb()
        times = _timed(server, group, memory_sends)
        results["memory"] = {
            "before_mb": before,
            "after_mb": server.rss_mb(),
            "sends": memory_sends,
            "ms": Figure.of(times),
        }
    return results


def fan_out(data_dir: Path, sends: int, latency_ms: int = 200) -> dict[str, Figure]:
    """Supervisor send time with 4 workers and with 1, every model call `latency_ms` slow
    (the offline model's OFFLINE_MODEL_LATENCY_MS)."""
    results: dict[str, Figure] = {}
    with LocalServer(data_dir, OFFLINE_MODEL_LATENCY_MS=str(latency_ms)) as server:
        for workers in (1, 4):
            group = build_group(server.call, f"supervisor-{workers}")
            send(server.call, group, "warm up")
            results[f"supervisor-{workers}"] = Figure.of(_timed(server, group, sends))
    return results
