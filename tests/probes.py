"""A fresh interpreter, for what only a clean process can show (what it imports, its heap)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_probe(code: str, *, env: dict[str, str] | None = None, timeout: float = 240) -> Any:
    """Run ``code`` in a new Python at the repository root; the JSON its last line prints."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
