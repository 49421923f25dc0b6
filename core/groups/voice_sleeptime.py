"""voice_sleeptime: the main agent (the manager) answers; when its in-context messages pass
`max_message_buffer_length`, the oldest down to `min_message_buffer_length` leave its
context and go to the sleeptime agents as a background Run."""

from __future__ import annotations

from pydantic import BaseModel

from core.errors import BadRequestError
from core.groups.engine import GroupEngine
from core.groups.main_agent import MainAgentAnswers
from core.groups.send import GroupSend
from core.groups.transcript import as_lines
from core.records import GroupRecord
from core.schemas.groups import DEFAULT_MAX_BUFFER, DEFAULT_MIN_BUFFER

LOWEST_BUFFER = 4
"""Both bounds must be above this (Letta's rule)."""
BOUNDS = ("max_message_buffer_length", "min_message_buffer_length")

EVICTION_PROMPT = (
    "These messages are leaving the voice agent's context. Store what matters from them in "
    "the memory blocks you share with it, then stop.\n\n{lines}"
)


class VoiceSleeptime(MainAgentAnswers):
    manager_type = "voice_sleeptime"

    def configure(self, group: GroupRecord) -> None:
        super().configure(group)
        check_buffer(group.max_message_buffer_length, group.min_message_buffer_length)

    def update(self, group: GroupRecord, manager: BaseModel) -> None:
        """As Letta: a bound left out (or null) keeps its current value, so one bound can
        change alone; a group created without bounds has the defaults as current values."""
        sent = manager.model_fields_set - {"manager_type"}
        for field in sent - set(BOUNDS):
            setattr(group, field, getattr(manager, field))
        changed = {f: getattr(manager, f) for f in BOUNDS if f in sent}
        changed = {f: v for f, v in changed.items() if v is not None}
        if not changed:
            return
        group.max_message_buffer_length = changed.get(
            BOUNDS[0], group.max_message_buffer_length or DEFAULT_MAX_BUFFER
        )
        group.min_message_buffer_length = changed.get(
            BOUNDS[1], group.min_message_buffer_length or DEFAULT_MIN_BUFFER
        )

    def run(self, engine: GroupEngine, send: GroupSend) -> None:
        main = send.group.manager_agent_id or ""
        turn = engine.take_turn(send, main)
        send.stop_reason = turn.stop_reason
        group = send.group
        max_len = group.max_message_buffer_length or DEFAULT_MAX_BUFFER
        min_len = group.min_message_buffer_length or DEFAULT_MIN_BUFFER
        evicted = engine.trim_context(send, main, above=max_len, keep=min_len)
        if not evicted or not group.agent_ids:
            return
        text = EVICTION_PROMPT.format(lines=as_lines(evicted))
        for member in group.agent_ids:
            engine.start_background(send, member, text, task="remember")


def check_buffer(max_length: int | None, min_length: int | None) -> None:
    """Both bounds or neither; both above LOWEST_BUFFER; max above min (400 naming the rule)."""
    if max_length is None and min_length is None:
        return
    if max_length is None or min_length is None:
        raise BadRequestError(
            "max_message_buffer_length and min_message_buffer_length must be given together."
        )
    if max_length <= LOWEST_BUFFER or min_length <= LOWEST_BUFFER:
        raise BadRequestError(
            f"Both message buffer lengths must be greater than {LOWEST_BUFFER} "
            f"(got max={max_length}, min={min_length})."
        )
    if max_length <= min_length:
        raise BadRequestError(
            "max_message_buffer_length must be greater than min_message_buffer_length "
            f"(got max={max_length}, min={min_length})."
        )
