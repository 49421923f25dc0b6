"""Lambda SnapStart hooks (template parameter SnapStartEnabled) for the API function.

With SnapStart, Lambda runs init once, snapshots the process, and starts new instances
from that snapshot. Whatever init made is then shared by every instance restored from
it: the state of `random` (each would draw the same numbers) and the AWS clients (whose
connections belonged to the instance that was snapshotted). After a restore, both are
made anew. `snapshot_restore_py` is part of Lambda's managed Python runtimes (3.12+);
elsewhere (local servers, tests) there are no snapshots and nothing is registered.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handler.composition import Services


def after_restore(services: Services) -> None:
    """Re-seed randomness from the OS and give the store and the run queue new clients."""
    from handler.composition import reconnect_aws

    random.seed()
    reconnect_aws(services)


def install(services: Services) -> bool:
    """Register `after_restore` when running in Lambda's runtime; True if registered."""
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:
        return False
    register_after_restore(after_restore, services)
    return True
