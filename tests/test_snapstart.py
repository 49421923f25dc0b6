"""SnapStart hooks: after a restore, randomness is re-seeded and AWS clients are new."""

from __future__ import annotations

import random
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

from core.groups.registry import MANAGER_TYPES
from core.lazy_model import LazyModel
from core.records import AgentRecord
from handler import snapstart
from handler.app import create_app
from handler.composition import Services, build_services
from handler.routing import LazyAPIRoute
from infra.launchers import SqsLauncher
from infra.settings import Settings


def _fake_runtime(
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, tuple[Callable[..., None], tuple[Any, ...]]]:
    """Lambda's `snapshot_restore_py`, keeping what is registered by hook name."""
    hooks: dict[str, tuple[Callable[..., None], tuple[Any, ...]]] = {}
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_before_snapshot = lambda fn, *args: hooks.update(before_snapshot=(fn, args))  # type: ignore[attr-defined]
    runtime.register_after_restore = lambda fn, *args: hooks.update(after_restore=(fn, args))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    return hooks


def test_nothing_is_registered_outside_lambda(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails
    assert snapstart.install(create_app(services)) is False


def test_restore_reseeds_random_and_reconnects_store_and_queue(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = _fake_runtime(monkeypatch)
    queued = settings.model_copy(
        update={"run_launcher": "sqs", "run_queue_url": "https://sqs.example/q"}
    )
    services = build_services(queued)
    store_client = services.store._client  # type: ignore[attr-defined]  # noqa: SLF001
    launcher = services.runs.launcher
    assert isinstance(launcher, SqsLauncher)
    queue_client = launcher._client  # noqa: SLF001

    assert snapstart.install(create_app(services)) is True
    hook, args = hooks["after_restore"]
    random.seed(7)
    snapshotted = random.random()
    random.seed(7)  # the state every restored instance would start from
    hook(*args)

    assert random.random() != snapshotted
    assert services.store._client is not store_client  # type: ignore[attr-defined]  # noqa: SLF001
    assert launcher._client is not queue_client  # noqa: SLF001
    # The new store client still reaches the table.
    assert services.store.count("default", AgentRecord) == 0


def test_before_the_snapshot_every_route_and_service_is_made(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Init is free under SnapStart: what the app would make on first use is made then."""
    hooks = _fake_runtime(monkeypatch)
    app = create_app(services)
    routes = [route for route in app.routes if isinstance(route, LazyAPIRoute)]
    assert routes and not any(route.built for route in routes)
    assert not services.made("group_messages")
    assert snapstart.install(app) is True

    hook, args = hooks["before_snapshot"]
    hook(*args)

    assert all(route.built for route in routes)
    assert all(services.made(name) for name in ("group_messages", "runs", "authenticator"))
    assert {f"core.groups.{kind}" for kind in MANAGER_TYPES} <= set(sys.modules)
    lazy: list[type[LazyModel]] = [LazyModel]
    for model in lazy:
        lazy.extend(model.__subclasses__())
    assert [m for m in lazy[1:] if not m.__pydantic_complete__] == [] and len(lazy) > 100
