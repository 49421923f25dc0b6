"""Services are made on first use, once per process, and the modules behind them then."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from handler.composition import Services, build_services
from infra.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_a_service_is_made_with_what_it_needs_and_nothing_else(settings: Settings) -> None:
    services = build_services(settings)
    assert not any(services.made(name) for name in ("agents", "loop", "runs", "engine"))

    agents = services.agents
    assert services.agents is agents
    assert not services.made("loop")

    services.group_messages  # noqa: B018 - made by reading it
    assert all(services.made(name) for name in ("engine", "loop", "runs", "run_callbacks"))


def test_threads_reading_a_service_together_get_one(settings: Settings) -> None:
    services = build_services(settings)
    start = threading.Barrier(8)
    seen: list[object] = []

    def read() -> None:
        start.wait()
        seen.append(services.async_sends)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(service) for service in seen}) == 1
    assert services.async_sends is seen[0]


def test_replace_keeps_the_store_and_the_services_it_is_given(settings: Settings) -> None:
    services: Services = build_services(settings)
    original_runs = services.runs
    given = object()
    keyed = services.replace(settings.model_copy(update={"api_keys": "k"}), agents=given)
    assert keyed.store is services.store
    assert keyed.agents is given
    assert keyed.runs is not original_runs  # made anew, under the new settings
    assert keyed.settings.api_keys == "k"


def test_the_lambda_init_imports_no_send_machinery_and_leaves_gc_on() -> None:
    """What a cold start must not pay for before its first request needs it."""
    probe = (
        "import gc, json, sys\n"
        "import handler.lambda_entry\n"
        "print(json.dumps({'modules': sorted(sys.modules), 'gc': gc.isenabled(),"
        " 'frozen': gc.get_freeze_count()}))\n"
    )
    env = {
        **os.environ,
        "TABLE_NAME": "probe",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "probe",
        "AWS_SECRET_ACCESS_KEY": "probe",
        "POWERTOOLS_METRICS_NAMESPACE": "Probe",
    }
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    loaded = set(report["modules"])
    never = {
        "core.groups.engine",
        "core.groups.send",
        "core.runtime.agent_loop",
        "core.llm",
        "infra.providers.router",
        "sse_starlette",
        "uvicorn",
    }
    assert loaded & never == set()
    assert report["gc"] is True
    assert report["frozen"] > 100_000  # what init made is out of every later collection
