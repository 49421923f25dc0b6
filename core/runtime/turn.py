"""What a caller hands the agent loop for one turn, besides its inputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.llm import ToolSpec


@dataclass(frozen=True)
class TurnTool:
    """A tool a caller lends the agent for one turn (a group pattern's coordination tool)."""

    spec: ToolSpec
    run: Callable[[dict[str, Any]], str]
