"""The five group patterns, each a function over the shared group-turn engine.

Each takes the engine, the send and its lease, runs its speakers, and leaves the stop reason
on the send. A speaker that stops for any reason but end_turn stops the whole pattern with
that reason (its messages are kept and shown).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from core import ids
from core.records import MessageRecord, TranscriptRecord
from core.runtime.group_engine import GroupEngine, GroupSend, Turn
from core.runtime.tools import tool_specs
from core.runtime.transcript import as_lines, public_text
from core.runtime.turn import TurnTool
from core.schemas.groups import DEFAULT_TERMINATION_TOKEN

Manager = Callable[[GroupEngine, GroupSend, str], None]


def round_robin(engine: GroupEngine, send: GroupSend, lease: str) -> None:
    members = send.group.agent_ids
    for turn_number in range(send.group.max_turns or len(members)):
        turn = engine.speak(send, lease, members[turn_number % len(members)])
        if turn.stop_reason != "end_turn":
            send.stop_reason = turn.stop_reason
            return


def supervisor(engine: GroupEngine, send: GroupSend, lease: str) -> None:
    """The supervisor answers; its broadcast tool runs every worker in parallel and returns
    one entry per worker, in member order."""
    manager = send.group.manager_agent_id or ""
    workers = send.group.agent_ids

    def broadcast(message: str) -> str:
        note = _note(engine, send, manager, message)

        def work(worker: str) -> Turn | Exception:
            try:
                return _work(worker)
            except Exception as error:  # noqa: BLE001 - one worker's failure is its entry
                return error

        def _work(worker: str) -> Turn:
            return engine.speak(
                send,
                lease,
                worker,
                extra=[note.model_copy(update={"id": ids.new_id(ids.MESSAGE)})],
                to_transcript_now=False,
                visible=False,
            )

        with ThreadPoolExecutor(max_workers=max(1, len(workers))) as pool:
            futures = [pool.submit(work, worker) for worker in workers]
            turns = [f.result() for f in futures]
        entries = []
        for worker, turn in zip(workers, turns, strict=True):
            if isinstance(turn, Exception):
                entries.append(
                    {
                        "agent_id": worker,
                        "name": send.names[worker],
                        "response": None,
                        "error": f"failed: {type(turn).__name__}",
                    }
                )
                continue
            send.usage.tally(turn.agent_id, turn.result.agent.name).merge(turn.result.usage)
            engine.commit_turn(send, lease, turn)
            replies = [t for t in (public_text(r) for r in turn.own) if t]
            entry = {"agent_id": turn.agent_id, "name": send.names[turn.agent_id]}
            if turn.stop_reason == "end_turn":
                entry["response"] = "\n".join(replies)
            else:
                entry["error"] = f"stopped with {turn.stop_reason}"
                entry["response"] = "\n".join(replies) or None
            entries.append(entry)
        return json.dumps(entries)

    [spec] = tool_specs(["send_message_to_all_agents_in_group"])
    lent = TurnTool(spec, lambda args: broadcast(str(args["message"])))
    turn = engine.speak(send, lease, manager, extra_tools=(lent,))
    send.stop_reason = turn.stop_reason
    # The workers' replies reached the supervisor through its tool result: do not relay
    # them to it again next time.
    engine.append(send, lease, [], (manager, send.group.next_transcript_seq - 1))


def dynamic(engine: GroupEngine, send: GroupSend, lease: str) -> None:
    """The manager picks each speaker among the members other than the previous one; a
    reply holding the termination token ends the run."""
    members = send.group.agent_ids
    manager = send.group.manager_agent_id or ""
    token = send.group.termination_token or DEFAULT_TERMINATION_TOKEN
    previous: str | None = None
    for _ in range(send.group.max_turns or len(members)):
        candidates = [m for m in members if m != previous] or members
        choice = _choose(engine, send, lease, manager, candidates, previous)
        if choice is None:
            return
        turn = engine.speak(send, lease, choice)
        if turn.stop_reason != "end_turn":
            send.stop_reason = turn.stop_reason
            return
        if any(token in (public_text(r) or "") for r in turn.own):
            send.stop_reason = "end_turn"
            return
        previous = choice
    send.stop_reason = "max_steps"


def _choose(
    engine: GroupEngine,
    send: GroupSend,
    lease: str,
    manager: str,
    candidates: list[str],
    previous: str | None,
) -> str | None:
    """Ask the manager for the next speaker; one corrective retry, then the next member in
    order. Returns None if the manager's own turn failed (the send stops with its reason)."""
    names = [send.names[c] for c in candidates]
    entries = engine.store.children(
        send.tenant,
        TranscriptRecord,
        send.group.id,
        limit=50,
        newest_first=True,
        after_seq=send.group.transcript_start_seq - 1,
    )
    prompt = (
        "Conversation so far:\n"
        f"{as_lines(list(reversed(entries))) or '(nothing yet)'}\n\n"
        f"Choose who speaks next. Candidates: {', '.join(names)}. "
        "Answer with exactly one candidate's name."
    )
    for _ in range(2):
        turn = engine.speak(
            send,
            lease,
            manager,
            extra=[_note(engine, send, None, prompt, name="system")],
            relay_transcript=False,
            to_transcript_now=False,
            task="choose",
            choices=tuple(names),
        )
        send.usage.tally(manager, turn.result.agent.name).merge(turn.result.usage)
        if turn.stop_reason != "end_turn":
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
    return _next_in_order(send.group.agent_ids, candidates, previous)


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


def _next_in_order(members: list[str], candidates: list[str], previous: str | None) -> str:
    start = members.index(previous) + 1 if previous in members else 0
    for offset in range(len(members)):
        member = members[(start + offset) % len(members)]
        if member in candidates:
            return member
    return candidates[0]


def _note(
    engine: GroupEngine,
    send: GroupSend,
    sender_id: str | None,
    text: str,
    name: str | None = None,
) -> MessageRecord:
    """An input message from someone other than the user (the supervisor, the engine)."""
    return MessageRecord(
        id=ids.new_id(ids.MESSAGE),
        created_at=engine.clock.now(),
        parent_id="",
        seq=0,
        role="user",
        text=text,
        name=name or (send.names.get(sender_id or "") if sender_id else None),
        sender_id=sender_id,
        group_id=send.group.id,
    )
