"""The built-in offline model: deterministic, no network, no key.

It plays every role well enough for the whole service to run and demo offline: it names
itself and quotes the latest message it received, thinks aloud each turn, answers through
send_message when the agent type needs it, stores facts when told to remember something,
broadcasts when lent the supervisor's tool, and plays the request's task: picks one of its
choices ("choose"), summarises ("summarize"), writes what it learned into memory
("remember", then memory_finish_edits; a voice sleeptime agent stores, rethinks and
finishes). The same request always gets the same response.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping

from core.llm import ChatMessage, ChatRequest, ChatResponse, Reasoning, ToolCall, Usage

_BLOCK_LABEL = re.compile(
    r"^<([A-Za-z0-9_/\-]+) chars_current=\"\d+\" chars_limit=\"\d+\"(?!.*read_only)", re.M
)
_MEMORY_TOOLS = ("core_memory_append", "memory_insert")
_VOICE_MEMORY_TOOLS = ("store_memories", "rethink_user_memory", "finish_rethinking_memory")
_QUOTE_LIMIT = 200


class OfflineModel:
    def __init__(self, latency_ms: int = 0) -> None:
        self._latency_s = latency_ms / 1000

    def complete(self, request: ChatRequest) -> ChatResponse:
        if self._latency_s:
            time.sleep(self._latency_s)
        name = str(request.metadata.get("agent_name") or "agent")
        tools = {t.name for t in request.tools}
        latest = _latest_input(request.messages)
        this_turn = _since_last_input(request.messages)
        used = {m.tool_name for m in this_turn if m.role == "tool"}
        if request.task == "summarize":
            return self._answer(request, f"Summary: {_quote(latest, 1500)}", None)
        if request.task == "choose":
            choices = request.choices
            choice = choices[_stable_index(latest, len(choices))] if choices else ""
            return self._answer(request, choice, f"{name} picks the next speaker: {choice}.")
        thought = f"{name} reads the latest message and decides how to answer."
        if "send_message_to_all_agents_in_group" in tools and not this_turn_called(
            this_turn, "send_message_to_all_agents_in_group"
        ):
            return self._call(
                request, thought, "send_message_to_all_agents_in_group", {"message": latest}
            )
        writable = _writable_labels(request.system)
        if tools & set(_VOICE_MEMORY_TOOLS):
            return self._voice_memory(request, name, latest, used, writable)
        finishing = used & set(_MEMORY_TOOLS) and "memory_finish_edits" not in used
        if "memory_finish_edits" in tools and finishing:
            return self._call(request, f"{name} is done editing memory.", "memory_finish_edits", {})
        memory_tool = next((t for t in _MEMORY_TOOLS if t in tools), None)
        wants_memory = request.task == "remember" or request.metadata.get("agent_type") in (
            "sleeptime_agent",
            "voice_sleeptime_agent",
        )
        wants_memory = wants_memory or "remember" in latest.lower()
        if wants_memory and memory_tool and writable and not used & set(_MEMORY_TOOLS):
            label = "human" if "human" in writable else writable[0]
            fact = f"Learned: {_quote(_gist(latest), _QUOTE_LIMIT)}"
            args = (
                {"label": label, "content": fact}
                if memory_tool == "core_memory_append"
                else {"label": label, "new_str": fact}
            )
            return self._call(
                request, f"{name} stores what it learned in {label!r}.", memory_tool, args
            )
        if (
            this_turn
            and this_turn[-1].role == "tool"
            and this_turn[-1].tool_name == ("send_message_to_all_agents_in_group")
        ):
            reply = f"{name} gathered the team's answers: {this_turn[-1].text}"
        else:
            reply = f'{name} here. You said: "{_quote(latest, _QUOTE_LIMIT)}"'
        if "send_message" in tools and request.metadata.get("agent_type") in (
            "memgpt_agent",
            "memgpt_v2_agent",
            "voice_convo_agent",
        ):
            return self._call(request, thought, "send_message", {"message": reply})
        return self._answer(request, reply, thought)

    def _voice_memory(
        self,
        request: ChatRequest,
        name: str,
        latest: str,
        used: set[str | None],
        writable: list[str],
    ) -> ChatResponse:
        """A voice sleeptime agent's pass, in the order its rules ask: store the evicted
        lines, rethink the user's memory with what they said, finish."""
        tools = {t.name for t in request.tools}
        gist = _quote(_gist(latest), _QUOTE_LIMIT)
        if "store_memories" in tools and "store_memories" not in used:
            chunk = {"start_index": 0, "end_index": 0, "context": gist}
            return self._call(
                request,
                f"{name} files the lines leaving context.",
                "store_memories",
                {"chunks": [chunk]},
            )
        rethinking = "rethink_user_memory" in tools and "rethink_user_memory" not in used
        if rethinking and "human" in writable:
            current = _block_value(request.system, "human")
            new_memory = f"{current}\nLearned: {gist}" if current else f"Learned: {gist}"
            return self._call(
                request,
                f"{name} rethinks what it knows about the user.",
                "rethink_user_memory",
                {"new_memory": new_memory},
            )
        if "finish_rethinking_memory" in tools:
            return self._call(
                request, f"{name} is done rethinking.", "finish_rethinking_memory", {}
            )
        return self._answer(request, f"{name} has nothing to store.", None)

    def complete_streaming(
        self, request: ChatRequest, on_delta: Callable[[str, str], None]
    ) -> ChatResponse:
        """The same answer, handed out a few words at a time (as a streaming provider)."""
        response = self.complete(request)
        if response.reasoning and response.reasoning.text:
            for piece in _pieces(response.reasoning.text):
                on_delta("reasoning", piece)
        for piece in _pieces(response.text or ""):
            on_delta("text", piece)
        return response

    # -- responses -----------------------------------------------------------------------

    def _answer(self, request: ChatRequest, text: str, thought: str | None) -> ChatResponse:
        reasoning = Reasoning(text=thought, native=False) if thought else None
        return ChatResponse(
            text=text,
            reasoning=reasoning,
            usage=_usage(request, text + (thought or "")),
            finish_reason="stop",
        )

    def _call(
        self, request: ChatRequest, thought: str, tool: str, arguments: Mapping[str, object]
    ) -> ChatResponse:
        payload = json.dumps(arguments, sort_keys=True)
        digest = hashlib.sha256(f"{_fingerprint(request)}|{tool}|{payload}".encode()).hexdigest()
        return ChatResponse(
            text=None,
            reasoning=Reasoning(text=thought, native=False),
            tool_calls=(ToolCall(id=f"call_{digest[:24]}", name=tool, arguments=payload),),
            usage=_usage(request, thought + payload),
            finish_reason="tool_calls",
        )


