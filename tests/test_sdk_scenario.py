"""The official SDK (`letta-client==1.7.0`, strict mode) against a real local server.

Starts `python -m handler.local` (SQLite store in a temporary file, offline model) on a
free port with auth on, waits for `GET /v1/health/`, then runs the scenarios in `tests/sdk/`
with the SDK's own virtualenv (`.venv-sdk`, created by `make test`) and requires exit code
0. The keep-alive scenario gets a server of its own, with a slow model and frequent pings.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sdk.fake_openai import FakeOpenAI

REPO_ROOT = Path(__file__).resolve().parents[1]
SDK_PYTHON = REPO_ROOT / ".venv-sdk" / "bin" / "python"
SCENARIO = REPO_ROOT / "tests" / "sdk" / "crud_scenario.py"
MESSAGES_SCENARIO = REPO_ROOT / "tests" / "sdk" / "messages_scenario.py"
GROUPS_SCENARIO = REPO_ROOT / "tests" / "sdk" / "groups_scenario.py"
PINGS_SCENARIO = REPO_ROOT / "tests" / "sdk" / "stream_pings_scenario.py"
RUNS_SCENARIO = REPO_ROOT / "tests" / "sdk" / "runs_scenario.py"
RETRY_SCENARIO = REPO_ROOT / "tests" / "sdk" / "retry_timeout_scenario.py"
APPROVALS_SCENARIO = REPO_ROOT / "tests" / "sdk" / "approvals_scenario.py"
PARITY_SCENARIO = REPO_ROOT / "tests" / "sdk" / "letta_parity_scenario.py"
SLEEPTIME_SCENARIO = REPO_ROOT / "tests" / "sdk" / "sleeptime_scenario.py"
WALK_SCENARIO = REPO_ROOT / "tests" / "sdk" / "message_walk_scenario.py"
API_KEY = "sdk-scenario-key"
STARTUP_TIMEOUT = 30.0
SCENARIO_TIMEOUT = 600.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_python() -> str:
    """The service's interpreter: the one running pytest, else the repo's .venv."""
    venv_python = REPO_ROOT / ".venv" / "bin" / "python"
    if Path(sys.prefix) != Path(sys.base_prefix) or not venv_python.exists():
        return sys.executable
    return str(venv_python)


def _wait_for_health(base_url: str, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_error: object = None
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(
                f"local server exited with code {server.returncode} before it was healthy:\n"
                + log_path.read_text(errors="replace")[-4000:]
            )
        try:
            with urllib.request.urlopen(f"{base_url}/v1/health/", timeout=2) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = exc
        time.sleep(0.25)
    pytest.fail(
        f"local server not healthy within {STARTUP_TIMEOUT:.0f}s (last error: {last_error}):\n"
        + log_path.read_text(errors="replace")[-4000:]
    )


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@dataclass
class LocalServer:
    base_url: str
    log_path: Path
    openai: FakeOpenAI


@contextlib.contextmanager
def _serve(**settings: str) -> Iterator[LocalServer]:
    """`python -m handler.local` with auth on, `openai/...` models sent to a fake server and
    any further settings given as environment variables."""
    if not SDK_PYTHON.exists():
        pytest.fail(
            f"{SDK_PYTHON} does not exist: the official SDK lives in its own virtualenv. "
            "Run `make test` (it creates .venv-sdk with letta-client==1.7.0) and try again."
        )
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    with FakeOpenAI() as openai, tempfile.TemporaryDirectory(prefix="sdk-scenario-") as tmp:
        env = dict(os.environ)
        env.update(
            PORT=str(port),
            HOST="127.0.0.1",
            API_KEYS=API_KEY,
            PYTHONUNBUFFERED="1",
            OPENAI_BASE_URL=openai.base_url,
            OPENAI_API_KEY="sk-fake",
            **settings,
        )
        env.pop("AWS_ENDPOINT_URL_DYNAMODB", None)  # the SQLite store, in a throwaway file
        env["SQLITE_PATH"] = str(Path(tmp) / "state.sqlite3")
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [_server_python(), "-m", "handler.local"],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_for_health(base_url, server, log_path)
            yield LocalServer(base_url, log_path, openai)
        finally:
            _stop(server)


@pytest.fixture(scope="module")
def local_server() -> Iterator[LocalServer]:
    with _serve() as server:
        yield server


def _run_scenario(server: LocalServer, script: Path, *extra: str) -> str:
    scenario_env = {k: v for k, v in os.environ.items() if not k.startswith("LETTA_")}
    command = [str(SDK_PYTHON), str(script), "--base-url", server.base_url, "--api-key", API_KEY]
    try:
        result = subprocess.run(
            [*command, *extra],
            cwd=REPO_ROOT,
            env=scenario_env,
            capture_output=True,
            text=True,
            timeout=SCENARIO_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"SDK scenario did not finish within {SCENARIO_TIMEOUT:.0f}s "
            f"(pagination loop?):\n{_text(exc.stdout)}\n{_text(exc.stderr)}"
        )
    server_log = server.log_path.read_text(errors="replace")
    assert result.returncode == 0, (
        f"SDK scenario failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}\n"
        f"--- server log (tail) ---\n{server_log[-4000:]}"
    )
    assert "0 failed" in result.stdout.splitlines()[-1], result.stdout
    return result.stdout


def test_official_sdk_crud_scenario(local_server: LocalServer) -> None:
    _run_scenario(local_server, SCENARIO)


def test_official_sdk_runs_scenario(local_server: LocalServer) -> None:
    _run_scenario(local_server, RUNS_SCENARIO)


def test_official_sdk_agent_messages_scenario(local_server: LocalServer) -> None:
    _run_scenario(local_server, MESSAGES_SCENARIO, "--openai-model", "openai/fake-model")
    sent = [r for r in local_server.openai.requests if r["model"] == "fake-model"]
    assert sent, "the openai/... agent never reached the OpenAI-compatible server"
    assert any("what is the plan?" in str(m.get("content")) for r in sent for m in r["messages"])


def test_official_sdk_group_messages_scenario(local_server: LocalServer) -> None:
    _run_scenario(local_server, GROUPS_SCENARIO)


def test_official_sdk_auto_pagination_yields_every_message_once(local_server: LocalServer) -> None:
    """SPEC §5 through the SDK's own paging: group, agent and run messages."""
    out = _run_scenario(local_server, WALK_SCENARIO)
    for what in ("group transcript: 40 messages", "agent messages", "run messages"):
        assert f"ok   {what}" in out, out


