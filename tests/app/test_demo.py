"""``mappa-intake demo``: the daemon on embedded defaults makes the sample messages' cases."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, Run


@pytest.mark.slow
def test_demo_makes_a_case_per_sample_form(cli: Callable[..., Run], tmp_path: Path) -> None:
    run = cli("demo", "--once", cwd=tmp_path)
    assert run.code == 0, run.stderr
    refs = re.findall(r"^MAPPA-\d{4}-\d{4}", run.stdout, re.M)
    forms = sum(
        len(json.loads(p.read_text())["forms"])
        for p in (FIXTURES / "messages").glob("*.expected.json")
    )
    assert len(refs) == forms
    assert (tmp_path / "var" / "mappa.db").exists()
    # A second start resets what the demo made, and makes the same cases again.
    again = cli("demo", "--once", cwd=tmp_path)
    assert re.findall(r"^MAPPA-\d{4}-\d{4}", again.stdout, re.M) == refs


def test_demo_leaves_a_real_var_folder_alone(cli: Callable[..., Run], tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "mappa.db").write_bytes(b"someone's data")
    run = cli("demo", "--once", cwd=tmp_path)
    assert run.code == 2
    assert "did not make" in run.stderr
    assert (tmp_path / "var" / "mappa.db").read_bytes() == b"someone's data"
