"""The dependency rule: core is pure, so it imports no adapter or web library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "core"
FORBIDDEN = {"boto3", "botocore", "fastapi", "starlette", "mangum", "httpx", "handler", "infra"}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_sources_import_no_adapter_or_web_library() -> None:
    offenders = {
        str(path.relative_to(CORE)): sorted(_imported_roots(path) & FORBIDDEN)
        for path in CORE.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


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
