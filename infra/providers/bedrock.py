"""The `bedrock` provider: Amazon Bedrock's Converse API through a boto3 client (IAM auth).

Converse is one request shape for every Bedrock model, but it cannot fetch image URLs and
only Claude takes a `thinking` config, so those limits are enforced here: an image part it
cannot take is a ModelRequestError naming the part, never silently dropped.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Literal

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    ConnectTimeoutError,
    HTTPClientError,
    ReadTimeoutError,
)

from core.llm import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Image,
    ModelError,
    ModelRateLimitError,
    ModelRequestError,
    ModelResponseError,
    ModelServerError,
    ModelTimeoutError,
    Reasoning,
    ToolCall,
    Usage,
)
from infra.providers.http_errors import parse_retry_after, response_shape, with_retry_after

PROVIDER = "bedrock"
FinishReason = Literal["stop", "tool_calls", "max_tokens"]
_STOP: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "guardrail_intervened": "stop",
    "content_filtered": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "max_tokens",
    "model_context_window_exceeded": "max_tokens",
}
_FORMATS = {"png": "png", "jpeg": "jpeg", "jpg": "jpeg", "gif": "gif", "webp": "webp"}
_ERRORS: dict[str, type[ModelError]] = {
    "ThrottlingException": ModelRateLimitError,
    "ServiceQuotaExceededException": ModelRateLimitError,
    "TooManyRequestsException": ModelRateLimitError,
    "ModelTimeoutException": ModelTimeoutError,
    "RequestTimeout": ModelTimeoutError,
    "ServiceUnavailableException": ModelServerError,
    "InternalServerException": ModelServerError,
    "ModelNotReadyException": ModelServerError,
    "ModelErrorException": ModelServerError,
    "ValidationException": ModelRequestError,
    "AccessDeniedException": ModelRequestError,
    "ResourceNotFoundException": ModelRequestError,
}


class BedrockConverseClient:
    """ModelClient over `bedrock-runtime` Converse.

    Give it a client with botocore retries off (`max_attempts=1`): RetryingModelClient owns
    retries, so a throttled call is not retried twice over.
    """

    def __init__(
        self, client: Any, thinking_budget_tokens: int = 1024, max_tokens_default: int = 4096
    ) -> None:
        self.client = client
        self.thinking_budget_tokens = thinking_budget_tokens
        self.max_tokens_default = max_tokens_default

    def complete(self, request: ChatRequest) -> ChatResponse:
        kwargs = build_request(request, self.thinking_budget_tokens, self.max_tokens_default)
        try:
            response = self.client.converse(**kwargs)
        except ClientError as exc:
            raise map_client_error(exc) from exc
        except (ReadTimeoutError, ConnectTimeoutError) as exc:
            raise ModelTimeoutError(f"{PROVIDER} timed out: {exc}") from exc
        except (ConnectionError, HTTPClientError) as exc:
            raise ModelServerError(f"{PROVIDER} could not be reached: {exc}") from exc
        except BotoCoreError as exc:  # no credentials, parameter validation
            raise ModelRequestError(f"{PROVIDER} request failed: {exc}") from exc
        return parse_response(response)


def map_client_error(exc: ClientError) -> ModelError:
    error = exc.response.get("Error", {})
    meta = exc.response.get("ResponseMetadata", {})
    code = str(error.get("Code", ""))
    status = meta.get("HTTPStatusCode")
    cls = _ERRORS.get(code)
    if cls is None:
        if status == 429:
            cls = ModelRateLimitError
        elif status is not None and status >= 500:
            cls = ModelServerError
        else:
            cls = ModelRequestError
    detail = f"{PROVIDER} {code or 'error'}: {error.get('Message', str(exc))}"
    headers = {str(k).lower(): str(v) for k, v in (meta.get("HTTPHeaders") or {}).items()}
    return with_retry_after(cls(detail, status), parse_retry_after(headers))


def is_claude(model_id: str) -> bool:
    return "anthropic." in model_id or "claude" in model_id.lower()


def build_request(
    request: ChatRequest, thinking_budget_tokens: int = 1024, max_tokens_default: int = 4096
) -> dict[str, Any]:
    messages = build_messages(request.messages)
    kwargs: dict[str, Any] = {"modelId": request.model, "messages": messages}
    if request.system:
        kwargs["system"] = [{"text": request.system}]
    thinking = request.enable_thinking and is_claude(request.model)
    tool_config = _tool_config(request, messages, thinking)
    if tool_config:
        kwargs["toolConfig"] = tool_config
    inference: dict[str, Any] = {}
    if request.max_tokens is not None:
        inference["maxTokens"] = request.max_tokens
    if thinking:
        max_tokens = inference.get("maxTokens", max_tokens_default)
        if max_tokens <= thinking_budget_tokens:  # the budget counts inside maxTokens
            max_tokens += thinking_budget_tokens
        inference["maxTokens"] = max_tokens
        kwargs["additionalModelRequestFields"] = {
            "thinking": {"type": "enabled", "budget_tokens": thinking_budget_tokens}
        }
    elif request.temperature is not None:
        inference["temperature"] = request.temperature  # Claude thinking forbids it
    if inference:
        kwargs["inferenceConfig"] = inference
    return kwargs


def _tool_config(
    request: ChatRequest, messages: list[dict[str, Any]], thinking: bool
) -> dict[str, Any] | None:
    """Converse has no tool_choice "none"; tools are left out unless the history needs them."""
    uses_tools = any("toolUse" in b or "toolResult" in b for m in messages for b in m["content"])
    if not request.tools or (request.tool_choice == "none" and not uses_tools):
        return None
    tools = []
    for t in request.tools:
        spec: dict[str, Any] = {"name": t.name, "inputSchema": {"json": t.parameters}}
        if t.description:
            spec["description"] = t.description
        tools.append({"toolSpec": spec})
    config: dict[str, Any] = {"tools": tools}
    if request.tool_choice == "required" and not thinking:
        forced = request.forced_tool
        config["toolChoice"] = {"tool": {"name": forced}} if forced else {"any": {}}
    elif request.tool_choice == "auto":
        config["toolChoice"] = {"auto": {}}
    return config


def build_messages(messages: tuple[ChatMessage, ...]) -> list[dict[str, Any]]:
    """Alternating turns, tool results inside user turns and ahead of any text there."""
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role, blocks = _blocks(index, message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user":
            turn["content"].sort(key=lambda b: "toolResult" not in b)
    return turns


def _blocks(index: int, message: ChatMessage) -> tuple[str, list[dict[str, Any]]]:
    if message.role == "tool":
        result: dict[str, Any] = {
            "toolUseId": message.tool_call_id,
            "content": [{"text": message.text or "(no output)"}],  # blank text is rejected
        }
        if message.is_error:
            result["status"] = "error"
        return "user", [{"toolResult": result}]
    if message.role == "assistant":
        blocks = _reasoning_blocks(message.reasoning)
        if message.text:
            blocks.append({"text": message.text})
        for call in message.tool_calls:
            blocks.append(
                {"toolUse": {"toolUseId": call.id, "name": call.name, "input": _input(call)}}
            )
        return "assistant", blocks
    blocks = []
    text = message.text
    if text and message.name:
        text = f"{message.name}: {text}"  # Converse has no per-message speaker field
    if text:
        blocks.append({"text": text})
    for n, image in enumerate(message.images):
        blocks.append({"image": _image(f"messages[{index}].images[{n}]", image)})
    return "user", blocks


def _reasoning_blocks(reasoning: Reasoning | None) -> list[dict[str, Any]]:
    if reasoning is None or not reasoning.native:
        return []
    blocks: list[dict[str, Any]] = []
    if reasoning.signature:
        text = {"text": reasoning.text, "signature": reasoning.signature}
        blocks.append({"reasoningContent": {"reasoningText": text}})
    if reasoning.redacted_data:
        data = base64.b64decode(reasoning.redacted_data)
        blocks.append({"reasoningContent": {"redactedContent": data}})
    return blocks


def _input(call: ToolCall) -> dict[str, Any]:
    try:
        value = json.loads(call.arguments) if call.arguments else {}
    except ValueError:
        return {"_raw_arguments": call.arguments}
    return value if isinstance(value, dict) else {"_raw_arguments": call.arguments}


def _image(part: str, image: Image) -> dict[str, Any]:
    if image.url and not image.url.startswith("s3://"):
        raise ModelRequestError(
            f"{part}: Bedrock Converse cannot fetch image URLs; send the image as base64 data"
        )
    hint = image.media_type or (image.url or "").rsplit(".", 1)[-1]
    fmt = _FORMATS.get(hint.rsplit("/", 1)[-1].lower())
    if fmt is None:
        raise ModelRequestError(
            f"{part}: image type {hint!r} is not supported by Bedrock (png, jpeg, gif, webp)"
        )
    if image.url:
        return {"format": fmt, "source": {"s3Location": {"uri": image.url}}}
    try:
        data = base64.b64decode(image.data or "", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ModelRequestError(f"{part}: image data is not valid base64") from exc
    return {"format": fmt, "source": {"bytes": data}}


def parse_response(response: dict[str, Any]) -> ChatResponse:
    texts: list[str] = []
    calls: list[ToolCall] = []
    thoughts: list[dict[str, Any]] = []
    redacted: list[bytes] = []
    with response_shape(PROVIDER):
        stop = response["stopReason"]
        if stop in ("malformed_model_output", "malformed_tool_use"):
            raise ModelResponseError(f"{PROVIDER} stopped with {stop}")
        for block in response["output"]["message"]["content"]:
            if "text" in block:
                texts.append(block["text"])
            elif "toolUse" in block:
                use = block["toolUse"]
                calls.append(
                    ToolCall(
                        id=use["toolUseId"], name=use["name"], arguments=json.dumps(use["input"])
                    )
                )
            elif "reasoningContent" in block:
                content = block["reasoningContent"]
                if "reasoningText" in content:
                    thoughts.append(content["reasoningText"])
                elif "redactedContent" in content:
                    redacted.append(content["redactedContent"])
        usage = _usage(response["usage"])
    return ChatResponse(
        text="".join(texts) if texts else None,
        tool_calls=tuple(calls),
        reasoning=_reasoning(thoughts, redacted),
        usage=usage,
        finish_reason=_STOP.get(stop, "tool_calls" if calls else "stop"),
    )


def _reasoning(thoughts: list[dict[str, Any]], redacted: list[bytes]) -> Reasoning | None:
    """One signed block fits Reasoning; several can't be replayed, so keep their text only."""
    if not thoughts and not redacted:
        return None
    return Reasoning(
        text="\n\n".join(str(t.get("text", "")) for t in thoughts),
        native=True,
        signature=thoughts[0].get("signature") if len(thoughts) == 1 else None,
        redacted_data=base64.b64encode(redacted[0]).decode() if len(redacted) == 1 else None,
    )


def _usage(raw: dict[str, Any]) -> Usage:
    """inputTokens excludes cache reads and writes; prompt_tokens includes them, as OpenAI's."""
    read = raw.get("cacheReadInputTokens")
    write = raw.get("cacheWriteInputTokens")
    return Usage(
        prompt_tokens=int(raw["inputTokens"]) + int(read or 0) + int(write or 0),
        completion_tokens=int(raw["outputTokens"]),
        cached_input_tokens=None if read is None else int(read),
        cache_write_tokens=None if write is None else int(write),
    )
