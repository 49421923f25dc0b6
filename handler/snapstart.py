"""Lambda SnapStart hooks (template parameter SnapStartEnabled) for the API function.

With SnapStart, Lambda runs init once, snapshots the process, and starts new instances
from that snapshot. Init is then paid once per version, not per cold start, so before the
snapshot everything the app makes on first use is made: every route and every service.
Whatever init made is shared by every instance restored from the snapshot: the state of
`random` (each would draw the same numbers) and the AWS clients (whose connections
belonged to the instance that was snapshotted). After a restore, both are made anew.
`snapshot_restore_py` is part of Lambda's managed Python runtimes (3.12+); elsewhere
(local servers, tests) there are no snapshots and nothing is registered.
"""

from __future__ import annotations

import gc
import random
from typing import TYPE_CHECKING

from core.groups.registry import load_all as load_all_patterns
from core.lazy_model import build_all as build_all_models
from handler.routing import LazyAPIRoute

if TYPE_CHECKING:
    from fastapi import FastAPI

    from handler.composition import Services


def before_snapshot(app: FastAPI) -> None:
    """Build every route, service, pattern and model, so restored instances start warm,
    and freeze it all out of later garbage collections."""
    for route in app.routes:
        if isinstance(route, LazyAPIRoute):
            route.build()
    app.state.services.make_all()
    load_all_patterns()
    build_all_models()
    gc.freeze()


def after_restore(services: Services) -> None:
    """Re-seed randomness from the OS and give the store and the run queue new clients."""
    from handler.composition import reconnect_aws

    random.seed()
    reconnect_aws(services)


def install(app: FastAPI) -> bool:
    """Register both hooks when running in Lambda's runtime; True if registered."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(before_snapshot, app)
    register_after_restore(after_restore, app.state.services)
    return True
