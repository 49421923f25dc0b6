"""The one registry of group patterns, by manager type.

A pattern's module (and the send machinery behind it) is imported the first time a group
of its type is made, changed or sent to, not when the registry is.
"""

from __future__ import annotations

import importlib
import threading

from core.errors import BadRequestError
from core.groups.pattern import GroupPattern

_MODULES = {
    "round_robin": ("core.groups.round_robin", "RoundRobin"),
    "supervisor": ("core.groups.supervisor", "Supervisor"),
    "dynamic": ("core.groups.dynamic", "Dynamic"),
    "sleeptime": ("core.groups.sleeptime", "Sleeptime"),
    "voice_sleeptime": ("core.groups.voice_sleeptime", "VoiceSleeptime"),
}
MANAGER_TYPES = tuple(_MODULES)
_patterns: dict[str, GroupPattern] = {}
_lock = threading.Lock()


def pattern_for(manager_type: str) -> GroupPattern:
    pattern = _patterns.get(manager_type)
    if pattern is not None:
        return pattern
    where = _MODULES.get(manager_type)
    if where is None:
        raise BadRequestError(f"Groups of manager type {manager_type!r} are not supported here.")
    with _lock:
        if manager_type not in _patterns:
            module, name = where
            made: GroupPattern = getattr(importlib.import_module(module), name)()
            if made.manager_type != manager_type:
                raise AssertionError(f"{module}.{name} is for {made.manager_type!r}")
            _patterns[manager_type] = made
    return _patterns[manager_type]


def load_all() -> None:
    """Import every pattern now (before a SnapStart snapshot, where init is paid once)."""
    for manager_type in MANAGER_TYPES:
        pattern_for(manager_type)
