"""Anthropic adapter: Messages API request shape, thinking round-trips, usage and errors."""

from __future__ import annotations

import httpx
import pytest

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
from infra.providers.anthropic import AnthropicClient
from tests.providers.helpers import FakeProvider, load, raises, raw, reply

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={"type": "object", "properties": {"location": {"type": "string"}}},
)
SIGNATURE = load("anthropic_thinking_tool_use")["content"][0]["signature"]
REDACTED = load("anthropic_redacted_thinking")["content"][0]["data"]


def make(fake: FakeProvider) -> AnthropicClient:
    return AnthropicClient("sk-ant-test", "http://claude.local", 5.0, http=fake.client())


def request(*messages: ChatMessage, **kwargs: object) -> ChatRequest:
    msgs = messages or (ChatMessage(role="user", text="Hello"),)
    return ChatRequest(
        provider="anthropic",
        model="claude-sonnet-4-5",
        system="You are Brook.",
        messages=msgs,
        **kwargs,  # type: ignore[arg-type]
    )


def test_plain_text_reply_and_minimal_request() -> None:
    fake = FakeProvider(reply("anthropic_text"))
    response = make(fake).complete(request())

    assert response.text == "Hi! I'm Claude. Ada has already answered, so I'll keep this short."
    assert response.finish_reason == "stop"
    assert response.reasoning is None
    assert response.usage == Usage(2095, 503, cached_input_tokens=0, cache_write_tokens=0)

    sent = fake.requests[0]
    assert str(sent.url) == "http://claude.local/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-test"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert fake.sent == {
        "model": "claude-sonnet-4-5",
        "system": "You are Brook.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
        "max_tokens": 4096,
    }


def test_request_shape_merges_turns_and_echoes_signed_thinking() -> None:
    fake = FakeProvider(reply("anthropic_text"))
    convo = (
        ChatMessage(role="user", text="Weather in Paris and Lyon?", name="Ada"),
        ChatMessage(role="user", text="Please be quick."),
        ChatMessage(
            role="assistant",
            text="Checking both.",
            reasoning=Reasoning(text="Two cities.", native=True, signature=SIGNATURE),
            tool_calls=(
                ToolCall("toolu_1", "get_weather", '{"location": "Paris"}'),
                ToolCall("toolu_2", "get_weather", '{"location": '),
            ),
        ),
        ChatMessage(role="tool", text="18C sunny", tool_call_id="toolu_1"),
        ChatMessage(role="tool", text="city not found", tool_call_id="toolu_2", is_error=True),
        ChatMessage(
            role="user",
            text="And this photo?",
            images=(
                Image(url="https://example.com/lyon.jpg"),
                Image(data="/9j/4AAQSkZJRg==", media_type="image/jpeg"),
            ),
        ),
    )
    make(fake).complete(
        request(*convo, tools=(WEATHER,), tool_choice="required", temperature=0.3, max_tokens=900)
    )

    assert fake.sent == {
        "model": "claude-sonnet-4-5",
        "system": "You are Brook.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Ada: Weather in Paris and Lyon?"},
                    {"type": "text", "text": "Please be quick."},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Two cities.", "signature": SIGNATURE},
                    {"type": "text", "text": "Checking both."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"location": "Paris"},
                    },
                    {
                        "type": "tool_use",
                        "id": "toolu_2",
                        "name": "get_weather",
                        "input": {"_raw_arguments": '{"location": '},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C sunny"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": "city not found",
                        "is_error": True,
                    },
                    {"type": "text", "text": "And this photo?"},
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/lyon.jpg"},
                    },
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/jpeg",
                            "data": "/9j/4AAQSkZJRg==",
                        },
                    },
                ],
            },
        ],
        "tools": [
            {
                "name": "get_weather",
                "description": "Current weather for a city.",
                "input_schema": WEATHER.parameters,
            }
        ],
        "tool_choice": {"type": "any"},
        "temperature": 0.3,
        "max_tokens": 900,
    }


def test_thinking_config_omits_temperature_and_forced_tool_choice() -> None:
    fake = FakeProvider(reply("anthropic_text"))
    make(fake).complete(
        request(
            tools=(WEATHER,),
            tool_choice="required",
            enable_thinking=True,
            temperature=0.7,
            max_tokens=800,
        )
    )
    sent = fake.sent
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert "temperature" not in sent
    assert sent["tool_choice"] == {"type": "auto"}
    assert sent["max_tokens"] > 1024  # the budget must fit inside max_tokens


def test_tool_choice_none_and_no_tools() -> None:
    fake = FakeProvider(reply("anthropic_text"), reply("anthropic_text"))
    client = make(fake)
    client.complete(request(tools=(WEATHER,), tool_choice="none"))
    assert fake.sent["tool_choice"] == {"type": "none"}
    client.complete(request(tool_choice="none"))
    assert "tools" not in fake.sent and "tool_choice" not in fake.sent


