"""The installation files (deploy/, Dockerfile) agree with the code: the systemd units are
valid units that start real commands, the environment-file example names every secret the
settings read from the environment, and the image installs every package of the program.
No Docker engine runs here, so the image itself is not built by the tests (operations.md)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from app.settings import SETTINGS
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
UNITS = ("mappa-intake.service", "mappa-intake-console.service")
# Read from the environment by name, outside the settings' *_env keys.
OTHER_VARIABLES = {"MAPPA_DATA_KEY_PREVIOUS", "PGPASSWORD", "MAPPA_LOG_LEVEL"}


@pytest.mark.parametrize("unit", UNITS)
def test_the_systemd_units_are_valid(unit: str, tmp_path: Path) -> None:
    verify = shutil.which("systemd-analyze")
    if verify is None:
        pytest.skip("systemd-analyze is not installed")
    program = ROOT / ".venv" / "bin" / "mappa-intake"
    # The unit as installed, with the program where this checkout has it.
    text = (
        (DEPLOY / unit)
        .read_text()
        .replace("/opt/mappa-intake/.venv/bin/mappa-intake", str(program))
    )
    (tmp_path / unit).write_text(text)
    done = subprocess.run(
        [verify, "verify", "--man=no", str(tmp_path / unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    problems = [line for line in done.stderr.splitlines() if unit in line]
    assert done.returncode == 0 and not problems, done.stderr


@pytest.mark.parametrize("unit", UNITS)
def test_the_units_start_commands_that_exist(unit: str) -> None:
    [start] = re.findall(r"^ExecStart=(.+)$", (DEPLOY / unit).read_text(), re.M)
    program, command, *rest = start.split()
    assert program.endswith("/mappa-intake")
    assert command in ("run", "console") and rest == [
        "--config",
        "/etc/mappa-intake/mappa-intake.toml",
    ]
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "mappa-intake"), command, "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "--config" in done.stdout


def test_the_environment_example_names_every_secret() -> None:
    text = (DEPLOY / "mappa-intake.env.example").read_text()
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, re.M))
    secrets = {str(s.default) for s in SETTINGS if s.key.endswith("_env")}
    assert secrets <= named
    assert named - secrets <= OTHER_VARIABLES


def test_the_image_installs_every_package_from_the_lock() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = project["tool"]["setuptools"]["packages"]["find"]["include"]
    for package in (p.rstrip("*") for p in packages):
        assert f"COPY {package} ./{package}" in dockerfile, package
    assert "-c constraints.txt ." in dockerfile
    assert "playwright install" not in dockerfile and "spacy download" not in dockerfile
    assert 'CMD ["run", "--config", "/etc/mappa-intake/mappa-intake.toml"]' in dockerfile
