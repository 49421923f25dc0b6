"""A small OpenAI-compatible chat-completions server that answers at once, for timing the
service over HTTP without a model's latency: `openai/<anything>` models point here.

It plays just enough of each role: a manager lent `send_message_to_all_agents_in_group`
calls it once per turn, a dynamic manager asked to choose among named candidates answers
one of them, everything else gets a short answer.
Sockets set TCP_NODELAY, so small answers are not held back by Nagle's algorithm.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_CANDIDATES = re.compile(r"Candidates: ([^.]+)\.")
_BROADCAST = "send_message_to_all_agents_in_group"


def answer(body: dict[str, Any], turn: int) -> dict[str, Any]:
    """The chat completion for one request body."""
    messages = body.get("messages", [])
    tools = {t.get("function", {}).get("name") for t in body.get("tools") or []}
    since_user = list(itertools.takewhile(lambda m: m.get("role") != "user", reversed(messages)))
    message: dict[str, Any]
    if _BROADCAST in tools and not any(m.get("role") == "tool" for m in since_user):
        call = {
            "id": f"call_{turn}",
            "type": "function",
            "function": {"name": _BROADCAST, "arguments": json.dumps({"message": "go"})},
        }
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish = "tool_calls"
    else:
        found = _CANDIDATES.findall(str(messages[-1].get("content"))) if messages else []
        offered = found[-1].split(", ") if found else []
        text = offered[turn % len(offered)] if offered else "Noted, thanks."
        message = {"role": "assistant", "content": text}
        finish = "stop"
    return {
        "id": f"chatcmpl-{turn}",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "bench"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a provider's endpoint
    counter = itertools.count()

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        payload = json.dumps(answer(body, next(self.counter))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None


class ModelServer:
    """`with ModelServer() as server:` serves on `server.base_url` (an OpenAI /v1 URL)."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> ModelServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
