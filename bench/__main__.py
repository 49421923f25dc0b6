"""`make bench`: every benchmark row, printed as one table and written to docs/benchmarks.md
with the date, the machine and the versions.

    .venv/bin/python -m bench [--quick]

Not part of `make test`: it prints figures, it asserts nothing (tests/ asserts counts).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import cold_start, in_process, over_http
from bench.figures import Figure

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"

PRICES = {
    "date": "2025-06 (us-east-1 list prices; not re-checked here: no internet)",
    "write_unit": 0.625 / 1_000_000,  # DynamoDB on-demand, per write request unit
    "read_unit": 0.125 / 1_000_000,  # DynamoDB on-demand, per read request unit
    "gb_second": 0.0000133334,  # Lambda arm64, per GB-second
    "request": 0.20 / 1_000_000,  # Lambda, per invocation
}
MEMORY_GB = 1.0  # ApiFunction's MemorySize (template.yaml): 1024 MB


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _tally_figures(tallies: list[Any]) -> dict[str, Figure]:
    return {
        "requests": Figure.of([t.total_requests for t in tallies]),
        "read_units": Figure.of([t.read_units for t in tallies]),
        "write_units": Figure.of([t.write_units for t in tallies]),
        "bytes": Figure.of([t.bytes_read + t.bytes_written for t in tallies]),
    }


def measure(quick: bool) -> tuple[list[tuple[str, str, str, str]], list[str]]:
    """The table's rows (what, figure, ratio, target) and notes under it."""
    rows: list[tuple[str, str, str, str]] = []
    notes: list[str] = []
    sends = 3 if quick else 8
    with (
        tempfile.TemporaryDirectory(prefix="bench-") as tmp,
        contextlib.redirect_stdout(
            io.StringIO()  # the service's own log and EMF lines
        ),
    ):
        data = Path(tmp)

        _log("1/6 sends through the Lambda entry (moto)")
        lambda_rows = in_process.lambda_patterns(sends)
        for pattern, found in lambda_rows.items():
            figures = _tally_figures(found["tallies"])
            per_step = figures["requests"].median / max(found["steps"], 1)
            # A sleeptime send starts a background run; its requests count with the send.
            background = ", incl. its background run" if pattern == "sleeptime" else ""
            rows.append(
                (
                    f"{pattern}: send via Lambda entry, in-process moto",
                    f"{found['ms'].show('ms')}; {figures['requests'].show()} DynamoDB requests "
                    f"({per_step:.1f} per foreground model step, {found['steps']} "
                    f"step{'s' if found['steps'] != 1 else ''}{background})",
                    "",
                    "≤ 10 requests" if pattern == "round_robin-3" else "",
                )
            )

        _log("2/6 sends over HTTP to make run (SQLite) with bench/model_server.py")
        http = over_http.pattern_rows(data / "http", 5 if quick else 20, 50 if quick else 1000)
        for pattern in lambda_rows:
            rows.append((f"{pattern}: send over HTTP, make run", http[pattern].show("ms"), "", ""))
        memory = http["memory"]
        rows.append(
            (
                f"make run memory after {memory['sends']:,} round_robin-3 sends over HTTP",
                f"{memory['after_mb']:.0f} MB (before: {memory['before_mb']:.0f} MB; "
                f"sends {memory['ms'].show('ms')})",
                "",
                "< 300 MB",
            )
        )

        _log("3/6 cost per send against history length (seeded on SQLite, copied to moto)")
        sizes = (10, 1000) if quick else (10, 1000, 10000)
        history = in_process.history_rows(sizes, 2 if quick else 3)
        base = _tally_figures(history[sizes[0]]["tallies"])
        for found in history.values():
            figures = _tally_figures(found["tallies"])
            rows.append(
                (
                    f"round_robin-3 send after {found['earlier']:,} earlier messages "
                    f"({found['items']:,} items in the table)",
                    f"{figures['requests'].show()} requests, "
                    f"{figures['read_units'].show(digits=1)} RRU, "
                    f"{figures['write_units'].show()} WRU, {figures['bytes'].show('B')}",
                    f"requests {figures['requests'].median / base['requests'].median:.2f}×, "
                    f"bytes {figures['bytes'].median / base['bytes'].median:.2f}× "
                    f"(vs {history[sizes[0]]['earlier']})",
                    "same requests at 10 and 10,000",
                )
            )

        _log("4/6 cold start against a bare FastAPI + Mangum + boto3 handler")
        cold = cold_start.measure(3 if quick else 7)
        app_ms = Figure.of([f["ms"] for f in cold["app"]])
        bare_ms = Figure.of([f["ms"] for f in cold["bare"]])
        app_peak = Figure.of([f["peak_mb"] for f in cold["app"]])
        bare_peak = Figure.of([f["peak_mb"] for f in cold["bare"]])
        rows.append(
            (
                "cold start: import + first request (GET /v1/agents/) of the Lambda entry",
                f"{app_ms.show('ms')}, peak {app_peak.show('MB')}",
                f"{app_ms.median / bare_ms.median:.2f}× (bare: {bare_ms.show('ms')}, "
                f"peak {bare_peak.show('MB')})",
                "≤ 1.25×",
            )
        )
        send_ms = Figure.of([f["ms"] for f in cold["send"]])
        send_peak = Figure.of([f["peak_mb"] for f in cold["send"]])
        rows.append(
            (
                "cold start: import + a round_robin-3 send as the first request (offline model)",
                f"{send_ms.show('ms')}, peak {send_peak.show('MB')}",
                f"{send_ms.median / bare_ms.median:.2f}× (the bare listing above)",
                "",
            )
        )

        _log("5/6 supervisor fan-out at 200 ms model latency (make run)")
        fan = over_http.fan_out(data / "fan", 3 if quick else 5)
        rows.append(
            (
                "supervisor, 4 workers vs 1, 200 ms per model call, make run",
                f"{fan['supervisor-4'].show('ms')}",
                f"{fan['supervisor-4'].median / fan['supervisor-1'].median:.2f}× "
                f"(1 worker: {fan['supervisor-1'].show('ms')})",
                "≤ 1.3×",
            )
        )

        _log("6/6 the SQLite store's send time against items stored")
        stored = (100, 10_000) if quick else (100, 100_000)
        embedded = in_process.embedded_store_rows(stored, 10 if quick else 20)
        small, large = embedded[stored[0]], embedded[stored[1]]
        rows.append(
            (
                f"round_robin-3 send on the SQLite store holding {stored[1]:,} items",
                large.show("ms"),
                f"{large.median / small.median:.2f}× ({stored[0]} items: {small.show('ms')})",
                "≤ 1.5×",
            )
        )

    rr3 = _tally_figures(lambda_rows["round_robin-3"]["tallies"])
    seconds = lambda_rows["round_robin-3"]["ms"].median / 1000
    dynamo = (
        rr3["write_units"].median * PRICES["write_unit"]
        + rr3["read_units"].median * PRICES["read_unit"]
    ) * 1000
    compute = (seconds * MEMORY_GB * PRICES["gb_second"] + PRICES["request"]) * 1000
    rows.append(
        (
            "cost per 1,000 three-agent round_robin sends, model excluded",
            f"${dynamo + compute:.4f}: DynamoDB ${dynamo:.4f} "
            f"({rr3['write_units'].median:.0f} WRU + {rr3['read_units'].median:.1f} RRU per "
            f"send), Lambda ${compute:.4f} ({seconds * MEMORY_GB:.2f} GB-s per send)",
            "",
            "",
        )
    )
    notes.append(
        f"Prices: {PRICES['date']}: DynamoDB on-demand $0.625 per million write and $0.125 "
        "per million read request units; Lambda arm64 $0.0000133334 per GB-s and $0.20 per "
        "million requests (API Gateway's $3.50 per million REST requests comes on top). The "
        "Lambda time is the in-process send on moto, whose own work is included: an upper "
        "bound for the service's compute, while real DynamoDB adds 5–10 ms per request."
    )
    notes.append(
        "Units are computed from item sizes (bench/dynamo_meter.py): 1 WRU per KB written, "
        "1 RRU per 4 KB read strongly consistent (half eventually), twice inside "
        "transactions; queries are charged on the items they return."
    )
    notes.append(
        "moto runs with its transaction rollback copies turned off (bench/in_process.py "
        "`_NoTableCopies`), or tables of 10,000 messages could not be measured at all; "
        "counts, units and bytes do not depend on it."
    )
    return rows, notes


