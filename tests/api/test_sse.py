"""SSE framing, including a failure after the stream started (SPEC §4)."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from core.errors import ConflictError
from core.schemas.messages import LettaResponse, LettaStopReason, LettaUsageStatistics
from handler.sse import sse_frames
from tests.reference import openapi_document

DOC = openapi_document()
REGISTRY = Registry().with_resource(
    "ref", Resource.from_contents(DOC, default_specification=DRAFT202012)
)


def _validate(name: str, body: object) -> list[str]:
    validator = Draft202012Validator({"$ref": f"ref#/components/schemas/{name}"}, registry=REGISTRY)
    return [e.message for e in validator.iter_errors(body)]


def _frames(events: list) -> list[str]:
    text = "".join(sse_frames(events))
    assert text.endswith("\n\n")
    return [chunk.removeprefix("data: ") for chunk in text.split("\n\n") if chunk]


def test_a_finished_send_ends_with_stop_reason_usage_and_done() -> None:
    done = LettaResponse(
        messages=[],
        stop_reason=LettaStopReason(stop_reason="end_turn"),
        usage=LettaUsageStatistics(step_count=1),
    )
    frames = _frames([("done", done)])
    assert frames[-1] == "[DONE]"
    assert json.loads(frames[0])["stop_reason"] == "end_turn"
    assert json.loads(frames[1])["message_type"] == "usage_statistics"


def test_a_failure_mid_stream_is_an_error_frame_then_a_stop_reason() -> None:
    for error in (ConflictError("busy"), RuntimeError("boom")):
        frames = _frames([("error", error)])
        error_frame = json.loads(frames[0])
        assert _validate("LettaErrorMessage", error_frame) == []
        assert error_frame["run_id"].startswith("run-")
        assert json.loads(frames[1]) == {"message_type": "stop_reason", "stop_reason": "error"}
        assert frames[-1] == "[DONE]"
    assert "boom" not in "".join(_frames([("error", RuntimeError("boom"))]))
