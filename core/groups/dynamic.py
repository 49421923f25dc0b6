"""dynamic: the manager picks each speaker among the members other than the previous one;
a reply holding the termination token ends the send, and so does `max_turns` (both with
`end_turn`, as Letta: the conversation ran as configured). The manager names speakers, so
members must have distinct names."""

from __future__ import annotations

import re

from core.errors import BadRequestError
from core.groups.engine import GroupEngine
from core.groups.pattern import GroupPattern
from core.groups.send import GroupSend
from core.groups.transcript import as_lines, public_text
from core.records import GroupRecord
from core.schemas.groups import DEFAULT_TERMINATION_TOKEN

CONTEXT_ENTRIES = 50
"""How much of the transcript the manager sees when it chooses."""


class Dynamic(GroupPattern):
    manager_type = "dynamic"
    needs_manager = True

    def check_members(self, group: GroupRecord, names: list[str]) -> None:
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise BadRequestError(f"Duplicate agent names found: {', '.join(duplicates)}")

    def run(self, engine: GroupEngine, send: GroupSend) -> None:
        members = send.group.agent_ids
        token = send.group.termination_token or DEFAULT_TERMINATION_TOKEN
        previous: str | None = None
        for _ in range(send.group.max_turns or len(members)):
            candidates = [m for m in members if m != previous] or members
            choice = self._choose(engine, send, candidates, previous)
            if choice is None:
                return
            turn = engine.take_turn(send, choice)
            if not turn.ended_normally:
                send.stop_reason = turn.stop_reason
                return
            if any(token in (public_text(r) or "") for r in turn.own):
                send.stop_reason = "end_turn"
                return
            previous = choice
        send.stop_reason = "end_turn"

    @staticmethod
    def _choose(
        engine: GroupEngine, send: GroupSend, candidates: list[str], previous: str | None
    ) -> str | None:
        """Ask the manager for the next speaker; one corrective retry, then the next member
        in order. None if the manager's own turn failed (the send stops with its reason)."""
        manager = send.group.manager_agent_id or ""
        names = [send.names[c] for c in candidates]
        entries = engine.transcript_since(send, 0, CONTEXT_ENTRIES)
        prompt = (
            "Conversation so far:\n"
            f"{as_lines(entries) or '(nothing yet)'}\n\n"
            f"Choose who speaks next. Candidates: {', '.join(names)}. "
            "Answer with exactly one candidate's name."
        )
        for _ in range(2):
            question = engine.note(send, prompt, name="system")
            turn = engine.ask(send, manager, question, task="choose", choices=tuple(names))
            if not turn.ended_normally:
                send.stop_reason = turn.stop_reason
                return None
            answer = "\n".join(t for t in (public_text(r) for r in turn.own) if t)
            choice = match_member(answer, candidates, send.names)
            if choice is not None:
                return choice
            prompt = (
                f"Your answer {answer!r} does not name exactly one candidate. "
                f"Candidates: {', '.join(names)}. Answer with one name only."
            )
        return next_in_order(send.group.agent_ids, candidates, previous)


def match_member(answer: str, candidates: list[str], names: dict[str, str]) -> str | None:
    """An exact member id, else a member name as a whole word (case-insensitive); None when
    nothing or more than one candidate matches."""
    by_id = [c for c in candidates if c in answer]
    if by_id:
        return by_id[0] if len(by_id) == 1 else None
    hits = [
        c
        for c in candidates
        if re.search(rf"(?<!\w){re.escape(names[c])}(?!\w)", answer, re.IGNORECASE)
    ]
    return hits[0] if len(hits) == 1 else None


def next_in_order(members: list[str], candidates: list[str], previous: str | None) -> str:
    """The member after `previous` in speaking order that may speak now."""
    start = members.index(previous) + 1 if previous in members else 0
    for offset in range(len(members)):
        member = members[(start + offset) % len(members)]
        if member in candidates:
            return member
    return candidates[0]
