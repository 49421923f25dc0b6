"""Logs, metrics and traces of the Lambda functions, set up once per container.

Logs: core, infra and handler log with the standard `logging` module; their loggers get
the Powertools Logger's handler (its JSON formatter, its level), so one JSON line per
record, with the Lambda context and correlation id Powertools keeps on its formatter.
`ContextFields`, a filter on that handler, adds the ids core bound in
`core.observability` (tenant, group_id, agent_id, run_id) to every record, whatever
logger or thread it comes from.

Tracing: X-Ray through Powertools' Tracer when TRACING_ENABLED is true; imported only then
(aws-xray-sdk costs cold-start time), and left off if the SDK is not installed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from core.observability import fields

APP_LOGGERS = {"core", "infra", "handler"}

F = TypeVar("F", bound=Callable[..., Any])


class ContextFields(logging.Filter):
    """Copies the ids bound in the current context onto each record (as `extra` would)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in fields().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def configure_logging(logger: Logger) -> None:
    """Route the app's standard-library loggers through `logger`'s JSON handler."""
    for name in APP_LOGGERS:
        logging.getLogger(name)  # registered, so copy_config finds them
    copy_config_to_registered_loggers(source_logger=logger, include=set(APP_LOGGERS))
    for handler in logger.handlers:
        if not any(isinstance(f, ContextFields) for f in handler.filters):
            handler.addFilter(ContextFields())


def traced(enabled: bool, logger: Logger) -> Callable[[F], F]:
    """A decorator: Powertools' `capture_lambda_handler` when tracing is on and the X-Ray
    SDK is installed (`aws-lambda-powertools[tracer]`), else the handler unchanged."""
    if enabled:
        try:
            from aws_lambda_powertools import Tracer

            tracer = Tracer()  # patches boto3/botocore and httpx where it can
        except ImportError:
            logger.warning("TRACING_ENABLED is set but aws-xray-sdk is not installed")
        else:
            return tracer.capture_lambda_handler  # type: ignore[return-value]
    return lambda handler: handler
