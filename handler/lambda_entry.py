"""AWS Lambda entry: API Gateway (REST v1 or HTTP v2) events through Mangum to the app.

Everything here runs once per container at import (the init phase); `handler` only adapts
one event. Mangum runs with lifespan off so no start-up work repeats per invocation.

The garbage collector is off during init: importing and building makes a few hundred
thousand objects that live as long as the container, and collecting while they are made
only rescans them (about 8% of a cold start here). At the end they are frozen, so later
collections skip them too.
"""

from __future__ import annotations

import gc

gc.disable()

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum import Mangum

from handler.app import create_app
from handler.composition import build_services
from handler.observability import configure_logging, traced
from handler.snapstart import install as install_snapstart_hooks
from infra.metrics import PowertoolsMetrics
from infra.settings import get_settings

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "letta-groups"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "LettaGroups"))
configure_logging(logger)
app = create_app(build_services(get_settings(), metrics=PowertoolsMetrics()))
asgi_handler = Mangum(app, lifespan="off", api_gateway_base_path=get_settings().api_base_path)
install_snapstart_hooks(app)
gc.freeze()
gc.enable()


@traced(get_settings().tracing_enabled, logger)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = asgi_handler(event, context)
    status = int(response.get("statusCode", 500))
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    if status >= 500:
        metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1)
    logger.info("request done", extra={"status": status, "path": _path_of(event)})
    return response


def _path_of(event: dict[str, Any]) -> str:
    return event.get("rawPath") or event.get("path") or ""
