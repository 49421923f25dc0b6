"""The `anthropic` provider: Anthropic's Messages API over httpx.

The Messages API wants strictly alternating user/assistant turns, tool results inside user
turns, and prior thinking blocks echoed back verbatim (with their signatures) before the
text and tool_use blocks of the same turn; this module does that translation.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import httpx

from core.llm import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Image,
    ModelResponseError,
    Reasoning,
    ToolCall,
    Usage,
)
from infra.providers.http_errors import post_json, response_shape

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
        headers = {
            "x-api-key": self.api_key,
            "anthropic-version": API_VERSION,
            "content-type": "application/json",
        }
        payload = build_payload(request, self.max_tokens_default, self.thinking_budget_tokens)
        data = post_json(self.http, PROVIDER, self.url, payload, headers, self.timeout_s)
        return parse_response(data)


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
