"""The one registry of group patterns, by manager type."""

from __future__ import annotations

from core.errors import BadRequestError
from core.groups.dynamic import Dynamic
from core.groups.pattern import GroupPattern
from core.groups.round_robin import RoundRobin
from core.groups.sleeptime import Sleeptime
from core.groups.supervisor import Supervisor
from core.groups.voice_sleeptime import VoiceSleeptime

PATTERNS: dict[str, GroupPattern] = {
    pattern.manager_type: pattern
    for pattern in (RoundRobin(), Supervisor(), Dynamic(), Sleeptime(), VoiceSleeptime())
}


def pattern_for(manager_type: str) -> GroupPattern:
    pattern = PATTERNS.get(manager_type)
    if pattern is None:
        raise BadRequestError(f"Groups of manager type {manager_type!r} are not supported here.")
    return pattern
