"""The `openai` provider: any server that speaks OpenAI's Chat Completions API.

Plain httpx rather than the OpenAI SDK, so vLLM, Ollama and LM Studio quirks (reasoning in
`reasoning_content`, arguments as objects, missing call ids) can be absorbed in one place.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from contextlib import closing
from typing import Any, Literal

import httpx

from core.llm import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Image,
    ModelResponseError,
    ModelServerError,
    Reasoning,
    ToolCall,
    Usage,
)
from infra.providers.http_errors import post_json, post_sse, response_shape, stream_error

PROVIDER = "openai"
_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]+")


def sanitize_name(name: str) -> str | None:
    """OpenAI rejects names outside [a-zA-Z0-9_-]{1,64}; keep what identifies the speaker."""
    cleaned = _NAME_UNSAFE.sub("_", name.strip()).strip("_")[:64]
    return cleaned or None


class OpenAICompatibleClient:
    """ModelClient for POST {base_url}/chat/completions."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout_s: float,
        http: httpx.Client | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.http = http or httpx.Client(timeout=timeout_s)

    def complete(self, request: ChatRequest) -> ChatResponse:
        data = post_json(
            self.http, PROVIDER, self.url, build_payload(request), self._headers(), self.timeout_s
        )
        return parse_response(data, request.thinking_argument)

    def complete_streaming(
        self, request: ChatRequest, on_delta: Callable[[str, str], None]
    ) -> ChatResponse:
        """The same turn as `complete`, streamed: text and reasoning pieces go to
        on_delta("text" | "reasoning", piece) as they arrive; the response is what
        `complete` would have returned for the equivalent non-streamed answer."""
        payload = build_payload(request)
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
        stream = StreamAssembler(on_delta)
        events = post_sse(self.http, PROVIDER, self.url, payload, self._headers(), self.timeout_s)
        with closing(events):
            for event in events:
                if stream.feed(event.data):
                    break
        return parse_response(stream.result(), request.thinking_argument)

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers


class StreamAssembler:
    """Folds chat.completion.chunk events back into one non-streamed chat.completion body."""

    def __init__(self, on_delta: Callable[[str, str], None]) -> None:
        self.on_delta = on_delta
        self.text: list[str] | None = None
        self.reasoning: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None
        self.done = False

    def feed(self, data: str) -> bool:
        """Take one `data:` payload; True once the stream says it is over ([DONE])."""
        if data.strip() == "[DONE]":
            self.done = True
            return True
        with response_shape(PROVIDER):
            chunk = json.loads(data)
            if not isinstance(chunk, dict):
                raise ModelResponseError(f"{PROVIDER} streamed a chunk that is not an object")
            if chunk.get("error") is not None:  # vLLM/OpenRouter report failures in-stream
                raise stream_error(PROVIDER, chunk["error"])
            if chunk.get("usage"):  # the include_usage chunk (or a running total)
                self.usage = chunk["usage"]
            for choice in chunk.get("choices") or ():
                if choice.get("index", 0) == 0:
                    self._choice(choice)
        return False

    def _choice(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta") or {}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            self.reasoning.append(reasoning)
            self.on_delta("reasoning", reasoning)
        content = delta.get("content")
        if isinstance(content, list):  # content parts, as some servers send
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if isinstance(content, str) and content:
            if self.text is None:
                self.text = []
            self.text.append(content)
            self.on_delta("text", content)
        for position, raw in enumerate(delta.get("tool_calls") or ()):
            self._tool_call(position, raw)
        if choice.get("finish_reason"):
            self.finish = choice["finish_reason"]

    def _tool_call(self, position: int, raw: dict[str, Any]) -> None:
        index = raw.get("index")
        index = int(index) if index is not None else len(self.calls) + position
        call = self.calls.setdefault(index, {"id": None, "name": "", "arguments": None})
        if raw.get("id") and not call["id"]:
            call["id"] = raw["id"]
        function = raw.get("function") or {}
        name = function.get("name")
        if name and name != call["name"]:  # sent once; some servers repeat it per chunk
            call["name"] += name
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            call["arguments"] = (call["arguments"] or "") + arguments
        elif arguments is not None:  # a whole object at once (Ollama-style)
            call["arguments"] = arguments

    def result(self) -> dict[str, Any]:
        """The equivalent non-streamed body, for parse_response."""
        if not self.done and self.finish is None:
            raise ModelServerError(f"{PROVIDER} stream ended before the answer was complete")
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(self.text) if self.text is not None else None,
        }
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        if self.calls:
            message["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"arguments": c["arguments"]}
                    | ({"name": c["name"]} if c["name"] else {}),  # no name: invalid answer
                }
                for _, c in sorted(self.calls.items())
            ]
        return {
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish}],
            "usage": self.usage,
        }


