"""An embedded DynamoDB for `make run`: moto's server on a free loopback port."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from infra.table_definition import create_table_kwargs


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_embedded_dynamodb() -> tuple[Any, str]:
    """Start moto's server in this process; returns (server, endpoint url)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per DynamoDB call
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # moto accepts any credentials; set dummy ones so boto3 never looks elsewhere.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    return server, f"http://127.0.0.1:{port}"


def ensure_table(client: Any, table_name: str) -> bool:
    """Create the table from template.yaml's definition unless it exists; True if created."""
    existing = client.list_tables().get("TableNames", [])
    if table_name in existing:
        return False
    client.create_table(**create_table_kwargs(table_name))
    client.get_waiter("table_exists").wait(TableName=table_name)
    return True
