"""Shared fixtures: paths, and running the real command line in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def json_lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


@pytest.fixture
def cli() -> Callable[..., Run]:
    """Run ``mappa-intake`` as a user would: a separate process, its exit code and output."""

    def run(*args: str | Path, cwd: Path = ROOT, timeout: float = 180) -> Run:
        env = {**os.environ, "COLUMNS": "160"}
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", *map(str, args)],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=timeout,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    return run
