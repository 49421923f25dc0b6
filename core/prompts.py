"""Default system prompts and agent names, for agents created without them."""

from __future__ import annotations

import hashlib

_BASE = (
    "You are {role}. You are a stateful agent with persistent memory: your memory blocks are "
    "shown to you below with their labels and character limits; keep what matters about "
    "the people you talk to and about yourself up to date in them with your memory tools."
)

_ROLES = {
    "letta_v1_agent": "a helpful assistant who answers in plain text",
    "react_agent": "a helpful assistant who answers in plain text",
    "memgpt_agent": "a helpful assistant who always answers through the send_message tool",
    "memgpt_v2_agent": "a helpful assistant who always answers through the send_message tool",
    "voice_convo_agent": "a concise voice assistant who answers through the send_message tool",
    "sleeptime_agent": (
        "a background memory agent: you read the conversation of another agent and "
        "reorganise the memory blocks you share with it; you do not talk to the user"
    ),
    "voice_sleeptime_agent": (
        "a background memory agent for a voice assistant: you store what matters from the "
        "messages that leave its context in the memory blocks you share with it"
    ),
}


def default_system_prompt(agent_type: str) -> str:
    return _BASE.format(role=_ROLES.get(agent_type, _ROLES["letta_v1_agent"]))


_ADJECTIVES = [
    "amber",
    "brisk",
    "calm",
    "deft",
    "eager",
    "fond",
    "gentle",
    "hardy",
    "keen",
    "lucid",
    "mellow",
    "nimble",
    "proud",
    "quiet",
    "rapid",
    "steady",
    "tidy",
    "vivid",
]
_NOUNS = [
    "otter",
    "falcon",
    "heron",
    "lynx",
    "marten",
    "osprey",
    "panda",
    "quokka",
    "raven",
    "sparrow",
    "tapir",
    "walrus",
    "yak",
    "zebu",
    "badger",
    "coyote",
    "dingo",
    "egret",
]


def default_agent_name(agent_id: str) -> str:
    """A readable name derived from the id, so it is stable and needs no extra state."""
    digest = hashlib.sha256(agent_id.encode()).digest()
    return f"{_ADJECTIVES[digest[0] % len(_ADJECTIVES)]}-{_NOUNS[digest[1] % len(_NOUNS)]}"