THINKING_KWARG = "thinking"
"""The argument legacy agents think aloud in, as Letta names it (INNER_THOUGHTS_KWARG)."""
THINKING_DESCRIPTION = (
    "Deep inner monologue private to you only. Think before you act, "
    f"so always generate arg '{THINKING_KWARG}' first before any other arg."
)


def build_payload(request: ChatRequest) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.extend(_message(m, request.thinking_argument) for m in request.messages)
    payload: dict[str, Any] = {"model": request.model, "messages": messages}
    if request.tools:
        payload["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": (
                        with_thinking(t.parameters) if request.thinking_argument else t.parameters
                    ),
                },
            }
            for t in request.tools
        ]
        payload["tool_choice"] = _tool_choice(request)
    if request.max_tokens is not None:
        payload["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        payload["temperature"] = request.temperature
    return payload


def _tool_choice(request: ChatRequest) -> str | dict[str, Any]:
    """A forced tool by name; `required` for legacy agents, which always call a tool (their
    reply is send_message), as Letta sends for them; otherwise the request's choice."""
    if request.forced_tool is not None:
        return {"type": "function", "function": {"name": request.forced_tool}}
    if request.thinking_argument and request.tool_choice == "auto":
        return "required"
    return request.tool_choice


def with_thinking(parameters: dict[str, Any]) -> dict[str, Any]:
    """A tool's JSON schema with the required `thinking` argument first, so the model
    writes its thought before the other arguments."""
    properties = dict(parameters.get("properties") or {})
    properties.pop(THINKING_KWARG, None)
    required = [r for r in parameters.get("required") or [] if r != THINKING_KWARG]
    return {
        **parameters,
        "type": "object",
        "properties": {
            THINKING_KWARG: {"type": "string", "description": THINKING_DESCRIPTION},
            **properties,
        },
        "required": [THINKING_KWARG, *required],
    }


def _message(message: ChatMessage, thinking_argument: bool = False) -> dict[str, Any]:
    if message.role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": message.text or "",
        }
    if message.role == "assistant":
        out: dict[str, Any] = {"role": "assistant", "content": message.text}
        if message.tool_calls:
            thought = _prompted_thought(message) if thinking_argument else None
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {
                        "name": c.name,
                        "arguments": (
                            _rethink(c.arguments, thought) if thought and i == 0 else c.arguments
                        ),
                    },
                }
                for i, c in enumerate(message.tool_calls)
            ]
        elif message.text is None:
            out["content"] = ""
        return out
    user: dict[str, Any] = {"role": "user"}
    if message.images:
        parts: list[dict[str, Any]] = []
        if message.text:
            parts.append({"type": "text", "text": message.text})
        parts.extend(_image_part(i) for i in message.images)
        user["content"] = parts
    else:
        user["content"] = message.text or ""
    name = sanitize_name(message.name) if message.name else None
    if name:
        user["name"] = name
    return user


def _prompted_thought(message: ChatMessage) -> str | None:
    reasoning = message.reasoning
    if reasoning is None or reasoning.native or not reasoning.text:
        return None
    return reasoning.text


def _rethink(arguments: str, thought: str) -> str:
    """A past call's arguments with its thought put back where the model wrote it, so the
    history shows the model the form it is asked for."""
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return arguments
    if not isinstance(parsed, dict) or THINKING_KWARG in parsed:
        return arguments
    return json.dumps({THINKING_KWARG: thought, **parsed})


