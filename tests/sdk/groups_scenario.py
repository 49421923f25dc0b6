"""Group messaging through the official `letta-client==1.7.0` SDK in strict mode.

    .venv-sdk/bin/python tests/sdk/groups_scenario.py --base-url URL [--api-key K]

Drives `client.groups.messages` on the server's offline model (SPEC §3-§5): send
(`create`) to round_robin, supervisor, dynamic and sleeptime groups; `stream` compared with
the non-streamed send of the same input; the group transcript (`list`) over every page in both
orders; a message edit (`update`); `reset`; and the 422/404/400 errors. The client validates
every single-object response strictly; the SDK does not validate list pages or stream frames
beyond their union model, so list pages are also fetched and validated as `list[Message]`, and
the raw SSE body is read once through the SDK's `with_streaming_response`. Exits non-zero with
the failed check and the last HTTP exchange.

Helpers (`Checks`, `ScenarioFailure`, `describe`) come from the sibling `crud_scenario.py`,
which is importable because this file is run as a script from its own directory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from crud_scenario import Checks, ScenarioFailure, describe
from letta_client import (
    BadRequestError,
    Letta,
    NotFoundError,
    UnprocessableEntityError,
)
from letta_client.types.agents import LettaResponse, Message
from pydantic import TypeAdapter

MESSAGES = TypeAdapter(list[Message])
PAGE = 2  # messages per page: every listing spans several pages
MAX_PAGES = 500  # more pages than this is taken as a pagination loop
RUN_TIMEOUT = 60.0  # seconds a background sleeptime run may take to complete
BODY_LIMIT = 1500
REPLY = ["reasoning_message", "assistant_message"]
SUPERVISOR_SHAPE = [
    "reasoning_message",
    "tool_call_message",
    "tool_return_message",
    "reasoning_message",
    "assistant_message",
]


def text_of(message: Any) -> Any:
    """The comparable payload of a message: content, reasoning, tool call or tool return."""
    for field in ("content", "reasoning", "tool_call", "tool_return"):
        value = getattr(message, field, None)
        if value is not None:
            return value.model_dump() if hasattr(value, "model_dump") else value
    return None


def summary(messages: Sequence[Any]) -> str:
    lines = [
        f"    {m.message_type:<20} name={getattr(m, 'name', None)!r:<24} {str(text_of(m))[:70]!r}"
        for m in messages
    ]
    return "\n" + "\n".join(lines) if lines else " (no messages)"


class Exchanges:
    """Remembers the last HTTP request/response the SDK made, for failure reports."""

    def __init__(self) -> None:
        self.last: httpx.Response | None = None

    def hook(self, response: httpx.Response) -> None:
        self.last = response

    def describe(self) -> str:
        response = self.last
        if response is None:
            return "(no HTTP exchange yet)"
        request = response.request
        try:
            sent = request.content.decode(errors="replace")
        except httpx.RequestNotRead:
            sent = "<streamed>"
        try:
            got = response.content.decode(errors="replace")
        except (httpx.ResponseNotRead, httpx.StreamError):
            got = "<not read>"
        return (
            f"last HTTP exchange: {request.method} {request.url}\n"
            f"  request body: {sent[:BODY_LIMIT]}\n"
            f"  response: HTTP {response.status_code} {response.headers.get('content-type')}\n"
            f"  response body: {got[:BODY_LIMIT]}{'...' if len(got) > BODY_LIMIT else ''}"
        )


class GroupsScenario:
    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.exchanges = Exchanges()
        self.http = httpx.Client(timeout=120.0, event_hooks={"response": [self.exchanges.hook]})
        self.client = Letta(
            base_url=base_url.rstrip("/"),
            api_key=api_key,
            max_retries=0,  # surface the first error instead of a retried success
            timeout=120.0,
            http_client=self.http,
            _strict_response_validation=True,
        )
        self.check = Checks()
        self.run = uuid.uuid4().hex[:6]
        self.agents: list[str] = []
        self.names: dict[str, str] = {}
        self.groups: list[str] = []
        self.blocks: list[str] = []

    # ------------------------------------------------------------------ helpers

    def agent(self, name: str, **kwargs: Any) -> str:
        agent = self.client.agents.create(name=f"{name}-{self.run}", **kwargs)
        self.agents.append(agent.id)
        self.names[agent.id] = agent.name
        return agent.id

    def name_of(self, agent_id: str) -> str:
        return self.names[agent_id]  # cached: keeps the send as the last HTTP exchange

    def group(self, agent_ids: list[str], **kwargs: Any) -> str:
        group = self.client.groups.create(
            agent_ids=agent_ids, description=kwargs.pop("description", "scenario"), **kwargs
        )
        self.check.id_of(group.id, "group", "created group id")
        self.groups.append(group.id)
        return group.id

    def send(self, group_id: str, what: str, **kwargs: Any) -> LettaResponse:
        reply = self.client.groups.messages.create(group_id, **kwargs)
        self.check.true(isinstance(reply, LettaResponse), f"{what}: not a LettaResponse")
        for message in reply.messages:
            self.check.id_of(message.id, "message", f"{what}: {message.message_type} id")
            self.check.true(
                message.message_type != "user_message", f"{what}: the user's input was echoed"
            )
        return reply

    def shape(self, reply: LettaResponse, kinds: list[str], speakers: list[str], what: str) -> None:
        """Exact message types and, per message, the speaker's name and id."""
        got = [(m.message_type, m.name) for m in reply.messages]
        names = {a: self.name_of(a) for a in dict.fromkeys(speakers)}
        expected = [(k, names[a]) for k, a in zip(kinds, speakers, strict=True)]
        self.check.true(
            got == expected,
            f"{what}: messages (type, name)\n  expected {expected}\n  got      {got}"
            + summary(reply.messages),
        )
        for message, agent_id in zip(reply.messages, speakers, strict=True):
            self.check.eq(message.sender_id, agent_id, f"{what}: {message.message_type} sender_id")

    def usage(self, reply: LettaResponse, steps: int, stop: str, what: str) -> None:
        self.check.eq(reply.stop_reason.stop_reason, stop, f"{what}: stop_reason")
        self.check.eq(reply.stop_reason.message_type, "stop_reason", f"{what}: stop message_type")
        usage = reply.usage
        self.check.eq(usage.message_type, "usage_statistics", f"{what}: usage.message_type")
        self.check.eq(usage.step_count, steps, f"{what}: usage.step_count")
        self.check.true(
            (usage.total_tokens or 0) > 0
            and usage.total_tokens == (usage.prompt_tokens or 0) + (usage.completion_tokens or 0),
            f"{what}: usage tokens do not add up: {usage}",
        )
        by_agent = (usage.model_extra or {}).get("by_agent")
        if by_agent is not None:  # optional (SPEC §3): must sum exactly to the totals
            for field in ("step_count", "prompt_tokens", "completion_tokens", "total_tokens"):
                self.check.eq(
                    sum(entry[field] for entry in by_agent),
                    getattr(usage, field),
                    f"{what}: usage.by_agent {field} sum",
                )

    def transcript(self, group_id: str, **params: Any) -> list[Any]:
        """GET /v1/groups/{id}/messages validated strictly as list[Message]."""
        raw = self.client.get(
            f"/v1/groups/{group_id}/messages", cast_to=object, options={"params": params}
        )
        self.check.true(isinstance(raw, list), f"group messages list is not a JSON array: {raw!r}")
        return MESSAGES.validate_python(raw)

    def paginate(self, group_id: str, what: str, **params: Any) -> list[tuple[str, str]]:
        """Every page of groups.messages.list; returns (id, message_type) in listed order."""
        page = self.client.groups.messages.list(group_id, limit=PAGE, **params)
        seen: list[tuple[str, str]] = []
        for number in range(1, MAX_PAGES + 1):
            items = page.items
            MESSAGES.validate_python([m.model_dump(mode="json") for m in items])
            self.check.true(
                len(items) <= PAGE,
                f"{what}: page {number} holds {len(items)} messages > limit {PAGE}",
            )
            for item in items:
                key = (item.id, item.message_type)
                self.check.true(
                    key not in seen,
                    f"{what}: page {number} repeats {key} (cursor ignored or not exclusive?)",
                )
                seen.append(key)
            if not page.has_next_page():
                return seen
            page = page.get_next_page()
        raise ScenarioFailure(f"{what}: pagination did not end within {MAX_PAGES} pages")

    def raises(self, exc_type: type[Exception], call: Callable[[], object], what: str) -> Any:
        return self.check.raises(exc_type, call, what)

    # ------------------------------------------------------------------ steps

    def step_agents(self) -> None:
        self.members = [self.agent(f"rr{i}") for i in range(4)]
        self.workers = [self.agent(f"worker{i}") for i in range(4)]
        self.supervisor = self.agent("supervisor")
        self.speakers = [self.agent(f"speaker{i}") for i in range(4)]
        self.chooser = self.agent("chooser")

    def step_round_robin(self) -> None:
        self.rr = self.group(self.members)
        first = self.send(self.rr, "round_robin input", input="hello group")
        self.shape(first, REPLY * 4, [a for a in self.members for _ in REPLY], "round_robin input")
        self.usage(first, 4, "end_turn", "round_robin input")
        self.check.true(
            "hello group" in str(first.messages[1].content),
            f"round_robin: first speaker should answer the input: {first.messages[1].content!r}",
        )
        second = self.send(
            self.rr,
            "round_robin messages",
            messages=[{"role": "user", "content": "second round please"}],
        )
        self.shape(
            second, REPLY * 4, [a for a in self.members for _ in REPLY], "round_robin messages"
        )
        self.usage(second, 4, "end_turn", "round_robin messages")
        self.sent = [m for r in (first, second) for m in r.messages]

    def step_transcript_pages(self) -> None:
        full = self.transcript(self.rr, limit=1000, order="asc")
        keys = [(m.id, m.message_type) for m in full]
        asc = self.paginate(self.rr, "group messages asc", order="asc")
        desc = self.paginate(self.rr, "group messages desc", order="desc")
        default = self.paginate(self.rr, "group messages default order")
        self.check.eq(asc, keys, "paged asc vs one strict page (limit=1000, asc)")
        self.check.eq(desc, list(reversed(asc)), "group messages: desc vs reversed asc")
        self.check.eq(default, desc, "group messages: default order is desc")
        for message in self.sent:
            self.check.eq(
                asc.count((message.id, message.message_type)),
                1,
                f"group messages: occurrences of sent {message.message_type} {message.id}",
            )
        users = [m.content for m in full if m.message_type == "user_message"]
        self.check.eq(
            users, ["hello group", "second round please"], "user messages in the transcript"
        )
        self.check.eq(len(full), len(self.sent) + 2, "transcript = 2 user messages + replies")

    def step_edit(self) -> None:
        target = self.sent[3]  # rr1's assistant_message in the first send
        self.check.eq(target.message_type, "assistant_message", "edit target type")
        edited = self.client.groups.messages.update(
            target.id,
            group_id=self.rr,
            content="edited by the scenario",
            message_type="assistant_message",
        )
        self.check.eq(edited.message_type, "assistant_message", "edited message_type")
        self.check.eq(edited.id, target.id, "edited message id")
        self.check.eq(edited.content, "edited by the scenario", "edit response content")
        listed = {(m.id, m.message_type): m for m in self.transcript(self.rr, limit=1000)}
        self.check.eq(
            listed[(target.id, "assistant_message")].content,
            "edited by the scenario",
            "the transcript shows the edit",
        )
        paired = listed.get((target.id, "reasoning_message"))
        if paired is not None:
            self.check.eq(paired.reasoning, self.sent[2].reasoning, "paired reasoning untouched")
        untouched = self.sent[5]
        self.check.eq(
            listed[(untouched.id, "assistant_message")].content,
            untouched.content,
            "other messages are not edited",
        )
        self.raises(
            NotFoundError,
            lambda: self.client.groups.messages.update(
                f"message-{uuid.uuid4()}", group_id=self.rr, content="x"
            ),
            "edit of an unknown message",
        )

    def step_modify_reset(self) -> None:
        reversed_ids = list(reversed(self.members))
        group = self.client.groups.update(
            self.rr,
            agent_ids=reversed_ids,
            manager_config={"manager_type": "round_robin", "max_turns": 3},
        )
        self.check.eq(group.agent_ids, reversed_ids, "modified agent_ids")
        self.check.eq(group.max_turns, 3, "modified max_turns")
        result = self.client.groups.messages.reset(self.rr)
        self.check.eq(result, None, "reset body (JSON null)")
        self.check.eq(self.transcript(self.rr, limit=1000), [], "transcript after reset")
        reply = self.send(self.rr, "round_robin after reset", input="fresh start")
        self.shape(
            reply, REPLY * 3, [a for a in reversed_ids[:3] for _ in REPLY], "after modify+reset"
        )
        self.usage(reply, 3, "end_turn", "after modify+reset")
        self.check.true(
            "fresh start" in str(reply.messages[1].content),
            f"after reset: first speaker answers the new input: {reply.messages[1].content!r}",
        )
        after = self.transcript(self.rr, limit=1000, order="asc")
        self.check.eq(len(after), 7, "transcript after reset + send: 1 user + 6 replies")

    def step_supervisor(self) -> None:
        group_id = self.group(
            self.workers,
            manager_config={"manager_type": "supervisor", "manager_agent_id": self.supervisor},
        )
        reply = self.send(group_id, "supervisor", input="team, report in")
        self.shape(reply, SUPERVISOR_SHAPE, [self.supervisor] * 5, "supervisor")
        self.usage(reply, 2 + len(self.workers), "end_turn", "supervisor")
        call = reply.messages[1].tool_call
        self.check.eq(call.name, "send_message_to_all_agents_in_group", "broadcast tool name")
        returned = str(reply.messages[2].tool_return)
        positions = [returned.find(self.name_of(w)) for w in self.workers]
        self.check.true(
            all(p >= 0 for p in positions) and positions == sorted(positions),
            f"broadcast return should hold every worker's reply in member order: {returned!r}",
        )
        listed = self.transcript(group_id, limit=1000, order="asc")
        names = {m.name for m in listed if m.message_type == "assistant_message"}
        for worker in self.workers:
            self.check.true(
                self.name_of(worker) in names,
                f"supervisor transcript lacks worker {self.name_of(worker)}'s reply: "
                + summary(listed),
            )

    def step_dynamic(self) -> None:
        group_id = self.group(
            self.speakers,
            manager_config={"manager_type": "dynamic", "manager_agent_id": self.chooser},
        )
        reply = self.send(group_id, "dynamic", input="discuss among yourselves")
        messages = reply.messages
        self.check.true(len(messages) == 16, f"dynamic: expected 16 messages{summary(messages)}")
        self.usage(reply, 8, "end_turn", "dynamic")
        chooser = self.name_of(self.chooser)
        by_name = {self.name_of(a): a for a in self.speakers}
        previous = None
        for turn in range(4):
            chunk = messages[4 * turn : 4 * turn + 4]
            kinds = [(m.message_type, m.name) for m in chunk]
            speaker = chunk[2].name
            self.check.true(
                kinds == [*((k, chooser) for k in REPLY), *((k, speaker) for k in REPLY)],
                f"dynamic turn {turn + 1}: expected the manager's reasoning+reply, then one "
                f"member's reasoning+reply; got {kinds}",
            )
            self.check.true(speaker in by_name, f"dynamic turn {turn + 1}: {speaker!r} no member")
            self.check.true(speaker != previous, f"dynamic turn {turn + 1}: {speaker} twice")
            self.check.eq(chunk[2].sender_id, by_name[speaker], f"dynamic turn {turn + 1} sender")
            previous = speaker

    def step_sleeptime(self) -> None:
        block = self.client.blocks.create(label="human", value="The user is Ada.", limit=4000)
        self.blocks.append(block.id)
        main = self.agent("main", block_ids=[block.id])
        helper = self.agent("helper", agent_type="sleeptime_agent", block_ids=[block.id])
        group_id = self.group(
            [helper],
            manager_config={
                "manager_type": "sleeptime",
                "manager_agent_id": main,
                "sleeptime_agent_frequency": 2,
            },
        )
        expect_runs = [True, False, True]
        for number, runs_expected in enumerate(expect_runs, 1):
            what = f"sleeptime send {number}"
            reply = self.send(group_id, what, input=f"my favourite number is {number}")
            self.shape(reply, REPLY, [main, main], what)
            self.usage(reply, 1, "end_turn", what)
            run_ids = reply.usage.run_ids
            if runs_expected:
                self.check.true(
                    isinstance(run_ids, list) and run_ids,
                    f"{what}: usage.run_ids should list the sleeptime run(s), got {run_ids!r}",
                )
                for run_id in run_ids:
                    self.check.id_of(run_id, "run", f"{what}: run id")
                    self.wait_for_run(run_id, what)
            else:
                self.check.eq(run_ids, [], f"{what}: usage.run_ids (no sleeptime run)")
        value = self.client.blocks.retrieve(block.id).value
        self.check.true(
            "favourite number" in value,
            f"sleeptime runs should have written to the shared block; value is {value!r}",
        )

    def wait_for_run(self, run_id: str, what: str) -> None:
        deadline = time.monotonic() + RUN_TIMEOUT
        status = None
        while time.monotonic() < deadline:
            run = self.client.runs.retrieve(run_id)
            self.check.eq(run.id, run_id, f"{what}: retrieved run id")
            status = run.status
            if status == "completed":
                return
            if status in ("failed", "cancelled"):
                raise ScenarioFailure(f"{what}: run {run_id} ended {status}: {run.model_dump()}")
            time.sleep(0.2)
        raise ScenarioFailure(f"{what}: run {run_id} not completed in {RUN_TIMEOUT}s ({status})")

    def step_stream(self) -> None:
        # Two identical fresh groups of identically named fresh agents: one streamed, one not.
        suffix = uuid.uuid4().hex[:4]
        plain = self.group([self.agent(f"twin{i}-{suffix}") for i in range(4)])
        streamed_members = [self.agent(f"twin{i}-{suffix}") for i in range(4)]
        streamed = self.group(streamed_members)
        expected = self.send(plain, "non-streamed twin", input="stream me")

        events = list(self.client.groups.messages.stream(streamed, input="stream me"))
        kinds = [e.message_type for e in events]
        content = [e for e in events if e.message_type not in ("stop_reason", "usage_statistics")]
        self.check.eq(
            [(m.message_type, m.name, text_of(m)) for m in content],
            [(m.message_type, m.name, text_of(m)) for m in expected.messages],
            "streamed message events vs the non-streamed send (type, name, content)",
        )
        for event, agent_id in zip(
            content, [a for a in streamed_members for _ in REPLY], strict=True
        ):
            self.check.eq(event.sender_id, agent_id, f"streamed {event.message_type} sender_id")
            self.check.id_of(event.id, "message", f"streamed {event.message_type} id")
        self.check.eq(
            kinds[len(content) :],
            ["stop_reason", "usage_statistics"],
            "stream ends with a stop_reason then a usage_statistics event",
        )
        self.check.eq(events[-2].stop_reason, "end_turn", "streamed stop_reason")
        self.check.eq(events[-1].step_count, 4, "streamed usage.step_count")
        self.check.true((events[-1].total_tokens or 0) > 0, f"streamed usage: {events[-1]}")

        # The raw frames, through the SDK's own client: `data:` frames only, [DONE] last.
        with self.client.groups.messages.with_streaming_response.stream(
            streamed, input="and the raw frames"
        ) as response:
            ctype = response.headers.get("content-type", "")
            lines = list(response.iter_lines())
        self.check.true(ctype.startswith("text/event-stream"), f"stream content-type {ctype!r}")
        fields = [line.split(":", 1)[0] for line in lines if line and not line.startswith(":")]
        self.check.eq(sorted(set(fields)), ["data"], "SSE fields (the SDK drops `event:` frames)")
        data = [line[len("data:") :].strip() for line in lines if line.startswith("data:")]
        self.check.eq(data[-1], "[DONE]", "last SSE frame")
        frames = [json.loads(d) for d in data[:-1]]
        self.check.eq(
            [f["message_type"] for f in frames[-2:]],
            ["stop_reason", "usage_statistics"],
            "raw frames before [DONE]",
        )
        self.check.eq(len(frames), 10, "raw frames: 8 messages + stop_reason + usage")

        listed = self.transcript(streamed, limit=1000, order="asc")
        persisted = {(m.id, m.message_type) for m in listed}
        for event in content:
            self.check.true(
                (event.id, event.message_type) in persisted,
                f"streamed {event.message_type} {event.id} missing from the transcript",
            )

    def step_errors(self) -> None:
        messages = self.client.groups.messages
        self.raises(
            UnprocessableEntityError,
            lambda: messages.create(
                self.rr, input="a", messages=[{"role": "user", "content": "b"}]
            ),
            "send with both input and messages",
        )
        self.raises(UnprocessableEntityError, lambda: messages.create(self.rr), "send with neither")
        unknown = f"group-{uuid.uuid4()}"
        self.raises(NotFoundError, lambda: messages.create(unknown, input="x"), "unknown group")
        self.raises(
            NotFoundError, lambda: messages.stream(unknown, input="x"), "stream to unknown group"
        )
        self.raises(
            UnprocessableEntityError,
            lambda: messages.stream(
                self.rr, input="a", messages=[{"role": "user", "content": "b"}]
            ),
            "stream with both input and messages",
        )
        self.raises(NotFoundError, lambda: messages.list(unknown), "transcript of unknown group")
        self.raises(NotFoundError, lambda: messages.reset(unknown), "reset of unknown group")
        empty = self.group([], description="empty")
        exc = self.raises(BadRequestError, lambda: messages.create(empty, input="x"), "empty")
        self.check.true(
            "empty group" in json.dumps(exc.body).lower(),
            f"empty group: detail should say 'Empty group', got {exc.body!r}",
        )
        self.raises(BadRequestError, lambda: messages.stream(empty, input="x"), "stream empty")

    # ------------------------------------------------------------------ driver

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("agents for every group", self.step_agents),
            ("round_robin x4: input, then messages", self.step_round_robin),
            ("transcript: every page, asc/desc/default", self.step_transcript_pages),
            ("edit an assistant message", self.step_edit),
            ("modify (reversed, max_turns 3), reset, send", self.step_modify_reset),
            ("supervisor with 4 workers", self.step_supervisor),
            ("dynamic with 4 members", self.step_dynamic),
            ("sleeptime frequency 2: run_ids and runs", self.step_sleeptime),
            ("stream vs send, SSE frames, [DONE]", self.step_stream),
            ("422 both/neither, 404 unknown, 400 empty", self.step_errors),
        ]

    def cleanup(self) -> None:
        for group_id in self.groups:
            with contextlib.suppress(Exception):
                self.client.groups.delete(group_id)
        for agent_id in self.agents:
            with contextlib.suppress(Exception):
                self.client.agents.delete(agent_id)
        for block_id in self.blocks:
            with contextlib.suppress(Exception):
                self.client.blocks.delete(block_id)

    def execute(self) -> int:
        current = "setup"
        failed = False
        try:
            for number, (name, step) in enumerate(self.steps(), 1):
                current = name
                before = self.check.passed
                step()
                print(f"ok   {number:2d} {name} ({self.check.passed - before} checks)", flush=True)
        except Exception as exc:  # every failure is reported, then exit 1
            failed = True
            print(f"FAIL {current}: {describe(exc)}", flush=True)
            print(self.exchanges.describe(), flush=True)
        self.cleanup()
        self.http.close()
        print(f"sdk groups scenario: {self.check.passed} passed, {int(failed)} failed", flush=True)
        return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8283")
    parser.add_argument("--api-key", default=None, help="bearer key, when the server wants one")
    args = parser.parse_args(argv)
    return GroupsScenario(args.base_url, args.api_key).execute()


if __name__ == "__main__":
    sys.exit(main())
