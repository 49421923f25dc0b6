"""OpenAI-compatible adapter, streamed: recorded chat.completion.chunk SSE streams."""

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
from infra.providers.http_errors import parse_sse
from infra.providers.openai_compatible import OpenAICompatibleClient
from tests.providers.helpers import Deltas, FakeProvider, raises, raw, reply, sse, sse_body

SEND = ToolSpec(
    name="send_message",
    description="Send a message to the user.",
    parameters={"type": "object", "properties": {"message": {"type": "string"}}},
)


def make(fake: FakeProvider, api_key: str | None = "sk-test") -> OpenAICompatibleClient:
    return OpenAICompatibleClient("http://llm.local/v1/", api_key, 5.0, http=fake.client())


def request(**kwargs: object) -> ChatRequest:
    return ChatRequest(
        provider="openai",
        model="gpt-4o-mini",
        system="You are Ada.",
        messages=(ChatMessage(role="user", text="Who is in the group?"),),
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("stream", "recorded"),
    [
        ("openai_stream_text", "openai_text"),
        ("openai_stream_tool_calls_parallel", "openai_tool_calls_parallel"),
        ("openai_stream_reasoning_vllm", "openai_reasoning_vllm"),
        ("openai_stream_length", "openai_length"),
    ],
)
def test_streamed_answer_equals_the_non_streamed_one(stream: str, recorded: str) -> None:
    streamed = make(FakeProvider(sse(stream))).complete_streaming(request(), Deltas())
    assert streamed == make(FakeProvider(reply(recorded))).complete(request())


def test_text_deltas_in_order_and_the_request_asks_for_a_stream_with_usage() -> None:
    fake = FakeProvider(sse("openai_stream_text"))
    deltas = Deltas()
    response = make(fake).complete_streaming(request(tools=(SEND,), max_tokens=64), deltas)

    assert deltas.kinds() == ["text"]
    assert [p for _, p in deltas.seen][:4] == ["Hello", "!", " The", " group"]
    assert deltas.joined("text") == response.text
    assert (
        response.text == "Hello! The group has three members: Ada, Brook and Cyd. Ada speaks first."
    )
    assert response.usage == Usage(19, 18, cached_input_tokens=0, reasoning_tokens=0)
    assert response.finish_reason == "stop"

    sent = fake.requests[0]
    assert sent.method == "POST"
    assert str(sent.url) == "http://llm.local/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.headers["accept"] == "text/event-stream"
    body = fake.sent
    assert body.pop("stream") is True
    assert body.pop("stream_options") == {"include_usage": True}
    # Otherwise exactly what complete() sends.
    complete_fake = FakeProvider(reply("openai_text"))
    make(complete_fake).complete(request(tools=(SEND,), max_tokens=64))
    assert body == complete_fake.sent


def test_tool_call_arguments_are_assembled_across_chunks_by_index() -> None:
    deltas = Deltas()
    response = make(FakeProvider(sse("openai_stream_tool_calls_parallel"))).complete_streaming(
        request(), deltas
    )
    assert deltas.seen == []  # no text, no reasoning: nothing to show while it streams
    assert response.text is None
    assert response.tool_calls == (
        ToolCall(
            id="call_Hx6wDOfPzP1UNdQmN7bL4cVw",
            name="core_memory_append",
            arguments='{"label": "human", "content": "Prefers short answers."}',
        ),
        ToolCall(
            id="call_Q3Yv1oZl5v7RkD0s2ZbWk9Tn",
            name="send_message_to_agent",
            # cut off by the model: kept as it came, like complete() does
            arguments='{"agent_id": "agent-0b1f0c0e-8a6f-4c43-9a37-8f6f1b6f3a11", '
            '"message": "Summarise',
        ),
    )
    assert response.finish_reason == "tool_calls"
    assert response.usage == Usage(1893, 74, cached_input_tokens=1536, reasoning_tokens=0)


def test_reasoning_deltas_come_before_text_and_join_to_the_reasoning() -> None:
    deltas = Deltas()
    response = make(FakeProvider(sse("openai_stream_reasoning_vllm"))).complete_streaming(
        request(), deltas
    )
    assert deltas.kinds() == ["reasoning", "text"]
    assert response.reasoning == Reasoning(text=deltas.joined("reasoning"), native=True)
    assert deltas.joined("reasoning").startswith("The user asks which agent")
    assert response.text == deltas.joined("text") == "Brook should speak next."
    assert response.usage == Usage(58, 73)


def _chunk(delta: str, finish: str | None = None) -> str:
    return (
        '{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":'
        + delta
        + ',"finish_reason":'
        + ("null" if finish is None else f'"{finish}"')
        + "}]}"
    )