def _pieces(text: str, words: int = 3) -> list[str]:
    """Split text into chunks of a few words that concatenate back to it exactly."""
    parts = re.split(r"(?<=\s)", text)
    return [
        "".join(parts[i : i + words]) for i in range(0, len(parts), words) if parts[i : i + words]
    ]


def this_turn_called(messages: list[ChatMessage], tool: str) -> bool:
    return any(m.role == "tool" and m.tool_name == tool for m in messages)


def _latest_input(messages: tuple[ChatMessage, ...]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            return message.text or "(an image)"
    return ""


def _since_last_input(messages: tuple[ChatMessage, ...]) -> list[ChatMessage]:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            return list(messages[index + 1 :])
    return list(messages)


def _gist(text: str) -> str:
    """What to remember from a message: for a conversation handed over as `name: text`
    lines after an instruction, the user's lines; otherwise the message itself."""
    _, sep, body = text.partition("\n\n")
    lines = [line for line in body.splitlines() if line.strip()] if sep else []
    said = [line.split(": ", 1)[1] for line in lines if line.startswith("user: ")]
    return "; ".join(said or lines) or text


def _block_value(system: str, label: str) -> str:
    """A memory block's value as the system prompt shows it ("" when absent)."""
    pattern = rf"^<{re.escape(label)} chars_current=.*?<value>\n(.*?)\n</value>"
    found = re.search(pattern, system, re.M | re.S)
    return found.group(1) if found else ""


def _writable_labels(system: str) -> list[str]:
    return _BLOCK_LABEL.findall(system)


def _quote(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _stable_index(text: str, size: int) -> int:
    if size <= 1:
        return 0
    return int(hashlib.sha256(text.encode()).hexdigest(), 16) % size


def _fingerprint(request: ChatRequest) -> str:
    parts = [request.system, *(f"{m.role}:{m.text}:{m.tool_call_id}" for m in request.messages)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _tokens(text: str) -> int:
    return len(text) // 4 + 1


def _usage(request: ChatRequest, output: str) -> Usage:
    prompt = _tokens(request.system) + sum(_tokens(m.text or "") + 4 for m in request.messages)
    prompt += sum(_tokens(json.dumps(t.parameters)) for t in request.tools)
    return Usage(prompt_tokens=prompt, completion_tokens=_tokens(output))
