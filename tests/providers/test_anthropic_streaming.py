"""Anthropic adapter, streamed: recorded Messages API server-sent events."""

from __future__ import annotations

import httpx
import pytest

from core.llm import (
    ChatMessage,
    ChatRequest,
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
from tests.providers.helpers import (
    Deltas,
    FakeProvider,
    load,
    raises,
    raw,
    reply,
    sse,
    sse_body,
)

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={"type": "object", "properties": {"location": {"type": "string"}}},
)
SIGNATURE = load("anthropic_thinking_tool_use")["content"][0]["signature"]


def make(fake: FakeProvider) -> AnthropicClient:
    return AnthropicClient("sk-ant-test", "http://claude.local", 5.0, http=fake.client())


def request(**kwargs: object) -> ChatRequest:
    return ChatRequest(
        provider="anthropic",
        model="claude-sonnet-4-5",
        system="You are Brook.",
        messages=(ChatMessage(role="user", text="Hello"),),
        **kwargs,  # type: ignore[arg-type]
    )


def event_stream(*events: str) -> httpx.Response:
    body = "".join(f"data: {e}\n\n" for e in events)
    return raw(body, content_type="text/event-stream")


START = (
    '{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",'
    '"model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":5,'
    '"output_tokens":1}}}'
)
STOP = '{"type":"message_stop"}'


@pytest.mark.parametrize(
    ("stream", "recorded"),
    [
        ("anthropic_stream_text", "anthropic_text"),
        ("anthropic_stream_thinking_tool_use", "anthropic_thinking_tool_use"),
        ("anthropic_stream_tool_use_parallel", "anthropic_tool_use_parallel"),
        ("anthropic_stream_redacted_thinking", "anthropic_redacted_thinking"),
    ],
)
def test_streamed_answer_equals_the_non_streamed_one(stream: str, recorded: str) -> None:
    streamed = make(FakeProvider(sse(stream))).complete_streaming(request(), Deltas())
    assert streamed == make(FakeProvider(reply(recorded))).complete(request())


def test_text_deltas_in_order_and_the_request_asks_for_a_stream() -> None:
    fake = FakeProvider(sse("anthropic_stream_text"))
    deltas = Deltas()
    kwargs = {"tools": (WEATHER,), "enable_thinking": True, "max_tokens": 2048}
    response = make(fake).complete_streaming(request(**kwargs), deltas)

    assert deltas.seen[:2] == [("text", "Hi"), ("text", "! I'm Claude.")]
    assert deltas.kinds() == ["text"]
    assert response.text == deltas.joined("text")
    assert response.text == "Hi! I'm Claude. Ada has already answered, so I'll keep this short."
    # input tokens from message_start, output tokens from message_delta
    assert response.usage == Usage(2095, 503, cached_input_tokens=0, cache_write_tokens=0)
    assert response.finish_reason == "stop"

    sent = fake.requests[0]
    assert str(sent.url) == "http://claude.local/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-test"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["accept"] == "text/event-stream"
    body = fake.sent
    assert body.pop("stream") is True
    complete_fake = FakeProvider(reply("anthropic_text"))
    make(complete_fake).complete(request(**kwargs))
    assert body == complete_fake.sent  # otherwise exactly what complete() sends


def test_thinking_deltas_signature_and_tool_input_assembled_from_json_pieces() -> None:
    deltas = Deltas()
    response = make(FakeProvider(sse("anthropic_stream_thinking_tool_use"))).complete_streaming(
        request(tools=(WEATHER,), enable_thinking=True), deltas
    )
    assert deltas.kinds() == ["reasoning"]
    assert [p for _, p in deltas.seen] == [
        "The user wants the weather in Paris.",
        " I should call get_weather",
        " with location Paris.",
    ]
    assert response.reasoning == Reasoning(
        text=deltas.joined("reasoning"), native=True, signature=SIGNATURE
    )
    assert response.text is None
    assert response.tool_calls == (
        ToolCall(
            id="toolu_01CswdEQBMshySk6Y9DFKrfq",
            name="get_weather",
            arguments='{"location": "Paris"}',
        ),
    )
    assert response.finish_reason == "tool_calls"
    assert response.usage == Usage(388 + 2048, 96, cached_input_tokens=2048, cache_write_tokens=0)


def test_parallel_tool_use_after_text() -> None:
    deltas = Deltas()
    response = make(FakeProvider(sse("anthropic_stream_tool_use_parallel"))).complete_streaming(
        request(), deltas
    )
    assert (
        deltas.joined("text") == response.text == "I'll note that and ask Brook at the same time."
    )
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("core_memory_append", '{"label": "human", "content": "Prefers short answers."}'),
        (
            "send_message_to_agent",
            '{"agent_id": "agent-0b1f0c0e-8a6f-4c43-9a37-8f6f1b6f3a11", "message": "Summarise?"}',
        ),
    ]
    assert response.usage.cache_write_tokens == 1480


