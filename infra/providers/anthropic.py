"""The `anthropic` provider: Anthropic's Messages API over httpx.

The Messages API wants strictly alternating user/assistant turns, tool results inside user
turns, and prior thinking blocks echoed back verbatim (with their signatures) before the
text and tool_use blocks of the same turn; this module does that translation.
"""

from __future__ import annotations

import json
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

PROVIDER = "anthropic"
API_VERSION = "2023-06-01"
_TOOL_CHOICE = {"auto": "auto", "required": "any", "none": "none"}
FinishReason = Literal["stop", "tool_calls", "max_tokens"]
_STOP: dict[str, FinishReason] = {
    "tool_use": "tool_calls",
    "max_tokens": "max_tokens",
    "model_context_window_exceeded": "max_tokens",
}


class AnthropicClient:
    """ModelClient for POST {base_url}/v1/messages."""

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.anthropic.com",
        timeout_s: float = 60.0,
        http: httpx.Client | None = None,
        max_tokens_default: int = 4096,
        thinking_budget_tokens: int = 1024,
    ) -> None:
        self.url = base_url.rstrip("/") + "/v1/messages"
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.http = http or httpx.Client(timeout=timeout_s)
        self.max_tokens_default = max_tokens_default
        self.thinking_budget_tokens = thinking_budget_tokens

    def complete(self, request: ChatRequest) -> ChatResponse:
        payload = build_payload(request, self.max_tokens_default, self.thinking_budget_tokens)
        data = post_json(self.http, PROVIDER, self.url, payload, self._headers(), self.timeout_s)
        return parse_response(data)

    def complete_streaming(
        self, request: ChatRequest, on_delta: Callable[[str, str], None]
    ) -> ChatResponse:
        """The same turn as `complete`, streamed: text and thinking pieces go to
        on_delta("text" | "reasoning", piece) as they arrive; the response is what
        `complete` would have returned for the equivalent non-streamed message."""
        payload = build_payload(request, self.max_tokens_default, self.thinking_budget_tokens)
        payload["stream"] = True
        stream = StreamAssembler(on_delta)
        events = post_sse(self.http, PROVIDER, self.url, payload, self._headers(), self.timeout_s)
        with closing(events):
            for event in events:
                if stream.feed(event.event, event.data):
                    break
        return parse_response(stream.result())

    def _headers(self) -> dict[str, str]:
        return {
            "x-api-key": self.api_key,
            "anthropic-version": API_VERSION,
            "content-type": "application/json",
        }


