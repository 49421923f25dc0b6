"""`make run`'s server (python -m handler.local) in a child process, for the HTTP rows."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalServer:
    """The server on a free port over a SQLite file in `data_dir`, settings from `env`."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._env = {
            **os.environ,
            "PORT": str(self.port),
            "SQLITE_PATH": str(data_dir / "letta.sqlite3"),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self._env.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
        data_dir.mkdir(parents=True, exist_ok=True)
        self._log = (data_dir / f"server-{self.port}.log").open("wb")
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.base_url, timeout=120)

    def __enter__(self) -> LocalServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "handler.local"],
            cwd=ROOT,
            env=self._env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.http.get("/v1/health/").status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"The local server did not start: see {self._log.name}")

    def __exit__(self, *_: object) -> None:
        self.http.close()
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self._log.close()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, path, json=body)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def rss_mb(self) -> float:
        """The server process's resident memory now."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
        return kb / 1024
