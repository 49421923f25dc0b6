"""Agent messaging through the official `letta-client==1.7.0` SDK in strict mode.

    .venv-sdk/bin/python tests/sdk/messages_scenario.py --base-url URL [--api-key K]
        [--openai-model openai/<name>]

Sends to both kinds of agent (plain-text `letta_v1_agent`, `memgpt_v2_agent` answering through
send_message) with `input` and with `messages`, checks rendering options, the 422 for both or
neither, listing, and a memory edit; with --openai-model, also an agent whose model is served
by the OpenAI-compatible server the service was configured with. Exits non-zero on failure.
"""

from __future__ import annotations

import argparse
import sys

from letta_client import Letta, UnprocessableEntityError
from letta_client.types.agents import LettaResponse, Message
from pydantic import TypeAdapter

MESSAGES = TypeAdapter(list[Message])


class Checks:
    def __init__(self) -> None:
        self.passed = 0

    def true(self, condition: object, message: str) -> None:
        if not condition:
            raise AssertionError(message)
        self.passed += 1


def types_of(response: LettaResponse) -> list[str]:
    return [m.message_type for m in response.messages]


def run(client: Letta, check: Checks, openai_model: str | None) -> None:
    plain = client.agents.create(name="plain", memory_blocks=[{"label": "human", "value": ""}])
    reply = client.agents.messages.create(plain.id, input="hello there")
    check.true(isinstance(reply, LettaResponse), "create returns a LettaResponse")
    check.true(types_of(reply) == ["reasoning_message", "assistant_message"], types_of(reply))
    check.true("hello there" in str(reply.messages[-1].content), "reply quotes the input")
    check.true(reply.stop_reason.stop_reason == "end_turn", reply.stop_reason)
    check.true(reply.usage.step_count == 1 and reply.usage.total_tokens > 0, reply.usage)
    check.true(
        all(m.name == "plain" and m.sender_id == plain.id for m in reply.messages),
        "messages carry the agent's name and id",
    )
    print("ok   letta_v1_agent with input")

    again = client.agents.messages.create(
        plain.id, messages=[{"role": "user", "content": "please remember I like tea"}]
    )
    kinds = types_of(again)
    check.true(
        kinds[:3] == ["reasoning_message", "tool_call_message", "tool_return_message"], kinds
    )
    check.true(kinds[-1] == "assistant_message", kinds)
    blocks = client.agents.retrieve(plain.id, include=["agent.blocks"]).blocks
    check.true(any("tea" in b.value for b in blocks), "the memory edit reached the block")
    print("ok   letta_v1_agent with messages, memory edit")

    legacy = client.agents.create(name="legacy", agent_type="memgpt_v2_agent")
    answer = client.agents.messages.create(legacy.id, input="status?")
    check.true(types_of(answer) == ["reasoning_message", "assistant_message"], types_of(answer))
    raw = client.agents.messages.create(legacy.id, input="status?", use_assistant_message=False)
    check.true(
        types_of(raw) == ["reasoning_message", "tool_call_message", "tool_return_message"],
        types_of(raw),
    )
    check.true(raw.messages[1].tool_call.name == "send_message", raw.messages[1])
    only = client.agents.messages.create(
        legacy.id, input="x", include_return_message_types=["assistant_message"]
    )
    check.true(types_of(only) == ["assistant_message"], types_of(only))
    print("ok   memgpt_v2_agent: send_message rendering options")

    for kwargs in ({"input": "a", "messages": [{"role": "user", "content": "b"}]}, {}):
        try:
            client.agents.messages.create(plain.id, **kwargs)
        except UnprocessableEntityError:
            check.true(True, "")
        else:
            check.true(False, f"{sorted(kwargs)} should be a 422")
    print("ok   both or neither of input/messages is a 422")

    listed = client.get(
        f"/v1/agents/{plain.id}/messages", cast_to=object, options={"params": {"limit": 50}}
    )
    parsed = MESSAGES.validate_python(listed)
    check.true(parsed[0].message_type == "assistant_message", "newest first by default")
    check.true(
        any(m.message_type == "user_message" and m.content == "hello there" for m in parsed),
        "the user's message is listed",
    )
    page = list(client.agents.messages.list(plain.id, limit=2, order="asc"))
    check.true(len(page) == len(parsed), f"paging yields all {len(parsed)} messages")
    print("ok   list messages")

    if openai_model:
        remote = client.agents.create(name="remote", model=openai_model)
        check.true(remote.llm_config.handle == openai_model, remote.llm_config)
        out = client.agents.messages.create(remote.id, input="what is the plan?")
        check.true(out.messages[-1].content == "fake-openai: what is the plan?", out.messages[-1])
        check.true(out.usage.prompt_tokens == 11 and out.usage.completion_tokens == 7, out.usage)
        print("ok   openai-compatible agent")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key")
    parser.add_argument("--openai-model")
    args = parser.parse_args()
    client = Letta(base_url=args.base_url, api_key=args.api_key, _strict_response_validation=True)
    check = Checks()
    try:
        run(client, check, args.openai_model)
    except Exception as exc:  # noqa: BLE001 - report any failure as the scenario's result
        print(f"FAIL {type(exc).__name__}: {exc}")
        print(f"sdk messages scenario: {check.passed} passed, 1 failed")
        return 1
    print(f"sdk messages scenario: {check.passed} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
