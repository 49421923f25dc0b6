"""The run worker (handler.worker_entry) and the SqsLauncher, on moto's DynamoDB and SQS.

Runs are launched by the real composition (RUN_LAUNCHER=sqs), the messages it puts on the
queue are received from moto and handed to the worker as the SQS event Lambda would send.
"""

from __future__ import annotations

import gc
import importlib
import json
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient
from pydantic import ValidationError

from core.ports import Change
from core.records import RunRecord
from core.schemas.agents import CreateAgentRequest
from handler.app import create_app
from handler.composition import build_services
from infra.dynamodb_store import DynamoDBStore
from infra.launchers import SqsLauncher
from infra.settings import Settings, get_settings
from tests.conftest import TABLE, Api
from tests.test_lambda_entry import FakeContext

REGION = "us-east-1"
TENANT = "default"


@pytest.fixture
def queue(aws: None) -> tuple[str, str]:
    """A moto SQS queue: (url, arn)."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="letta-runs-test")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


@pytest.fixture
def worker(queue: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A fresh import of handler.worker_entry, built from the environment inside moto."""
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("SERIALIZE_DYNAMODB_CALLS", "true")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("RUN_LAUNCHER", "sqs")
    monkeypatch.setenv("RUN_QUEUE_URL", queue[0])
    get_settings.cache_clear()
    sys.modules.pop("handler.worker_entry", None)
    module = importlib.import_module("handler.worker_entry")
    yield module
    sys.modules.pop("handler.worker_entry", None)
    get_settings.cache_clear()
    gc.unfreeze()  # the import froze this test process's objects, as Lambda's init would


def test_the_worker_makes_its_run_services_at_init(worker: ModuleType) -> None:
    """Every delivery runs a run: init (not the first delivery) makes what runs need."""
    assert worker.services.made("runs") and worker.services.made("async_sends")
    assert gc.isenabled()


def receive(queue: tuple[str, str]) -> list[dict[str, Any]]:
    """Every message waiting on the queue, as SQS hands them to a consumer."""
    sqs = boto3.client("sqs", region_name=REGION)
    answer = sqs.receive_message(
        QueueUrl=queue[0], MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0
    )
    return list(answer.get("Messages", []))


def sqs_event(messages: Sequence[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping sends the worker."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {"ApproximateReceiveCount": "1"}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def submit(worker: ModuleType, text: str = "Ada likes tea") -> str:
    """A background agent turn through the worker's own services (launched with SQS)."""
    runs = worker.services.runs
    agent = worker.services.agents.create(TENANT, CreateAgentRequest(name="sleeper"))
    return str(runs.submit(TENANT, agent.id, {"kind": "agent_turn", "input": text}).id)


def run_record(worker: ModuleType, run_id: str) -> RunRecord:
    record: RunRecord = worker.services.runs.get_record(TENANT, run_id)
    return record


# -- the launcher ---------------------------------------------------------------------------


def test_sqs_launcher_puts_the_run_on_the_queue(queue: tuple[str, str]) -> None:
    launcher = SqsLauncher(boto3.client("sqs", region_name=REGION), queue[0])
    launcher.launch("tenant-a", "run-123")
    (message,) = receive(queue)
    assert json.loads(message["Body"]) == {"tenant": "tenant-a", "run_id": "run-123"}


def test_run_launcher_sqs_needs_a_queue_url_and_selects_the_sqs_launcher(
    queue: tuple[str, str],
) -> None:
    with pytest.raises(ValidationError, match="RUN_QUEUE_URL"):
        Settings(run_launcher="sqs")
    settings = Settings(table_name=TABLE, run_launcher="sqs", run_queue_url=queue[0])
    assert isinstance(build_services(settings).runs.launcher, SqsLauncher)


# -- the worker -----------------------------------------------------------------------------


def test_a_sleeptime_send_leaves_its_run_to_the_worker(
    worker: ModuleType, queue: tuple[str, str], settings: Settings
) -> None:
    """The deployed flow: the API only enqueues the run; the worker executes it."""
    services = build_services(
        settings.model_copy(update={"run_launcher": "sqs", "run_queue_url": queue[0]})
    )
    api = Api(TestClient(create_app(services)))
    block = api.block("human", "")
    main = api.agent("main", block_ids=[block["id"]])["id"]
    sleeper = api.agent("dreamer", agent_type="sleeptime_agent", block_ids=[block["id"]])["id"]
    group = api.group(
        [sleeper], manager_config={"manager_type": "sleeptime", "manager_agent_id": main}
    )
    reply = api.ok(
        "POST", f"/v1/groups/{group['id']}/messages", json={"input": "my favourite colour is green"}
    )
    (run_id,) = reply["usage"]["run_ids"]
    assert api.ok("GET", f"/v1/runs/{run_id}")["status"] == "created"

    messages = receive(queue)
    assert [json.loads(m["Body"])["run_id"] for m in messages] == [run_id]
    answer = worker.handler(sqs_event(messages, queue[1]), FakeContext())

    assert answer == {"batchItemFailures": []}
    assert api.ok("GET", f"/v1/runs/{run_id}")["status"] == "completed"
    assert "green" in api.ok("GET", f"/v1/blocks/{block['id']}")["value"]


def test_a_redelivered_record_is_acknowledged_and_not_run_twice(
    worker: ModuleType, queue: tuple[str, str]
) -> None:
    run_id = submit(worker)
    event = sqs_event(receive(queue), queue[1])
    assert worker.handler(event, FakeContext()) == {"batchItemFailures": []}
    finished = run_record(worker, run_id)
    assert finished.status == "completed"

    assert worker.handler(event, FakeContext()) == {"batchItemFailures": []}
    assert run_record(worker, run_id) == finished  # same version: nothing ran or was written


def test_a_run_whose_start_cannot_be_recorded_is_a_batch_item_failure_then_retried(
    worker: ModuleType, queue: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    good, bad = submit(worker, "one"), submit(worker, "two")
    messages = receive(queue)
    by_run = {json.loads(m["Body"])["run_id"]: m["MessageId"] for m in messages}
    write = DynamoDBStore.write

    def throttled(self: DynamoDBStore, tenant: str, changes: Sequence[Change]) -> None:
        """DynamoDB refusing the write that starts `bad`, as it does when throttled."""
        if any(c.record.id == bad and isinstance(c.record, RunRecord) for c in changes):
            error = {"Error": {"Code": "ProvisionedThroughputExceededException"}}
            raise ClientError(error, "TransactWriteItems")
        write(self, tenant, changes)

    monkeypatch.setattr(DynamoDBStore, "write", throttled)
    answer = worker.handler(sqs_event(messages, queue[1]), FakeContext())

    assert answer == {"batchItemFailures": [{"itemIdentifier": by_run[bad]}]}
    assert run_record(worker, good).status == "completed"
    assert run_record(worker, bad).status == "created"

    monkeypatch.setattr(DynamoDBStore, "write", write)  # the redelivery finds DynamoDB back
    retry = [m for m in messages if m["MessageId"] == by_run[bad]]
    assert worker.handler(sqs_event(retry, queue[1]), FakeContext()) == {"batchItemFailures": []}
    assert run_record(worker, bad).status == "completed"


def test_a_body_that_names_no_run_is_a_batch_item_failure(
    worker: ModuleType, queue: tuple[str, str]
) -> None:
    submit(worker)
    (message,) = receive(queue)
    poison = {**message, "MessageId": "poison-1", "Body": '{"run": "?"}'}
    answer = worker.handler(sqs_event([message, poison], queue[1]), FakeContext())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "poison-1"}]}
