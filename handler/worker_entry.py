"""AWS Lambda entry of the run worker: SQS messages sent by infra.launchers.SqsLauncher.

Each record names one run; `RunService.attempt` executes it. What SQS is told, per record:

- `finished`, `skipped` (missing, finished, or started by another delivery less than
  `STALE_AFTER` ago) and `end_unrecorded` (it ran but its end could not be written) are
  acknowledged: SQS deletes the message.
- `not_started` (the run's start could not be recorded, e.g. DynamoDB throttled or
  unavailable after botocore's retries, or another send holds the group it must resume
  in) and a body that is not a RunMessage raise, so the record is reported in
  `batchItemFailures`: SQS delivers it again after the visibility timeout, and after
  `maxReceiveCount` receives moves it to the dead-letter queue.

A run never executes twice: starting it is a conditional `created` → `running` write. A
message that comes back because its worker died (not acknowledged) finds the run `running`
past `STALE_AFTER`: a group send resumes from its last committed turn, other kinds fail.
Everything here runs once per container at import (the init phase): every delivery runs a
run, so the send services are made then, not on the first delivery. As in lambda_entry,
the garbage collector is off while init makes what the container keeps, which is then
frozen out of later collections.
"""

from __future__ import annotations

import gc

gc.disable()

import os
import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.observability import bind
from core.services.runs import RunAttempt
from handler.composition import build_services
from handler.observability import configure_logging, traced
from infra.launchers import RunMessage
from infra.metrics import PowertoolsMetrics
from infra.settings import get_settings

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "letta-groups"))
configure_logging(logger)
processor = BatchProcessor(event_type=EventType.SQS)
metrics = PowertoolsMetrics()
services = build_services(get_settings(), metrics=metrics).make_all()
gc.freeze()
gc.enable()


class RunNotStartedError(RuntimeError):
    """The run's start could not be recorded; its message is to be delivered again."""


def record_handler(record: SQSRecord) -> RunAttempt:
    """Execute the record's run; raise (a batch item failure) only when a retry can help."""
    message = RunMessage.model_validate_json(record.body)
    sent_ms = record.attributes.get("SentTimestamp")  # epoch ms, set by SQS
    if sent_ms is not None:
        metrics.timing("RunQueueAge", max(0.0, time.time() * 1000 - int(sent_ms)))
    with bind(tenant=message.tenant, run_id=message.run_id):
        attempt = services.runs.attempt(message.tenant, message.run_id)
        logger.info(
            "run attempted",
            extra={
                "attempt": attempt,
                "receive_count": record.attributes.approximate_receive_count,
            },
        )
    if attempt == "not_started":
        raise RunNotStartedError(f"run {message.run_id}: its start could not be recorded")
    return attempt


@traced(get_settings().tracing_enabled, logger)
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Report failed records only (`ReportBatchItemFailures` on the event source mapping)."""
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
