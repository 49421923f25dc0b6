"""The `openai` provider: any server that speaks OpenAI's Chat Completions API.

Plain httpx rather than the OpenAI SDK, so vLLM, Ollama and LM Studio quirks (reasoning in
`reasoning_content`, arguments as objects, missing call ids) can be absorbed in one place.
"""

from __future__ import annotations

import json
import re
import uuid
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
        headers = {"content-type": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        data = post_json(
            self.http, PROVIDER, self.url, build_payload(request), headers, self.timeout_s
        )
        return parse_response(data)


def build_payload(request: ChatRequest) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.extend(_message(m) for m in request.messages)
    payload: dict[str, Any] = {"model": request.model, "messages": messages}
    if request.tools:
        payload["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in request.tools
        ]
        payload["tool_choice"] = request.tool_choice
    if request.max_tokens is not None:
        payload["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        payload["temperature"] = request.temperature
    return payload


def _message(message: ChatMessage) -> dict[str, Any]:
    if message.role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": message.text or "",
        }
    if message.role == "assistant":
        out: dict[str, Any] = {"role": "assistant", "content": message.text}
        if message.tool_calls:
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in message.tool_calls
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


def _image_part(image: Image) -> dict[str, Any]:
    url = image.url or f"data:{image.media_type or 'image/png'};base64,{image.data}"
    image_url: dict[str, Any] = {"url": url}
    if image.detail:
        image_url["detail"] = image.detail
    return {"type": "image_url", "image_url": image_url}


def parse_response(data: dict[str, Any]) -> ChatResponse:
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