def test_official_sdk_approvals_resume_round_robin_and_supervisor(
    local_server: LocalServer,
) -> None:
    _run_scenario(local_server, APPROVALS_SCENARIO)


def test_official_sdk_letta_parity_scenario(local_server: LocalServer) -> None:
    """Issue 11's behaviours, on the misbehaving OpenAI-compatible model where they need it."""
    _run_scenario(local_server, PARITY_SCENARIO, "--tool-caller-model", "openai/tool-caller-parity")
    sent = [r for r in local_server.openai.requests if r["model"] == "tool-caller-parity"]
    forced = [r["tool_choice"] for r in sent if isinstance(r.get("tool_choice"), dict)]
    assert {"type": "function", "function": {"name": "send_message_to_all_agents_in_group"}} in (
        forced
    )


def test_official_sdk_reads_streams_with_keep_alive_pings() -> None:
    """A slow model (300 ms a call) and a ping every 50 ms put `: ping` comments between the
    frames; the SDK skips them and yields the same events."""
    with _serve(OFFLINE_MODEL_LATENCY_MS="300", SSE_PING_S="0.05") as server:
        _run_scenario(server, PINGS_SCENARIO)


def test_official_sdk_retries_of_a_slow_send_join_it_instead_of_doubling_it() -> None:
    """Each model call takes 0.7 s, so a two-agent send (about 1.5 s) outlasts the client's
    1 s timeout: the SDK's own retries must get the first attempt's response, once."""
    with _serve(OFFLINE_MODEL_LATENCY_MS="700") as server:
        _run_scenario(server, RETRY_SCENARIO, "--timeout", "1.0")


def test_official_sdk_sleeptime_scenario() -> None:
    """A slow model (150 ms a call), so the sleeptime runs a send starts overlap."""
    with _serve(OFFLINE_MODEL_LATENCY_MS="150") as server:
        _run_scenario(server, SLEEPTIME_SCENARIO)