def test_compatible_server_quirks_in_streams() -> None:
    """`reasoning` instead of `reasoning_content`, name repeated per chunk, no call id,
    object arguments in one chunk, no usage chunk, no [DONE] after the finish_reason."""
    body = "".join(
        f"data: {c}\n\n"
        for c in [
            _chunk('{"role":"assistant","reasoning":"Think"}'),
            _chunk('{"reasoning":"ing."}'),
            _chunk(
                '{"tool_calls":[{"index":0,"function":{"name":"send_message","arguments":""}}]}'
            ),
            _chunk(
                '{"tool_calls":[{"index":0,"function":{"name":"send_message","arguments":"{}"}}]}'
            ),
            _chunk('{"tool_calls":[{"function":{"name":"f","arguments":{"a":1}}}]}'),
            _chunk("{}", "stop"),
        ]
    )
    deltas = Deltas()
    response = make(FakeProvider(raw(body, content_type="text/event-stream"))).complete_streaming(
        request(), deltas
    )
    assert deltas.seen == [("reasoning", "Think"), ("reasoning", "ing.")]
    assert response.reasoning == Reasoning(text="Thinking.", native=True)
    first, second = response.tool_calls
    assert (first.name, first.arguments) == ("send_message", "{}")
    assert first.id.startswith("call_")
    assert (second.name, second.arguments) == ("f", '{"a": 1}')
    assert response.finish_reason == "tool_calls"
    assert response.usage == Usage()


def test_sse_parsing_of_comments_multiline_data_and_crlf() -> None:
    lines = [
        ": keep-alive",
        "event: x",
        "data: a",
        "data:b",
        "",
        "",
        "data: c\r",
        "\r",
        "data: cut",
    ]
    assert [(e.event, e.data) for e in parse_sse(lines)] == [("x", "a\nb"), (None, "c")]


@pytest.mark.parametrize(
    ("replied", "error_type", "status", "in_detail"),
    [
        (raises(httpx.ReadTimeout), ModelTimeoutError, None, "timed out"),
        (raises(httpx.ConnectError), ModelServerError, None, "could not be reached"),
        (reply("openai_error_429", 429), ModelRateLimitError, 429, "Rate limit reached"),
        (reply("openai_error_500", 503), ModelServerError, 503, "server had an error"),
        (reply("openai_error_400", 400), ModelRequestError, 400, "Invalid 'messages[1].name'"),
        (raw("<html>502 Bad Gateway</html>", 502), ModelServerError, 502, "502 Bad Gateway"),
    ],
)
def test_http_errors_before_the_stream_map_like_complete(
    replied: object, error_type: type[ModelError], status: int | None, in_detail: str
) -> None:
    deltas = Deltas()
    with pytest.raises(error_type) as caught:
        make(FakeProvider(replied)).complete_streaming(request(), deltas)  # type: ignore[arg-type]
    assert type(caught.value) is error_type
    assert caught.value.status == status
    assert in_detail in caught.value.detail
    assert deltas.seen == []


def test_429_before_the_stream_carries_retry_after() -> None:
    fake = FakeProvider(reply("openai_error_429", 429, headers={"retry-after-ms": "1500"}))
    with pytest.raises(ModelRateLimitError) as caught:
        make(fake).complete_streaming(request(), Deltas())
    assert caught.value.retry_after == 1.5


def test_error_chunk_midway_is_a_server_error_after_the_partial_text() -> None:
    deltas = Deltas()
    with pytest.raises(ModelServerError) as caught:
        make(FakeProvider(sse("openai_stream_error_midway"))).complete_streaming(request(), deltas)
    assert "Provider disconnected unexpectedly" in caught.value.detail
    assert deltas.joined("text") == "Let me think"


def test_non_transient_error_chunk_is_an_invalid_response() -> None:
    body = 'data: {"error":{"object":"error","message":"bad schema","type":"BadRequestError"}}\n\n'
    with pytest.raises(ModelResponseError) as caught:
        make(FakeProvider(raw(body, content_type="text/event-stream"))).complete_streaming(
            request(), Deltas()
        )
    assert "bad schema" in caught.value.detail


def test_stream_that_ends_early_is_a_server_error() -> None:
    deltas = Deltas()
    with pytest.raises(ModelServerError) as caught:
        make(FakeProvider(sse("openai_stream_truncated"))).complete_streaming(request(), deltas)
    assert "ended before" in caught.value.detail
    assert deltas.joined("text") == "Hello! The"


@pytest.mark.parametrize(
    ("fail_with", "error_type"),
    [(httpx.RemoteProtocolError, ModelServerError), (httpx.ReadTimeout, ModelTimeoutError)],
)
def test_connection_lost_midway(
    fail_with: type[httpx.TransportError], error_type: type[ModelError]
) -> None:
    cut = len(sse_body("openai_stream_text")) // 2
    deltas = Deltas()
    fake = FakeProvider(sse("openai_stream_text", fail_after=cut, fail_with=fail_with))
    with pytest.raises(error_type):
        make(fake).complete_streaming(request(), deltas)
    assert deltas.joined("text").startswith("Hello!")


NAMELESS_CALL = '{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}'


@pytest.mark.parametrize(
    "body",
    [
        "data: {not json\n\n",
        "data: [1, 2]\n\n",
        "data: [DONE]\n\n",  # nothing before the end: no content, no tool calls
        "data: " + _chunk(NAMELESS_CALL, "tool_calls") + "\n\n",  # a tool call without a name
    ],
)
def test_unusable_streams_are_invalid_responses(body: str) -> None:
    fake = FakeProvider(raw(body, content_type="text/event-stream"))
    with pytest.raises(ModelResponseError) as caught:
        make(fake).complete_streaming(request(), Deltas())
    assert caught.value.stop_reason == "invalid_llm_response"
