"""`python -m handler.keys create|list|revoke`: the operator's tool for API keys.

It works on the table the API reads: a deployed stack's (`--table <TableName output>
--region <region>`), or `make run`'s embedded one (`--endpoint-url` it prints at start-up).
Without flags it reads the same environment as the service (TABLE_NAME, AWS_REGION,
AWS_ENDPOINT_URL_DYNAMODB). `create` prints the key once, alone on stdout, so a script can
keep it; nothing keeps it but the caller.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError

from core.errors import DomainError
from core.records import ApiKeyRecord
from core.services.api_keys import ApiKeys
from core.services.authentication import OPEN_TENANT
from handler.composition import build_store
from infra.clock import SystemClock
from infra.settings import Settings


def parser() -> argparse.ArgumentParser:
    tool = argparse.ArgumentParser(prog="python -m handler.keys", description=__doc__)
    tool.add_argument(
        "--local",
        action="store_true",
        help="the keys of `make run`'s own state (its SQLite file, or the DynamoDB at "
        "AWS_ENDPOINT_URL_DYNAMODB)",
    )
    tool.add_argument("--table", help="DynamoDB table (default: TABLE_NAME, letta-groups)")
    tool.add_argument("--region", help="its region (default: AWS_REGION, us-east-1)")
    tool.add_argument(
        "--endpoint-url", help="another DynamoDB endpoint, e.g. the one `make run` prints"
    )
    commands = tool.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="make a key and print it (once)")
    create.add_argument(
        "--tenant", default=OPEN_TENANT, help=f"the tenant it opens (default: {OPEN_TENANT})"
    )
    create.add_argument("--name", help="a note saying whose key it is")
    listing = commands.add_parser("list", help="every key's prefix, tenant, name and state")
    listing.add_argument("--tenant", help="only this tenant's keys")
    revoke = commands.add_parser("revoke", help="stop a key from opening anything")
    revoke.add_argument("key", help="the key, or the prefix `list` shows")
    return tool


def keys_of(arguments: argparse.Namespace) -> ApiKeys:
    """The key records of the table the flags (or the environment) name."""
    overrides = {
        name: value
        for name, value in (
            ("table_name", arguments.table),
            ("aws_region", arguments.region),
            ("dynamodb_endpoint_url", arguments.endpoint_url),
        )
        if value
    }
    settings = Settings().model_copy(update=overrides)
    if arguments.local:
        from handler.local import local_store

        settings = local_store(settings)
    return ApiKeys(build_store(settings), SystemClock())


def describe(record: ApiKeyRecord) -> str:
    state = f"revoked {record.revoked_at:%Y-%m-%d %H:%M}" if record.revoked_at else "active"
    created = f"{record.created_at:%Y-%m-%d %H:%M}"
    return f"{record.prefix}…\t{record.tenant}\t{created}\t{state}\t{record.name or ''}"


def run(arguments: argparse.Namespace) -> None:
    keys = keys_of(arguments)
    if arguments.command == "create":
        made = keys.create(arguments.tenant, arguments.name)
        print(made.key)
        print(
            f"Key {made.record.prefix}… opens tenant {made.record.tenant!r}. Keep it now: "
            "it is stored only as a hash and is not shown again.",
            file=sys.stderr,
        )
    elif arguments.command == "list":
        print("prefix\ttenant\tcreated (UTC)\tstate\tname")
        for record in keys.list(arguments.tenant):
            print(describe(record))
    else:
        record = keys.revoke(arguments.key)
        print(
            f"Revoked {record.prefix}… (tenant {record.tenant!r}); the API stops taking it "
            "within a minute (API_KEY_CACHE_S)."
        )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        run(arguments)
    except DomainError as error:
        print(f"error: {error.detail}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as error:
        print(f"error: the table could not be used: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
