"""A tiny OpenAI-compatible chat-completions server on loopback, for end-to-end tests.

It answers every POST /v1/chat/completions with a fixed assistant reply that quotes the
last user message, and records each request body so a test can see what reached it. Models
named `tool-caller...` misbehave instead: they always call a tool (tests/sdk/tool_caller.py).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.sdk.tool_caller import MODEL_PREFIX, tool_calling_message


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                owner.requests.append(body)
                last = next(
                    (m["content"] for m in reversed(body["messages"]) if m["role"] == "user"),
                    "",
                )
                message: dict[str, Any] = {"role": "assistant", "content": f"fake-openai: {last}"}
                if str(body["model"]).startswith(MODEL_PREFIX):
                    message = tool_calling_message(body, len(owner.requests))
                reply = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "tool_calls" if "tool_calls" in message else "stop",
                            "message": message,
                        }
                    ],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
                }
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
