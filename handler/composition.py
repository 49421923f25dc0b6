"""Composition root: the one place where core's services meet infra's adapters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import boto3
from botocore.config import Config

from core.groups.engine import GroupEngine
from core.llm import ModelClient
from core.ports import NO_METRICS, Clock, Metrics, Store
from core.runtime.agent_loop import AgentLoop
from core.services.agent_messages import AgentMessageService
from core.services.agents import AgentService
from core.services.api_keys import ApiKeys
from core.services.async_sends import AsyncSends
from core.services.authentication import Authenticator
from core.services.blocks import BlockService
from core.services.core_memory import CoreMemoryReads
from core.services.group_messages import GroupMessageService
from core.services.groups import GroupService
from core.services.idempotency import Idempotency
from core.services.message_edits import MessageEdit
from core.services.run_callbacks import RunCallbacks
from core.services.run_cancellation import RunCancellation
from core.services.runs import RunService
from infra.callbacks import HttpCallbacks
from infra.clock import SystemClock
from infra.dynamodb_store import DynamoDBStore, SerializedClient
from infra.launchers import InProcessLauncher, SqsLauncher
from infra.providers.router import ModelRouter
from infra.settings import Settings


@dataclass(frozen=True)
class Services:
    """Everything a request handler may call, built once per process (Lambda container)."""

    settings: Settings
    agents: AgentService
    blocks: BlockService
    core_memory: CoreMemoryReads
    groups: GroupService
    agent_messages: AgentMessageService
    runs: RunService
    group_messages: GroupMessageService
    idempotency: Idempotency
    message_edits: MessageEdit
    async_sends: AsyncSends
    run_cancellation: RunCancellation
    metrics: Metrics
    api_keys: ApiKeys
    authenticator: Authenticator
    store: Store


def dynamodb_client(settings: Settings):  # noqa: ANN201 - boto3 clients are untyped
    """One client per process; botocore's standard retry mode handles throttling."""
    return boto3.client(
        "dynamodb",
        region_name=settings.aws_region,
        endpoint_url=settings.dynamodb_endpoint_url,
        config=Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3),
    )


def sqs_client(settings: Settings):  # noqa: ANN201 - boto3 clients are untyped
    """One client per process, for the run queue."""
    return boto3.client(
        "sqs",
        region_name=settings.aws_region,
        config=Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3),
    )


def reconnect_aws(services: Services) -> None:
    """Give the store and the run launcher new AWS clients. Clients made during init and
    carried in a SnapStart snapshot hold connections that died with the snapshotted
    instance (handler/snapstart.py calls this after a restore)."""
    settings = services.settings
    if isinstance(services.store, DynamoDBStore):
        client = dynamodb_client(settings)
        if settings.serialize_dynamodb_calls:
            client = SerializedClient(client)
        services.store.reconnect(client)
    if isinstance(services.runs.launcher, SqsLauncher):
        services.runs.launcher.reconnect(sqs_client(settings))


def build_store(settings: Settings) -> Store:
    """The store the settings name: the SQLite file (local servers), else the table."""
    if settings.store_backend == "sqlite":
        from infra.sqlite_store import SQLiteStore  # only local servers use it

        return SQLiteStore(settings.sqlite_path)
    client = dynamodb_client(settings)
    if settings.serialize_dynamodb_calls:
        client = SerializedClient(client)
    return DynamoDBStore(client, settings.table_name)


def build_services(
    settings: Settings,
    store: Store | None = None,
    clock: Clock | None = None,
    model: ModelClient | None = None,
    metrics: Metrics = NO_METRICS,
) -> Services:
    """`metrics`: where core's counts go (infra.metrics.PowertoolsMetrics in Lambda)."""
    store = store or build_store(settings)
    clock = clock or SystemClock()
    loop = AgentLoop(store, clock, model or ModelRouter(settings), metrics)
    callbacks = RunCallbacks(
        store, clock, HttpCallbacks(allow_private=settings.callback_allow_private)
    )
    if settings.run_launcher == "sqs":
        assert settings.run_queue_url  # Settings refuses `sqs` without it
        launcher = SqsLauncher(sqs_client(settings), settings.run_queue_url)
        runs = RunService(store, clock, loop, launcher, callbacks.report)
    else:
        # The threads run `runs.execute`, and RunService needs the launcher: bind it after.
        in_process = InProcessLauncher()
        runs = RunService(store, clock, loop, in_process, callbacks.report)
        in_process.bind(runs.attempt)
    lease = timedelta(seconds=settings.group_lease_s)
    engine = GroupEngine(store, clock, loop, background=runs, lease=lease, metrics=metrics)
    group_messages = GroupMessageService(store, clock, engine, settings.send_deadline_s)
    agent_messages = AgentMessageService(store, clock, loop, groups=group_messages)
    cancellation = RunCancellation(store, clock)
    api_keys = ApiKeys(store, clock)
    return Services(
        settings=settings,
        agents=AgentService(store, clock, settings.default_model),
        blocks=BlockService(store, clock),
        core_memory=CoreMemoryReads(store, clock),
        groups=GroupService(store, clock),
        agent_messages=agent_messages,
        runs=runs,
        group_messages=group_messages,
        idempotency=Idempotency(store, clock),
        message_edits=MessageEdit(store, clock),
        async_sends=AsyncSends(
            store, clock, runs, cancellation, agent_messages, group_messages, callbacks
        ),
        run_cancellation=cancellation,
        metrics=metrics,
        api_keys=api_keys,
        authenticator=Authenticator(
            api_keys,
            clock,
            configured=settings.tenants_by_key(),
            open_access=settings.open_access,
            cache_ttl=timedelta(seconds=settings.api_key_cache_s),
        ),
        store=store,
    )
