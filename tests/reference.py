"""Where Letta's reference material lives: ../shared/reference beside the repository (as
laid out for developers and CI), unless LETTA_REFERENCE_DIR points elsewhere."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = Path(os.environ.get("LETTA_REFERENCE_DIR") or ROOT.parent / "shared" / "reference")
OPENAPI = REFERENCE_DIR / "letta-openapi-subset.json"


def openapi_document() -> dict[str, Any]:
    return json.loads(OPENAPI.read_text())
