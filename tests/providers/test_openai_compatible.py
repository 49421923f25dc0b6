"""OpenAI-compatible adapter: what it sends to /chat/completions and how it reads replies."""

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
from infra.providers.openai_compatible import OpenAICompatibleClient, sanitize_name
from tests.providers.helpers import FakeProvider, raises, raw, reply

SEND = ToolSpec(
    name="send_message",
    description="Send a message to the user.",
    parameters={
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
    },
)


def make(fake: FakeProvider, api_key: str | None = "sk-test") -> OpenAICompatibleClient:
    return OpenAICompatibleClient("http://llm.local/v1/", api_key, 5.0, http=fake.client())


def request(*messages: ChatMessage, **kwargs: object) -> ChatRequest:
    msgs = messages or (ChatMessage(role="user", text="Who is in the group?"),)
    return ChatRequest(
        provider="openai", model="gpt-4o-mini", system="You are Ada.", messages=msgs, **kwargs
    )  # type: ignore[arg-type]


def test_plain_text_reply_and_minimal_request() -> None:
    fake = FakeProvider(reply("openai_text"))
    response = make(fake).complete(request())

    assert response.text.startswith("Hello! The group has three members")
    assert response.tool_calls == ()
    assert response.reasoning is None
    assert response.finish_reason == "stop"
    assert response.usage == Usage(19, 18, cached_input_tokens=0, reasoning_tokens=0)

    sent = fake.requests[0]
    assert str(sent.url) == "http://llm.local/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert fake.sent == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are Ada."},
            {"role": "user", "content": "Who is in the group?"},
        ],
    }


def test_request_shape_of_a_full_conversation() -> None:
    fake = FakeProvider(reply("openai_text"))
    convo = (
        ChatMessage(role="user", text="Hi all", name="Brook (agent) #2"),
        ChatMessage(
            role="user",
            text="What is in these?",
            images=(
                Image(url="https://example.com/cat.png", detail="low"),
                Image(data="iVBORw0KGgo=", media_type="image/png"),
            ),
        ),
        ChatMessage(
            role="assistant",
            text=None,
            tool_calls=(ToolCall("call_1", "send_message", '{"message": "hello"}'),),
            reasoning=Reasoning(text="thinking", native=True),
        ),
        ChatMessage(role="tool", text='{"status": "OK"}', tool_call_id="call_1", is_error=False),
        ChatMessage(role="assistant", text="Done."),
    )
    make(fake, api_key=None).complete(
        request(*convo, tools=(SEND,), tool_choice="required", max_tokens=256, temperature=0.2)
    )

    assert "authorization" not in fake.requests[0].headers
    assert fake.sent == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are Ada."},
            {"role": "user", "content": "Hi all", "name": "Brook_agent_2"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in these?"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
                    },
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "send_message", "arguments": '{"message": "hello"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "OK"}'},
            {"role": "assistant", "content": "Done."},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "send_message",
                    "description": "Send a message to the user.",
                    "parameters": SEND.parameters,
                },
            }
        ],
        "tool_choice": "required",
        "max_tokens": 256,
        "temperature": 0.2,
    }


def test_single_tool_call() -> None:
    response = make(FakeProvider(reply("openai_tool_call_single"))).complete(request())
    assert response.text is None
    assert response.tool_calls == (
        ToolCall("call_12345xyz", "send_message", '{"message":"Hi Brook, over to you."}'),
    )
    assert response.finish_reason == "tool_calls"


def test_parallel_tool_calls_keep_malformed_arguments_as_they_came() -> None:
    response = make(FakeProvider(reply("openai_tool_calls_parallel"))).complete(request())
    first, second = response.tool_calls
    assert first.name == "core_memory_append"
    assert second.id == "call_Q3Yv1oZl5v7RkD0s2ZbWk9Tn"
    assert second.arguments.endswith('"message": "Summarise')  # truncated JSON, not an error
    assert response.usage.cached_input_tokens == 1536
    assert response.usage.total_tokens == 1967


def test_reasoning_content_from_vllm_is_native_reasoning() -> None:
    response = make(FakeProvider(reply("openai_reasoning_vllm"))).complete(request())
    assert response.reasoning == Reasoning(
        text="The user asks which agent should speak next. Brook has not spoken yet, so Brook.",
        native=True,
    )
    assert response.text == "Brook should speak next."
    assert response.tool_calls == ()
    assert response.usage == Usage(58, 73)


def test_hidden_reasoning_is_reported_as_omitted_with_its_token_counts() -> None:
    response = make(FakeProvider(reply("openai_reasoning_hidden_cached"))).complete(request())
    assert response.reasoning == Reasoning(native=True, omitted=True)
    assert response.usage == Usage(2048, 212, cached_input_tokens=1920, reasoning_tokens=192)


