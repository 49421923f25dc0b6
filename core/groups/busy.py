"""Whether a send holds a group: the checks other changes make before they touch it.

Kept apart from core.groups.lease (which brings the whole send machinery) so services that
only check, such as agent and group edits, load none of it.
"""

from __future__ import annotations

from datetime import datetime

from core.errors import ConflictError
from core.records import GroupRecord


def ensure_free(group: GroupRecord, now: datetime) -> None:
    """409 while another send holds the group."""
    if group.lease_id and group.lease_expires_at and group.lease_expires_at > now:
        raise ConflictError(
            f"Group {group.id} is busy with another send; retry once it has finished."
        )


def ensure_idle(group: GroupRecord, now: datetime, change: str) -> None:
    """409 for a change that would pull the ground from under a running send (a reset, an
    edit of its transcript, members leaving, the group or a member deleted): it waits for
    the send to finish."""
    if group.lease_id and group.lease_expires_at and group.lease_expires_at > now:
        raise ConflictError(
            f"Group {group.id} has a send in progress; {change} must wait until it has "
            "finished. Retry then."
        )
