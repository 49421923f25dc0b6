"""A local server's DynamoDB table (AWS_ENDPOINT_URL_DYNAMODB set): created if missing."""

from __future__ import annotations

from typing import Any

from infra.table_definition import create_table_kwargs


def ensure_table(client: Any, table_name: str) -> bool:
    """Create the table from template.yaml's definition unless it exists; True if created."""
    existing = client.list_tables().get("TableNames", [])
    if table_name in existing:
        return False
    client.create_table(**create_table_kwargs(table_name))
    client.get_waiter("table_exists").wait(TableName=table_name)
    return True
