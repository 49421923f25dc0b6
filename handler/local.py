"""`make run`: the API on http://127.0.0.1:$PORT, its state in a SQLite file.

By default state lives in SQLITE_PATH (`.data/letta.sqlite3`), so agents, groups and
transcripts outlive a restart. Set AWS_ENDPOINT_URL_DYNAMODB (and TABLE_NAME) to use a
DynamoDB instead, e.g. DynamoDB Local or a real table: the table is created if missing.
"""

from __future__ import annotations

import os

from core.services.authentication import OPEN_TENANT
from handler.app import create_app
from handler.composition import Services, build_services, dynamodb_client
from infra.settings import Settings


def local_store(settings: Settings) -> Settings:
    """Settings naming the store a local server uses, ready to use.

    Why shared: `make run` and `make local-api` must run on the same store the same way.
    Without AWS_ENDPOINT_URL_DYNAMODB that is the SQLite file; with it, the DynamoDB
    adapter on that endpoint, its table created from template.yaml's definition.
    """
    if settings.dynamodb_endpoint_url is None:
        print(f"state in {settings.sqlite_path.resolve()} (SQLite)", flush=True)
        return settings.model_copy(update={"store_backend": "sqlite"})
    from infra.local_dynamodb import ensure_table

    ensure_table(dynamodb_client(settings), settings.table_name)
    print(f"state in DynamoDB table {settings.table_name} at {settings.dynamodb_endpoint_url}")
    return settings.model_copy(update={"store_backend": "dynamodb"})


def resume_left_runs(services: Services, settings: Settings) -> list[str]:
    """Runs run in this process: what a previous `make run` left unfinished goes on (every
    tenant it knows: the open one, `API_KEYS`' and the stored keys')."""
    tenants = {OPEN_TENANT, *settings.tenants_by_key().values()}
    tenants |= {key.tenant for key in services.api_keys.list()}
    resumed = [run for tenant in sorted(tenants) for run in services.runs.recover(tenant)]
    if resumed:
        print(f"resuming {len(resumed)} run(s) a previous server left unfinished", flush=True)
    return resumed


def main() -> None:
    import uvicorn

    port = int(os.environ.get("PORT", "8283"))
    host = os.environ.get("HOST", "127.0.0.1")
    settings = local_store(Settings())
    services = build_services(settings)
    resume_left_runs(services, settings)
    app = create_app(services)
    print(f"letta-groups-serverless on http://{host}:{port}", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info")


if __name__ == "__main__":
    main()