def test_redacted_thinking_arrives_whole_and_is_not_shown() -> None:
    deltas = Deltas()
    response = make(FakeProvider(sse("anthropic_stream_redacted_thinking"))).complete_streaming(
        request(), deltas
    )
    assert deltas.kinds() == ["text"]
    assert response.reasoning is not None
    assert (
        response.reasoning.redacted_data
        == load("anthropic_redacted_thinking")["content"][0]["data"]
    )
    assert response.reasoning.text == ""


def test_tool_use_with_no_input_and_usage_updates_in_message_delta() -> None:
    response = make(
        FakeProvider(
            event_stream(
                START,
                '{"type":"content_block_start","index":0,"content_block":'
                '{"type":"tool_use","id":"toolu_1","name":"list_agents","input":{}}}',
                '{"type":"content_block_stop","index":0}',
                '{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":'
                '{"input_tokens":7,"cache_read_input_tokens":3,"output_tokens":12}}',
                STOP,
            )
        )
    ).complete_streaming(request(), Deltas())
    assert response.tool_calls == (ToolCall("toolu_1", "list_agents", "{}"),)
    assert response.usage == Usage(10, 12, cached_input_tokens=3)


def test_max_tokens_stop_reason() -> None:
    response = make(
        FakeProvider(
            event_stream(
                START,
                '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
                '{"type":"content_block_delta","index":0,"delta":'
                '{"type":"text_delta","text":"One, two"}}',
                '{"type":"content_block_stop","index":0}',
                '{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":4}}',
                STOP,
            )
        )
    ).complete_streaming(request(), Deltas())
    assert (response.text, response.finish_reason) == ("One, two", "max_tokens")


@pytest.mark.parametrize(
    ("replied", "error_type", "status", "in_detail"),
    [
        (raises(httpx.ReadTimeout), ModelTimeoutError, None, "timed out"),
        (raises(httpx.ConnectError), ModelServerError, None, "could not be reached"),
        (reply("anthropic_error_429", 429), ModelRateLimitError, 429, "rate limit"),
        (reply("anthropic_error_529", 529), ModelServerError, 529, "Overloaded"),
        (reply("anthropic_error_400", 400), ModelRequestError, 400, "Expected `thinking`"),
    ],
)
def test_http_errors_before_the_stream_map_like_complete(
    replied: object, error_type: type[ModelError], status: int | None, in_detail: str
) -> None:
    with pytest.raises(error_type) as caught:
        make(FakeProvider(replied)).complete_streaming(request(), Deltas())  # type: ignore[arg-type]
    assert type(caught.value) is error_type
    assert caught.value.status == status
    assert in_detail in caught.value.detail


@pytest.mark.parametrize(
    ("stream", "error_type", "shown"),
    [
        ("anthropic_stream_overloaded_at_start", ModelServerError, ""),
        ("anthropic_stream_overloaded_midway", ModelServerError, "Sure, here"),
        ("anthropic_stream_invalid_request", ModelResponseError, ""),
    ],
)
def test_error_events(stream: str, error_type: type[ModelError], shown: str) -> None:
    deltas = Deltas()
    with pytest.raises(error_type) as caught:
        make(FakeProvider(sse(stream))).complete_streaming(request(), deltas)
    assert type(caught.value) is error_type
    assert deltas.joined("text") == shown
    assert "stream error" in caught.value.detail


def test_stream_that_ends_early_is_a_server_error() -> None:
    deltas = Deltas()
    with pytest.raises(ModelServerError) as caught:
        make(FakeProvider(sse("anthropic_stream_truncated"))).complete_streaming(request(), deltas)
    assert "ended before" in caught.value.detail
    assert deltas.joined("text") == "The answer"


@pytest.mark.parametrize(
    ("fail_with", "error_type"),
    [(httpx.RemoteProtocolError, ModelServerError), (httpx.ReadTimeout, ModelTimeoutError)],
)
def test_connection_lost_midway(
    fail_with: type[httpx.TransportError], error_type: type[ModelError]
) -> None:
    body = sse_body("anthropic_stream_thinking_tool_use")
    cut = body.index(b"input_json_delta")
    deltas = Deltas()
    fake = FakeProvider(
        sse("anthropic_stream_thinking_tool_use", fail_after=cut, fail_with=fail_with)
    )
    with pytest.raises(error_type):
        make(fake).complete_streaming(request(), deltas)
    assert deltas.joined("reasoning").startswith("The user wants the weather")


@pytest.mark.parametrize(
    "events",
    [
        ("{not json",),
        ('{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',),
        (
            START,
            '{"type":"content_block_start","index":0,"content_block":'
            '{"type":"tool_use","id":"t","name":"n","input":{}}}',
            '{"type":"content_block_delta","index":0,"delta":'
            '{"type":"input_json_delta","partial_json":"{\\"a\\": "}}',
            '{"type":"content_block_stop","index":0}',
            STOP,
        ),
        (START, '{"type":"content_block_delta","index":3,"delta":{"type":"text_delta"}}'),
    ],
)
def test_unusable_streams_are_invalid_responses(events: tuple[str, ...]) -> None:
    with pytest.raises(ModelResponseError) as caught:
        make(FakeProvider(event_stream(*events))).complete_streaming(request(), Deltas())
    assert caught.value.stop_reason == "invalid_llm_response"
