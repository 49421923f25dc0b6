"""API Gateway REST proxy events and a Lambda context, as Lambda hands them to a handler."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

HOST = "bench.execute-api.us-east-1.amazonaws.com"


@dataclass
class LambdaContext:
    function_name: str = "letta-groups-api"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:letta-groups-api"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/letta-groups-api"
    log_stream_name: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


def rest_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    """A REST API (payload 1.0) proxy event for `method path` with a JSON body."""
    headers = {"Host": HOST, "Content-Type": "application/json", "X-Forwarded-Proto": "https"}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "bench"},
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }
