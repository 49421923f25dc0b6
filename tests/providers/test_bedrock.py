"""Bedrock Converse adapter against a real boto3 client under botocore's Stubber."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, ReadTimeoutError
from botocore.stub import Stubber

from core.llm import (
    ChatMessage,
    ChatRequest,
    Image,
    ModelError,
    ModelRateLimitError,
    ModelRequestError,
    ModelResponseError,
    ModelServerError,
    ModelTimeoutError,
    Reasoning,
    ToolCall,
    ToolSpec,
    Usage,
)
from infra.providers.bedrock import BedrockConverseClient
from tests.providers.helpers import load

CLAUDE = "anthropic.claude-3-7-sonnet-20250219-v1:0"
WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={"type": "object", "properties": {"location": {"type": "string"}}},
)
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
REDACTED = load("bedrock_redacted_reasoning")["output"]["message"]["content"][0][
    "reasoningContent"
]["redactedContent"]
SIGNATURE = load("bedrock_reasoning")["output"]["message"]["content"][0]["reasoningContent"][
    "reasoningText"
]["signature"]


@pytest.fixture(scope="module")
def boto_client() -> Any:
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def stub(boto_client: Any) -> Iterator[Stubber]:
    with Stubber(boto_client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def converse_reply(name: str) -> dict[str, Any]:
    """The fixture as boto3 returns it: redactedContent is bytes, not base64 text."""
    data = load(name)
    for block in data["output"]["message"]["content"]:
        reasoning = block.get("reasoningContent", {})
        if "redactedContent" in reasoning:
            reasoning["redactedContent"] = base64.b64decode(reasoning["redactedContent"])
    return data


def request(*messages: ChatMessage, model: str = CLAUDE, **kwargs: object) -> ChatRequest:
    msgs = messages or (ChatMessage(role="user", text="Hello"),)
    return ChatRequest(
        provider="bedrock",
        model=model,
        system="You are Cyd.",
        messages=msgs,
        **kwargs,  # type: ignore[arg-type]
    )


def test_plain_text_reply_and_minimal_request(boto_client: Any, stub: Stubber) -> None:
    stub.add_response(
        "converse",
        converse_reply("bedrock_text"),
        expected_params={
            "modelId": CLAUDE,
            "system": [{"text": "You are Cyd."}],
            "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
        },
    )
    response = BedrockConverseClient(boto_client).complete(request())
    assert response.text == "Hello! Cyd here. Nothing to add to Ada's plan."
    assert response.finish_reason == "stop"
    assert response.usage == Usage(125, 60)


def test_request_shape_of_a_full_conversation(boto_client: Any, stub: Stubber) -> None:
    convo = (
        ChatMessage(role="user", text="Weather?", name="Ada"),
        ChatMessage(
            role="assistant",
            text="Checking.",
            reasoning=Reasoning(
                text="Need weather.", native=True, signature=SIGNATURE, redacted_data=REDACTED
            ),
            tool_calls=(ToolCall("tooluse_1", "get_weather", '{"location": "Paris"}'),),
        ),
        ChatMessage(role="tool", text="18C", tool_call_id="tooluse_1"),
        ChatMessage(
            role="user", text="And here?", images=(Image(data=PNG, media_type="image/png"),)
        ),
        ChatMessage(role="assistant", text="Looks sunny.", tool_calls=()),
        ChatMessage(role="tool", text="", tool_call_id="tooluse_2", is_error=True),
    )
    stub.add_response(
        "converse",
        converse_reply("bedrock_text"),
        expected_params={
            "modelId": CLAUDE,
            "system": [{"text": "You are Cyd."}],
            "messages": [
                {"role": "user", "content": [{"text": "Ada: Weather?"}]},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "reasoningContent": {
                                "reasoningText": {"text": "Need weather.", "signature": SIGNATURE}
                            }
                        },
                        {"reasoningContent": {"redactedContent": base64.b64decode(REDACTED)}},
                        {"text": "Checking."},
                        {
                            "toolUse": {
                                "toolUseId": "tooluse_1",
                                "name": "get_weather",
                                "input": {"location": "Paris"},
                            }
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "18C"}]}},
                        {"text": "And here?"},
                        {
                            "image": {
                                "format": "png",
                                "source": {"bytes": base64.b64decode(PNG)},
                            }
                        },
                    ],
                },
                {"role": "assistant", "content": [{"text": "Looks sunny."}]},
                {
                    "role": "user",
                    "content": [
                        {
                            "toolResult": {
                                "toolUseId": "tooluse_2",
                                "content": [{"text": "(no output)"}],
                                "status": "error",
                            }
                        }
                    ],
                },
            ],
            "toolConfig": {
                "tools": [
                    {
                        "toolSpec": {
                            "name": "get_weather",
                            "description": "Current weather for a city.",
                            "inputSchema": {"json": WEATHER.parameters},
                        }
                    }
                ],
                "toolChoice": {"any": {}},
            },
            "inferenceConfig": {"maxTokens": 512, "temperature": 0.1},
        },
    )
    BedrockConverseClient(boto_client).complete(
        request(*convo, tools=(WEATHER,), tool_choice="required", max_tokens=512, temperature=0.1)
    )


def test_thinking_config_for_claude(boto_client: Any, stub: Stubber) -> None:
    stub.add_response(
        "converse",
        converse_reply("bedrock_text"),
        expected_params={
            "modelId": CLAUDE,
            "system": [{"text": "You are Cyd."}],
            "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
            "toolConfig": {
                "tools": [
                    {
                        "toolSpec": {
                            "name": "get_weather",
                            "description": "Current weather for a city.",
                            "inputSchema": {"json": WEATHER.parameters},
                        }
                    }
                ]
            },
            "inferenceConfig": {"maxTokens": 4096},
            "additionalModelRequestFields": {
                "thinking": {"type": "enabled", "budget_tokens": 1024}
            },
        },
    )
    BedrockConverseClient(boto_client).complete(
        request(tools=(WEATHER,), tool_choice="required", enable_thinking=True, temperature=0.5)
    )


def test_no_thinking_config_for_other_models_and_tool_choice_none(
    boto_client: Any, stub: Stubber
) -> None:
    stub.add_response(
        "converse",
        converse_reply("bedrock_text"),
        expected_params={
            "modelId": "meta.llama3-1-70b-instruct-v1:0",
            "system": [{"text": "You are Cyd."}],
            "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
        },
    )
    BedrockConverseClient(boto_client).complete(
        request(
            model="meta.llama3-1-70b-instruct-v1:0",
            enable_thinking=True,
            tools=(WEATHER,),
            tool_choice="none",
        )
    )


def test_s3_image_uses_s3_location(boto_client: Any, stub: Stubber) -> None:
    msg = ChatMessage(role="user", text="Look", images=(Image(url="s3://bucket/cat.JPG"),))
    stub.add_response(
        "converse",
        converse_reply("bedrock_text"),
        expected_params={
            "modelId": CLAUDE,
            "system": [{"text": "You are Cyd."}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"text": "Look"},
                        {
                            "image": {
                                "format": "jpeg",
                                "source": {"s3Location": {"uri": "s3://bucket/cat.JPG"}},
                            }
                        },
                    ],
                }
            ],
        },
    )
    BedrockConverseClient(boto_client).complete(request(msg))


@pytest.mark.parametrize(
    ("image", "in_detail"),
    [
        (Image(url="https://example.com/cat.png"), "cannot fetch image URLs"),
        (Image(data=PNG, media_type="image/tiff"), "not supported"),
        (Image(data="not base64!!", media_type="image/png"), "not valid base64"),
    ],
)
def test_images_bedrock_cannot_take_are_request_errors_naming_the_part(
    boto_client: Any, stub: Stubber, image: Image, in_detail: str
) -> None:
    convo = (
        ChatMessage(role="user", text="Hi"),
        ChatMessage(role="assistant", text="Hello"),
        ChatMessage(role="user", text="See", images=(Image(data=PNG, media_type="png"), image)),
    )
    with pytest.raises(ModelRequestError) as caught:
        BedrockConverseClient(boto_client).complete(request(*convo))
    assert caught.value.detail.startswith("messages[2].images[1]: ")
    assert in_detail in caught.value.detail


def test_parallel_tool_use_and_cache_usage(boto_client: Any, stub: Stubber) -> None:
    stub.add_response("converse", converse_reply("bedrock_tool_use_parallel"))
    response = BedrockConverseClient(boto_client).complete(request(tools=(WEATHER,)))
    assert response.text == "I'll check both cities."
    assert response.tool_calls == (
        ToolCall("tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "get_weather", '{"location": "Paris"}'),
        ToolCall("tooluse_Wq2Xk9sTQ0aVb8mN3cLp1A", "get_weather", '{"location": "Lyon"}'),
    )
    assert response.finish_reason == "tool_calls"
    assert response.usage == Usage(14 + 2048, 97, cached_input_tokens=2048, cache_write_tokens=0)


def test_reasoning_text_with_signature(boto_client: Any, stub: Stubber) -> None:
    stub.add_response("converse", converse_reply("bedrock_reasoning"))
    response = BedrockConverseClient(boto_client).complete(request(enable_thinking=True))
    assert response.reasoning == Reasoning(
        text="Ada and Brook have spoken; the termination token has not appeared. Cyd is next.",
        native=True,
        signature=SIGNATURE,
    )
    assert response.text == "cyd"
    assert response.usage == Usage(310 + 1024, 142, cached_input_tokens=0, cache_write_tokens=1024)


def test_redacted_reasoning_round_trips_as_base64(boto_client: Any, stub: Stubber) -> None:
    stub.add_response("converse", converse_reply("bedrock_redacted_reasoning"))
    response = BedrockConverseClient(boto_client).complete(request())
    assert response.reasoning == Reasoning(native=True, redacted_data=REDACTED)
    assert response.text == "The answer is 42."


def test_stop_reasons(boto_client: Any, stub: Stubber) -> None:
    stub.add_response("converse", converse_reply("bedrock_max_tokens"))
    stub.add_response("converse", converse_reply("bedrock_malformed_tool_use"))
    client = BedrockConverseClient(boto_client)
    assert client.complete(request()).finish_reason == "max_tokens"
    with pytest.raises(ModelResponseError, match="malformed_tool_use"):
        client.complete(request())


@pytest.mark.parametrize(
    ("code", "status", "error_type"),
    [
        ("ThrottlingException", 429, ModelRateLimitError),
        ("ServiceQuotaExceededException", 429, ModelRateLimitError),
        ("ModelTimeoutException", 408, ModelTimeoutError),
        ("ServiceUnavailableException", 503, ModelServerError),
        ("InternalServerException", 500, ModelServerError),
        ("ModelNotReadyException", 429, ModelServerError),
        ("ValidationException", 400, ModelRequestError),
        ("AccessDeniedException", 403, ModelRequestError),
        ("ResourceNotFoundException", 404, ModelRequestError),
        ("SomethingNewException", 502, ModelServerError),
        ("SomethingNewException", 400, ModelRequestError),
    ],
)
def test_client_errors_map_to_model_errors(
    boto_client: Any, stub: Stubber, code: str, status: int, error_type: type[ModelError]
) -> None:
    stub.add_client_error("converse", code, f"{code} happened", status)
    with pytest.raises(error_type) as caught:
        BedrockConverseClient(boto_client).complete(request())
    assert type(caught.value) is error_type
    assert caught.value.status == status
    assert f"{code}: {code} happened" in caught.value.detail


def test_throttling_retry_after_header(boto_client: Any, stub: Stubber) -> None:
    stub.add_client_error(
        "converse",
        "ThrottlingException",
        "Too many requests, please wait before trying again.",
        429,
        response_meta={"HTTPHeaders": {"Retry-After": "3"}},
    )
    with pytest.raises(ModelRateLimitError) as caught:
        BedrockConverseClient(boto_client).complete(request())
    assert caught.value.retry_after == 3.0  # type: ignore[attr-defined]


class Raising:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def converse(self, **kwargs: Any) -> Any:
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "error_type"),
    [
        (ReadTimeoutError(endpoint_url="https://bedrock-runtime"), ModelTimeoutError),
        (EndpointConnectionError(endpoint_url="https://bedrock-runtime"), ModelServerError),
        (NoCredentialsError(), ModelRequestError),
    ],
)
def test_transport_errors(exc: Exception, error_type: type[ModelError]) -> None:
    with pytest.raises(error_type):
        BedrockConverseClient(Raising(exc)).complete(request())


def test_missing_fields_are_invalid_responses() -> None:
    class Broken:
        def converse(self, **kwargs: Any) -> Any:
            return {"stopReason": "end_turn", "output": {}, "usage": {}}

    with pytest.raises(ModelResponseError):
        BedrockConverseClient(Broken()).complete(request())
