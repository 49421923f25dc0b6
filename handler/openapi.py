"""The OpenAPI document, made to tell the truth about what each route answers.

FastAPI lists 200 and 422 only. The other answers come from places it cannot see: the
request limits (413, and 401 before them), handler/errors.py's one map of domain errors
(400, 404, 409, 503), and the stream routes, whose 200 is `text/event-stream`. Each is
added here by the rule that produces it, with its body model, so generated clients and
fuzzers (tests/api/test_fuzz.py) see what the service really does.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA = "HTTPError"
STREAM_PATHS = ("/messages/stream", "/stream")
WRITES = {"post", "put", "patch", "delete"}
CURSORS = {"before", "after"}

_ANSWERS = {
    400: "The current state or a rule of the domain forbids it.",
    401: "Missing or unknown credentials (checked before the body is read).",
    404: "A well-formed id that names nothing of the caller's.",
    409: "Busy, paused, or changed meanwhile by someone else.",
    413: "Body over 10 MB, or a field, array or record over its limit.",
    503: "The database is throttled or unavailable; retry after `Retry-After` seconds.",
}


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, routes=app.routes, servers=app.servers
            )
            app.openapi_schema = complete(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_SCHEMA] = {
        "title": ERROR_SCHEMA,
        "type": "object",
        "properties": {"detail": {"title": "Detail", "type": "string"}},
        "required": ["detail"],
    }
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            _complete_operation(path, method, operation)
    return document


def _complete_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    names = {p.get("name") for p in operation.get("parameters", [])}
    body = "requestBody" in operation
    statuses: set[int] = set()
    if operation.get("security"):
        statuses.add(401)
    if body:
        statuses.add(413)
    if body or names:
        responses.setdefault("422", _validation_error())
    if "{" in path or body:  # a body may name ids too (members, blocks)
        statuses.add(404)
    if method in WRITES or names & CURSORS:
        statuses.add(400)
    if method in WRITES:
        statuses.add(409)
    if not path.startswith("/v1/health"):
        statuses.add(503)
    for status in sorted(statuses):
        responses.setdefault(str(status), _error(status))
    if method == "post" and path.endswith(STREAM_PATHS):
        _answer_as_stream(responses["200"], also_json=False)
    elif method == "post" and path.startswith("/v1/agents/") and path.endswith("/messages"):
        _answer_as_stream(responses["200"], also_json=True)


def _error(status: int) -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}}
    return {"description": _ANSWERS[status], "content": content}


def _validation_error() -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/HTTPValidationError"}
    return {"description": "Validation Error", "content": {"application/json": {"schema": schema}}}


def _answer_as_stream(response: dict[str, Any], *, also_json: bool) -> None:
    """Server-sent events: `data: <json>` frames, then `data: [DONE]`."""
    stream = {"schema": {"type": "string", "description": "Server-sent events."}}
    content = response.setdefault("content", {})
    if not also_json:
        content.pop("application/json", None)
    content["text/event-stream"] = stream
    response["description"] = (
        "With `streaming: true`, the same server-sent events as /messages/stream."
        if also_json
        else "Server-sent events: a `data:` frame per message, then the stop reason, the "
        "usage and `data: [DONE]`."
    )