def test_length_finish_is_max_tokens() -> None:
    response = make(FakeProvider(reply("openai_length"))).complete(request())
    assert response.finish_reason == "max_tokens"


def test_compatible_server_quirks() -> None:
    """Object arguments, no call id, and finish_reason "stop" despite a tool call."""
    response = make(FakeProvider(reply("openai_compat_quirks"))).complete(request())
    (call,) = response.tool_calls
    assert call.arguments == '{"message": "Hello from Ollama"}'
    assert call.id.startswith("call_") and len(call.id) > 10
    assert response.finish_reason == "tool_calls"
    assert response.text == ""


def test_sanitize_name() -> None:
    assert sanitize_name("Ada Lovelace") == "Ada_Lovelace"
    assert sanitize_name("agent-1_ok") == "agent-1_ok"
    assert sanitize_name("<|>") is None
    assert sanitize_name("x" * 80) == "x" * 64


@pytest.mark.parametrize(
    ("replied", "error_type", "status", "in_detail"),
    [
        (raises(httpx.ReadTimeout), ModelTimeoutError, None, "timed out"),
        (raises(httpx.ConnectError), ModelServerError, None, "could not be reached"),
        (reply("openai_error_429", 429), ModelRateLimitError, 429, "Rate limit reached"),
        (reply("openai_error_500", 500), ModelServerError, 500, "server had an error"),
        (reply("openai_error_500", 503), ModelServerError, 503, "server had an error"),
        (reply("openai_error_400", 400), ModelRequestError, 400, "Invalid 'messages[1].name'"),
        (raw('{"detail": "Not authenticated"}', 401), ModelRequestError, 401, "Not authenticated"),
        (raw("<html>502 Bad Gateway</html>", 502), ModelServerError, 502, "502 Bad Gateway"),
        (raw("<html>oops</html>"), ModelResponseError, 200, "not JSON"),
        (raw("[1, 2]", content_type="application/json"), ModelResponseError, None, "object"),
        (reply("openai_missing_choices"), ModelResponseError, None, "KeyError"),
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


def test_429_carries_retry_after_seconds() -> None:
    fake = FakeProvider(reply("openai_error_429", 429, headers={"retry-after": "2"}))
    with pytest.raises(ModelRateLimitError) as caught:
        make(fake).complete(request())
    assert caught.value.retry_after == 2.0  # type: ignore[attr-defined]
    assert caught.value.retryable
    assert caught.value.stop_reason == "llm_api_error"


@pytest.mark.parametrize(
    "body",
    [
        {"choices": []},
        {"choices": [{"index": 0, "finish_reason": "stop"}]},
        {"choices": [{"message": {"role": "assistant"}, "finish_reason": "stop"}]},
        {"choices": [{"message": {"role": "assistant", "tool_calls": [{"id": "x"}]}}]},
    ],
)
def test_missing_fields_are_invalid_responses(body: dict[str, object]) -> None:
    fake = FakeProvider(httpx.Response(200, json=body))
    with pytest.raises(ModelResponseError) as caught:
        make(fake).complete(request())
    assert caught.value.stop_reason == "invalid_llm_response"
    assert not caught.value.retryable


def test_default_http_client_uses_the_timeout() -> None:
    client = OpenAICompatibleClient("http://llm.local/v1", None, 7.5)
    assert client.http.timeout.read == 7.5


def test_thoughts_in_arguments_leave_calls_that_are_not_json_objects_alone() -> None:
    from infra.providers.openai_compatible import unpack_thinking

    calls = (
        ToolCall("a", "send_message", '{"thinking": "why", "message": "hi"}'),
        ToolCall("b", "send_message", '{"message": '),
        ToolCall("c", "send_message", '["not", "an", "object"]'),
        ToolCall("d", "send_message", '{"thinking": "  ", "message": "x"}'),
    )

    unpacked, thoughts = unpack_thinking(calls)

    assert thoughts == ["why"]
    assert [c.arguments for c in unpacked] == [
        '{"message": "hi"}',
        '{"message": ',
        '["not", "an", "object"]',
        '{"message": "x"}',
    ]


def test_a_forced_tool_is_named_in_every_providers_tool_choice() -> None:
    from infra.providers import anthropic, bedrock, openai_compatible

    request = ChatRequest(
        provider="openai",
        model="m",
        system="",
        messages=(ChatMessage(role="user", text="hi"),),
        tools=(SEND,),
        tool_choice="required",
        forced_tool="send_message",
        enable_thinking=False,
    )

    assert openai_compatible.build_payload(request)["tool_choice"] == {
        "type": "function",
        "function": {"name": "send_message"},
    }
    assert anthropic.build_payload(request)["tool_choice"] == {
        "type": "tool",
        "name": "send_message",
    }
    config = bedrock._tool_config(request, [], thinking=False)
    assert config is not None
    assert config["toolChoice"] == {"tool": {"name": "send_message"}}
