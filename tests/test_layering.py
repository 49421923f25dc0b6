"""The dependency rule at run time: importing core loads no adapter or web library.

Which modules core's sources may import is checked statically by `lint-imports` (the
contracts in pyproject.toml, run by `make lint`). This test adds what a static check
cannot see: a library loaded at run time by something core imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "core"
FORBIDDEN = {"boto3", "botocore", "fastapi", "starlette", "mangum", "httpx", "handler", "infra"}


def test_importing_all_of_core_loads_none_of_them() -> None:
    """Catches indirect imports too: a fresh interpreter imports every core module."""
    modules = [
        ".".join(p.relative_to(CORE.parent).with_suffix("").parts) for p in CORE.rglob("*.py")
    ]
    script = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(sorted(r for r in {sorted(FORBIDDEN)!r} if r in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=CORE.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"
