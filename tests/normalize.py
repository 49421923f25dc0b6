"""Responses made comparable across runs: ids and dates replaced by stable placeholders."""

from __future__ import annotations

import json
import re
from typing import Any

_ID = re.compile(r"\b([a-z]+)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)?")
_TIMING = re.compile(r"duration|latency|_ns$|_ms$")


def normalized(body: Any) -> Any:
    """Ids become `<kind>#n` by first appearance (so references still line up), dates
    `<date>`, and measured times (durations, latencies) `<time>`."""
    seen: dict[str, str] = {}

    def name(match: re.Match[str]) -> str:
        return seen.setdefault(match.group(0), f"<{match.group(1)}#{len(seen)}>")

    return _untimed(json.loads(_DATE.sub("<date>", _ID.sub(name, json.dumps(body)))))


def _untimed(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "<time>" if _TIMING.search(k) and isinstance(v, int | float) else _untimed(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value