def test_redacted_thinking_is_echoed_and_prompted_thoughts_are_not() -> None:
    fake = FakeProvider(reply("anthropic_text"))
    convo = (
        ChatMessage(role="user", text="Q1"),
        ChatMessage(
            role="assistant",
            text="A1",
            reasoning=Reasoning(native=True, redacted_data=REDACTED),
        ),
        ChatMessage(role="user", text="Q2"),
        ChatMessage(role="assistant", text="A2", reasoning=Reasoning(text="inner monologue")),
        ChatMessage(role="user", text="Q3"),
    )
    make(fake).complete(request(*convo, enable_thinking=True))
    assistant = [m["content"] for m in fake.sent["messages"] if m["role"] == "assistant"]
    assert assistant == [
        [{"type": "redacted_thinking", "data": REDACTED}, {"type": "text", "text": "A1"}],
        [{"type": "text", "text": "A2"}],
    ]


def test_thinking_with_signature_and_tool_use() -> None:
    response = make(FakeProvider(reply("anthropic_thinking_tool_use"))).complete(request())
    assert response.reasoning == Reasoning(
        text="The user wants the weather in Paris. I should call get_weather with location Paris.",
        native=True,
        signature=SIGNATURE,
    )
    assert response.tool_calls == (
        ToolCall("toolu_01CswdEQBMshySk6Y9DFKrfq", "get_weather", '{"location": "Paris"}'),
    )
    assert response.text is None
    assert response.finish_reason == "tool_calls"
    assert response.usage == Usage(388 + 2048, 96, cached_input_tokens=2048, cache_write_tokens=0)


def test_parallel_tool_use_with_text_and_cache_write() -> None:
    response = make(FakeProvider(reply("anthropic_tool_use_parallel"))).complete(request())
    assert response.text == "I'll note that and ask Brook at the same time."
    assert [c.name for c in response.tool_calls] == ["core_memory_append", "send_message_to_agent"]
    assert response.tool_calls[0].arguments == (
        '{"label": "human", "content": "Prefers short answers."}'
    )
    assert response.usage == Usage(12 + 1480, 142, cached_input_tokens=0, cache_write_tokens=1480)


def test_redacted_thinking_reply() -> None:
    response = make(FakeProvider(reply("anthropic_redacted_thinking"))).complete(request())
    assert response.reasoning == Reasoning(native=True, redacted_data=REDACTED)
    assert response.text == "I can't share my reasoning on that, but the answer is 42."


def test_max_tokens_stop_reason_and_missing_cache_fields() -> None:
    response = make(FakeProvider(reply("anthropic_max_tokens"))).complete(request())
    assert response.finish_reason == "max_tokens"
    assert response.usage == Usage(40, 16)


@pytest.mark.parametrize(
    ("replied", "error_type", "status", "in_detail"),
    [
        (raises(httpx.ReadTimeout), ModelTimeoutError, None, "timed out"),
        (raises(httpx.ConnectTimeout), ModelTimeoutError, None, "timed out"),
        (reply("anthropic_error_429", 429), ModelRateLimitError, 429, "rate limit"),
        (reply("anthropic_error_529", 529), ModelServerError, 529, "Overloaded"),
        (raw("upstream connect error", 500), ModelServerError, 500, "upstream connect"),
        (reply("anthropic_error_400", 400), ModelRequestError, 400, "Expected `thinking`"),
        (raw("{not json", content_type="application/json"), ModelResponseError, 200, "not JSON"),
        (reply("anthropic_missing_content"), ModelResponseError, None, "content"),
        (reply("anthropic_error_529"), ModelResponseError, None, "overloaded_error"),
    ],
)
def test_errors_map_to_model_errors(
    replied: object, error_type: type[ModelError], status: int | None, in_detail: str
) -> None:
    with pytest.raises(error_type) as caught:
        make(FakeProvider(replied)).complete(request())  # type: ignore[arg-type]
    assert type(caught.value) is error_type
    assert caught.value.status == status
    assert in_detail in caught.value.detail


def test_429_retry_after_header() -> None:
    fake = FakeProvider(reply("anthropic_error_429", 429, headers={"retry-after": "13"}))
    with pytest.raises(ModelRateLimitError) as caught:
        make(fake).complete(request())
    assert caught.value.retry_after == 13.0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "body",
    [
        {"content": "just a string", "stop_reason": "end_turn"},
        {"content": [{"type": "tool_use", "id": "toolu_1", "name": "x"}]},
        {"content": [{"text": "no type"}]},
    ],
)
def test_unusable_structures_are_invalid_responses(body: dict[str, object]) -> None:
    with pytest.raises(ModelResponseError):
        make(FakeProvider(httpx.Response(200, json=body))).complete(request())