def _versions() -> str:
    names = ["fastapi", "pydantic", "starlette", "mangum", "boto3", "moto", "aws-lambda-powertools"]
    found = [f"{name} {metadata.version(name)}" for name in names]
    return f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, " + ", ".join(
        found
    )


def _machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, StopIteration):
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
        memory = f", {kb / 1024 / 1024:.1f} GB RAM"
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({model}){memory}"


def render(rows: list[tuple[str, str, str, str]], notes: list[str], took_s: float) -> str:
    header = ("Measurement", "Median (min–max)", "Ratio (baseline)", "Target")
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(cell or "" for cell in row) + " |" for row in rows),
    ]
    return "\n".join(
        [
            "# Benchmarks",
            "",
            "Written by `make bench` (bench/__main__.py); every figure is a median with its "
            "minimum and maximum. Offline model unless a row says otherwise.",
            "",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC (the run took {took_s:.0f} s)",
            f"- Machine: {_machine()}, shared with other work while it ran",
            f"- Versions: {_versions()}",
            "",
            *lines,
            "",
            *(f"- {note}" for note in notes),
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer sends, smaller sizes")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    start = time.perf_counter()
    rows, notes = measure(args.quick)
    text = render(rows, notes, time.perf_counter() - start)
    print(text)
    if not args.no_write:
        DOC.write_text(text)
        _log(f"written to {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
