"""`make run`: the API on http://127.0.0.1:$PORT with an embedded DynamoDB.

Set AWS_ENDPOINT_URL_DYNAMODB (and TABLE_NAME) to use another DynamoDB instead, e.g.
DynamoDB Local or a real table; the embedded one keeps data only while the process runs.
"""

from __future__ import annotations

import os
from typing import Any

import uvicorn

from handler.app import create_app
from handler.composition import build_services, dynamodb_client
from infra.local_dynamodb import ensure_table, start_embedded_dynamodb
from infra.settings import Settings


def local_store(settings: Settings) -> tuple[Settings, Any]:
    """Settings pointing at a ready table, and the embedded server to stop (or None).

    Why shared: `make run` and `make local-api` must run on the same store the same way.
    Without AWS_ENDPOINT_URL_DYNAMODB, moto's server starts in this process (calls
    serialized: moto is not thread-safe); the table is created from template.yaml.
    """
    embedded = None
    if settings.dynamodb_endpoint_url is None:
        embedded, endpoint = start_embedded_dynamodb()
        settings = settings.model_copy(
            update={"dynamodb_endpoint_url": endpoint, "serialize_dynamodb_calls": True}
        )
        print(f"embedded DynamoDB (moto) at {endpoint}", flush=True)
    ensure_table(dynamodb_client(settings), settings.table_name)
    return settings, embedded


def main() -> None:
    port = int(os.environ.get("PORT", "8283"))
    host = os.environ.get("HOST", "127.0.0.1")
    settings, embedded = local_store(Settings())
    app = create_app(build_services(settings))
    print(f"letta-groups-serverless on http://{host}:{port}", flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    main()
