"""Composition root: the one place where core's services meet infra's adapters.

Services are made on first use, and the modules behind them imported then: a cold start
pays for what its first request calls (listing agents imports no group engine, no agent
loop, no model providers). `Services.make_all` makes everything at once, for SnapStart's
snapshot and for servers that live long.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import boto3
from botocore.config import Config

from core.ports import NO_METRICS, Clock, Metrics, Store
from infra.clock import SystemClock
from infra.dynamodb_store import DynamoDBStore, SerializedClient
from infra.settings import Settings

if TYPE_CHECKING:
    from core.groups.engine import GroupEngine
    from core.llm import ModelClient
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
    from core.services.run_steps import RunSteps
    from core.services.runs import RunService

T = TypeVar("T")


class made_once(Generic[T]):  # noqa: N801 - used as a decorator, like cached_property
    """A service made by its method the first time it is read, then kept.

    Unlike `functools.cached_property` it takes the owner's lock (re-entrant: services
    make the services they need), so two threads never make two of one service.
    """

    def __init__(self, make: Callable[[Services], T]) -> None:
        self.make = make
        self.name = make.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, services: Services | None, owner: type) -> Any:
        if services is None:
            return self
        made = services.__dict__
        if self.name not in made:
            with services.lock:
                if self.name not in made:
                    made[self.name] = self.make(services)
        return made[self.name]


@dataclass(frozen=True)
class Sending:
    """The send services (`Services.sending`)."""

    runs: RunService
    engine: GroupEngine
    group_messages: GroupMessageService
    agent_messages: AgentMessageService
    async_sends: AsyncSends


class part_of_sending(Generic[T]):  # noqa: N801 - a descriptor, like made_once
    """A service of `Services.sending`, read through it (which makes them all)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, services: Services | None, owner: type) -> T:
        if services is None:
            return self  # type: ignore[return-value]
        value: T = getattr(services.sending, self.name)
        return value


class Services:
    """Everything a request handler may call, one set per process (Lambda container)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        model: ModelClient | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        """`model`: the model client (default: the router over the configured providers);
        `metrics`: where core's counts go (infra.metrics.PowertoolsMetrics in Lambda)."""
        self.settings = settings
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.lock = threading.RLock()
        self._model = model

    def replace(self, settings: Settings | None = None, **made: object) -> Services:
        """Services on the same store, clock and model, with other settings or with some
        services given (tests put broken ones in); the rest are made anew on use."""
        services = Services(
            settings or self.settings, self.store, self.clock, self._model, self.metrics
        )
        services.__dict__.update(made)
        return services

    def make_all(self) -> Services:
        """Make every service now (init is free before a SnapStart snapshot)."""
        for name, attribute in vars(Services).items():
            if isinstance(attribute, made_once):
                getattr(self, name)
        return self

    def made(self, name: str) -> bool:
        """Whether service `name` has been made (or given) yet."""
        if name in self.__dict__:
            return True
        if isinstance(vars(Services).get(name), part_of_sending):
            name = "sending"
        return name in self.__dict__

    @made_once
    def loop(self) -> AgentLoop:
        from core.runtime.agent_loop import AgentLoop
        from infra.providers.router import ModelRouter

        model = self._model or ModelRouter(self.settings)
        return AgentLoop(self.store, self.clock, model, self.metrics)

    @made_once
    def run_callbacks(self) -> RunCallbacks:
        from core.services.run_callbacks import RunCallbacks
        from infra.callbacks import HttpCallbacks

        http = HttpCallbacks(allow_private=self.settings.callback_allow_private)
        return RunCallbacks(self.store, self.clock, http)

    @made_once
    def sending(self) -> Sending:
        """The services that run sends, made together because they need each other: the
        group engine starts background runs through RunService, and AsyncSends, which
        runs on RunService's deliveries, registers its run kinds on it. Made apart, a
        RunService could be used before any run kind had a handler."""
        from core.groups.engine import GroupEngine
        from core.services.agent_messages import AgentMessageService
        from core.services.async_sends import AsyncSends
        from core.services.group_messages import GroupMessageService
        from core.services.runs import RunService
        from infra.launchers import InProcessLauncher, SqsLauncher

        settings, store, clock, loop = self.settings, self.store, self.clock, self.loop
        report = self.run_callbacks.report
        if settings.run_launcher == "sqs":
            assert settings.run_queue_url  # Settings refuses `sqs` without it
            launcher = SqsLauncher(sqs_client(settings), settings.run_queue_url)
            runs = RunService(store, clock, loop, launcher, report)
        else:
            # The threads run `runs.attempt`, and RunService needs the launcher: bind it after.
            in_process = InProcessLauncher()
            runs = RunService(store, clock, loop, in_process, report)
            in_process.bind(runs.attempt)
        lease = timedelta(seconds=settings.group_lease_s)
        engine = GroupEngine(store, clock, loop, background=runs, lease=lease, metrics=self.metrics)
        group_messages = GroupMessageService(store, clock, engine, settings.send_deadline_s)
        agent_messages = AgentMessageService(store, clock, loop, groups=group_messages)
        async_sends = AsyncSends(
            store,
            clock,
            runs,
            self.run_cancellation,
            agent_messages,
            group_messages,
            self.run_callbacks,
        )  # registers its run kinds on `runs`
        return Sending(runs, engine, group_messages, agent_messages, async_sends)

    runs: part_of_sending[RunService] = part_of_sending()
    engine: part_of_sending[GroupEngine] = part_of_sending()
    group_messages: part_of_sending[GroupMessageService] = part_of_sending()
    agent_messages: part_of_sending[AgentMessageService] = part_of_sending()
    async_sends: part_of_sending[AsyncSends] = part_of_sending()

    @made_once
    def run_cancellation(self) -> RunCancellation:
        from core.services.run_cancellation import RunCancellation

        return RunCancellation(self.store, self.clock)

    @made_once
    def run_steps(self) -> RunSteps:
        from core.services.run_steps import RunSteps

        return RunSteps(self.store)

    @made_once
    def agents(self) -> AgentService:
        from core.services.agents import AgentService

        return AgentService(self.store, self.clock, self.settings.default_model)

    @made_once
    def blocks(self) -> BlockService:
        from core.services.blocks import BlockService

        return BlockService(self.store, self.clock)

    @made_once
    def core_memory(self) -> CoreMemoryReads:
        from core.services.core_memory import CoreMemoryReads

        return CoreMemoryReads(self.store, self.clock)

    @made_once
    def groups(self) -> GroupService:
        from core.services.groups import GroupService

        return GroupService(self.store, self.clock)

    @made_once
    def idempotency(self) -> Idempotency:
        from core.services.idempotency import Idempotency

        return Idempotency(self.store, self.clock)

    @made_once
    def message_edits(self) -> MessageEdit:
        from core.services.message_edits import MessageEdit

        return MessageEdit(self.store, self.clock)

    @made_once
    def api_keys(self) -> ApiKeys:
        from core.services.api_keys import ApiKeys

        return ApiKeys(self.store, self.clock)

    @made_once
    def authenticator(self) -> Authenticator:
        from core.services.authentication import Authenticator

        settings = self.settings
        return Authenticator(
            self.api_keys,
            self.clock,
            configured=settings.tenants_by_key(),
            open_access=settings.open_access,
            cache_ttl=timedelta(seconds=settings.api_key_cache_s),
        )


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
    if services.made("runs"):  # else its launcher makes its client when first used
        from infra.launchers import SqsLauncher

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
    """The services on `store` (default: the one the settings name, opened now)."""
    return Services(
        settings, store or build_store(settings), clock or SystemClock(), model, metrics
    )