class StreamAssembler:
    """Folds Messages API stream events back into the message a non-streamed call returns."""

    def __init__(self, on_delta: Callable[[str, str], None]) -> None:
        self.on_delta = on_delta
        self.message: dict[str, Any] | None = None
        self.blocks: dict[int, dict[str, Any]] = {}
        self.partial_json: dict[int, list[str]] = {}
        self.stopped = False

    def feed(self, name: str | None, data: str) -> bool:
        """Take one event; True once message_stop arrives."""
        with response_shape(PROVIDER):
            event = json.loads(data)
            if not isinstance(event, dict):
                raise ModelResponseError(f"{PROVIDER} streamed an event that is not an object")
            kind = event.get("type") or name
            if kind == "error":
                raise stream_error(PROVIDER, event.get("error"))
            if kind == "message_start":
                self.message = dict(event["message"])
                self.message["usage"] = dict(self.message.get("usage") or {})
            elif kind == "content_block_start":
                self._start(int(event["index"]), dict(event["content_block"]))
            elif kind == "content_block_delta":
                self._delta(int(event["index"]), event["delta"])
            elif kind == "content_block_stop":
                self._stop(int(event["index"]))
            elif kind == "message_delta":
                message = self._started()
                for key, value in (event.get("delta") or {}).items():
                    message[key] = value  # stop_reason, stop_sequence
                for key, value in (event.get("usage") or {}).items():
                    if value is not None:  # output_tokens is cumulative
                        message["usage"][key] = value
            elif kind == "message_stop":
                self.stopped = True
                return True
            # ping and event types added later are ignored
        return False

    def _started(self) -> dict[str, Any]:
        if self.message is None:
            raise ModelResponseError(f"{PROVIDER} streamed content before message_start")
        return self.message

    def _start(self, index: int, block: dict[str, Any]) -> None:
        self._started()
        self.blocks[index] = block
        if block["type"] == "tool_use":
            self.partial_json[index] = []
        elif block["type"] == "text" and block.get("text"):
            self.on_delta("text", block["text"])
        elif block["type"] == "thinking" and block.get("thinking"):
            self.on_delta("reasoning", block["thinking"])

    def _delta(self, index: int, delta: dict[str, Any]) -> None:
        block = self.blocks[index]
        kind = delta["type"]
        if kind == "text_delta":
            block["text"] = block.get("text", "") + delta["text"]
            self.on_delta("text", delta["text"])
        elif kind == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + delta["thinking"]
            self.on_delta("reasoning", delta["thinking"])
        elif kind == "signature_delta":
            block["signature"] = block.get("signature", "") + delta["signature"]
        elif kind == "input_json_delta":
            self.partial_json[index].append(delta["partial_json"])
        # citations_delta and other additions are not part of ChatResponse

    def _stop(self, index: int) -> None:
        block = self.blocks[index]
        if block["type"] == "tool_use" and index in self.partial_json:
            text = "".join(self.partial_json.pop(index))
            try:
                block["input"] = json.loads(text) if text.strip() else block.get("input", {})
            except ValueError as exc:
                raise ModelResponseError(
                    f"{PROVIDER} streamed tool input that is not JSON: {text[:200]!r}"
                ) from exc

    def result(self) -> dict[str, Any]:
        """The equivalent non-streamed message, for parse_response."""
        if self.message is None or not (self.stopped or self.message.get("stop_reason")):
            raise ModelServerError(f"{PROVIDER} stream ended before the message was complete")
        for index in list(self.partial_json):  # a tool_use block that never got its stop
            self._stop(index)
        return {**self.message, "content": [self.blocks[i] for i in sorted(self.blocks)]}


def build_payload(
    request: ChatRequest, max_tokens_default: int = 4096, thinking_budget_tokens: int = 1024
) -> dict[str, Any]:
    max_tokens = request.max_tokens or max_tokens_default
    payload: dict[str, Any] = {"model": request.model, "messages": build_messages(request)}
    if request.system:
        payload["system"] = request.system
    if request.tools:
        payload["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in request.tools
        ]
        choice = _TOOL_CHOICE[request.tool_choice]
        if request.enable_thinking and choice == "any":
            choice = "auto"  # extended thinking rejects forced tool use
        if request.forced_tool is not None and choice == "any":
            payload["tool_choice"] = {"type": "tool", "name": request.forced_tool}
        else:
            payload["tool_choice"] = {"type": choice}
    if request.enable_thinking:
        # budget_tokens counts inside max_tokens and must stay below it.
        if max_tokens <= thinking_budget_tokens:
            max_tokens += thinking_budget_tokens
        payload["thinking"] = {"type": "enabled", "budget_tokens": thinking_budget_tokens}
    elif request.temperature is not None:
        payload["temperature"] = request.temperature  # thinking only allows the default
    payload["max_tokens"] = max_tokens
    return payload


def build_messages(request: ChatRequest) -> list[dict[str, Any]]:
    """Alternating turns: consecutive same-role items merge, tool results ride in user turns."""
    turns: list[dict[str, Any]] = []
    for message in request.messages:
        role, blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user":  # tool_result blocks must lead their user turn
            turn["content"].sort(key=lambda b: b["type"] != "tool_result")
    return turns