def _image_part(image: Image) -> dict[str, Any]:
    url = image.url or f"data:{image.media_type or 'image/png'};base64,{image.data}"
    image_url: dict[str, Any] = {"url": url}
    if image.detail:
        image_url["detail"] = image.detail
    return {"type": "image_url", "image_url": image_url}


def parse_response(data: dict[str, Any], thinking_argument: bool = False) -> ChatResponse:
    with response_shape(PROVIDER):
        choices = data["choices"]
        if not choices:
            raise ModelResponseError(f"{PROVIDER} returned no choices")
        choice = choices[0]
        message = choice["message"]
        text = message.get("content")
        if isinstance(text, list):  # some servers return content parts even for text
            text = "".join(p.get("text", "") for p in text if isinstance(p, dict)) or None
        calls = tuple(_tool_call(i, c) for i, c in enumerate(message.get("tool_calls") or ()))
        usage = _usage(data.get("usage") or {})
        reasoning = _reasoning(message, usage)
        if thinking_argument:
            calls, thoughts = unpack_thinking(calls)
            if thoughts and (reasoning is None or not reasoning.text):
                reasoning = Reasoning(text="\n".join(thoughts), native=False)
        finish = choice.get("finish_reason")
    if text is None and not calls and reasoning is None and finish != "length":
        raise ModelResponseError(f"{PROVIDER} returned a message with no content or tool calls")
    finish_reason: Literal["stop", "tool_calls", "max_tokens"]
    if finish == "length":
        finish_reason = "max_tokens"
    elif calls:  # some servers say "stop" even when they called tools
        finish_reason = "tool_calls"
    else:
        finish_reason = "stop"
    return ChatResponse(
        text=text,
        tool_calls=calls,
        reasoning=reasoning,
        usage=usage,
        finish_reason=finish_reason,
    )


def unpack_thinking(calls: tuple[ToolCall, ...]) -> tuple[tuple[ToolCall, ...], list[str]]:
    """The calls without their `thinking` argument, and the thoughts taken out of them (a
    call whose arguments are not a JSON object is left for the loop to report)."""
    unpacked: list[ToolCall] = []
    thoughts: list[str] = []
    for call in calls:
        try:
            arguments = json.loads(call.arguments or "{}")
        except json.JSONDecodeError:
            unpacked.append(call)
            continue
        if not isinstance(arguments, dict) or THINKING_KWARG not in arguments:
            unpacked.append(call)
            continue
        thought = arguments.pop(THINKING_KWARG)
        if isinstance(thought, str) and thought.strip():
            thoughts.append(thought)
        unpacked.append(ToolCall(id=call.id, name=call.name, arguments=json.dumps(arguments)))
    return tuple(unpacked), thoughts


def _tool_call(index: int, raw: dict[str, Any]) -> ToolCall:
    function = raw["function"]
    arguments = function.get("arguments")
    if arguments is None:
        arguments = ""
    elif not isinstance(arguments, str):  # Ollama-style object arguments
        arguments = json.dumps(arguments)
    call_id = raw.get("id") or f"call_{uuid.uuid4().hex[:24]}"
    return ToolCall(id=str(call_id), name=str(function["name"]), arguments=arguments)


def _reasoning(message: dict[str, Any], usage: Usage) -> Reasoning | None:
    """vLLM and DeepSeek return `reasoning_content`; newer vLLM and OpenRouter `reasoning`."""
    text = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(text, str) and text:
        return Reasoning(text=text, native=True)
    if usage.reasoning_tokens:  # OpenAI o-series reason without returning any of it
        return Reasoning(native=True, omitted=True)
    return None


def _usage(raw: dict[str, Any]) -> Usage:
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        cached_input_tokens=_opt_int(prompt_details.get("cached_tokens")),
        reasoning_tokens=_opt_int(completion_details.get("reasoning_tokens")),
    )


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)