def _blocks(message: ChatMessage) -> tuple[str, list[dict[str, Any]]]:
    if message.role == "tool":
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id,
            "content": message.text or "",
        }
        if message.is_error:
            result["is_error"] = True
        return "user", [result]
    if message.role == "assistant":
        blocks = _thinking_blocks(message.reasoning)
        if message.text:
            blocks.append({"type": "text", "text": message.text})
        for call in message.tool_calls:
            blocks.append(
                {"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call)}
            )
        return "assistant", blocks
    blocks = []
    text = message.text
    if text and message.name:
        text = f"{message.name}: {text}"  # the Messages API has no per-message speaker field
    if text:
        blocks.append({"type": "text", "text": text})
    blocks.extend(_image_block(i) for i in message.images)
    return "user", blocks


def _thinking_blocks(reasoning: Reasoning | None) -> list[dict[str, Any]]:
    """Only provider-signed thinking can be replayed; prompted inner thoughts are not sent."""
    if reasoning is None or not reasoning.native:
        return []
    blocks: list[dict[str, Any]] = []
    if reasoning.signature:
        blocks.append(
            {"type": "thinking", "thinking": reasoning.text, "signature": reasoning.signature}
        )
    if reasoning.redacted_data:
        blocks.append({"type": "redacted_thinking", "data": reasoning.redacted_data})
    return blocks


def _input(call: ToolCall) -> dict[str, Any]:
    """tool_use.input must be an object; malformed model arguments are replayed as a string."""
    try:
        value = json.loads(call.arguments) if call.arguments else {}
    except ValueError:
        return {"_raw_arguments": call.arguments}
    return value if isinstance(value, dict) else {"_raw_arguments": call.arguments}


def _image_block(image: Image) -> dict[str, Any]:
    if image.url:
        source: dict[str, Any] = {"type": "url", "url": image.url}
    else:
        source = {
            "type": "base64",
            "media_type": image.media_type or "image/png",
            "data": image.data,
        }
    return {"type": "image", "source": source}


def parse_response(data: dict[str, Any]) -> ChatResponse:
    if data.get("type") == "error":
        raise ModelResponseError(f"{PROVIDER} returned an error body: {data.get('error')}")
    texts: list[str] = []
    calls: list[ToolCall] = []
    thinking: list[dict[str, Any]] = []
    redacted: list[str] = []
    with response_shape(PROVIDER):
        content = data["content"]
        if not isinstance(content, list):
            raise ModelResponseError(f"{PROVIDER} returned content that is not a list")
        for block in content:
            kind = block["type"]
            if kind == "text":
                texts.append(block["text"])
            elif kind == "tool_use":
                calls.append(
                    ToolCall(
                        id=block["id"], name=block["name"], arguments=json.dumps(block["input"])
                    )
                )
            elif kind == "thinking":
                thinking.append(block)
            elif kind == "redacted_thinking":
                redacted.append(block["data"])
        usage = _usage(data.get("usage") or {})
        stop = data.get("stop_reason")
    return ChatResponse(
        text="".join(texts) if texts else None,
        tool_calls=tuple(calls),
        reasoning=_reasoning(thinking, redacted),
        usage=usage,
        finish_reason=_STOP.get(stop or "", "tool_calls" if calls else "stop"),
    )


def _reasoning(thinking: list[dict[str, Any]], redacted: list[str]) -> Reasoning | None:
    """Reasoning holds one signed block; with several, their signatures can't be replayed."""
    if not thinking and not redacted:
        return None
    text = "\n\n".join(str(b.get("thinking", "")) for b in thinking)
    signature = thinking[0].get("signature") if len(thinking) == 1 else None
    return Reasoning(
        text=text,
        native=True,
        signature=signature,
        redacted_data=redacted[0] if len(redacted) == 1 else None,
        omitted=bool(thinking) and not text,
    )


def _usage(raw: dict[str, Any]) -> Usage:
    """prompt_tokens counts cached input too, as OpenAI's does; Anthropic reports it apart."""
    cache_read = raw.get("cache_read_input_tokens")
    cache_write = raw.get("cache_creation_input_tokens")
    prompt = int(raw.get("input_tokens") or 0) + int(cache_read or 0) + int(cache_write or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=int(raw.get("output_tokens") or 0),
        cached_input_tokens=None if cache_read is None else int(cache_read),
        cache_write_tokens=None if cache_write is None else int(cache_write),
    )
