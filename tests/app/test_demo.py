"""``mappa-intake demo``: the daemon on embedded defaults makes the sample messages' cases."""

from __future__ import annotations

import json
import os
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


@pytest.mark.slow
def test_demo_serves_the_console_with_the_cases_in_its_queue(tmp_path: Path) -> None:
    """What `make demo` does: daemon and console together, a one-time login printed; the
    link lets the Co-ordinator in, and the queue holds every sample form's case."""
    import http.cookiejar
    import subprocess
    import sys
    import urllib.parse
    import urllib.request

    from tests.conftest import ROOT
    from tests.servers import free_port

    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "demo", "--port", str(port)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert demo.stdout is not None
        link = ""
        for line in demo.stdout:
            if "/welcome/" in line:
                link = line.strip()
                break
        assert link.startswith(f"http://127.0.0.1:{port}/welcome/"), link
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        password = "demo passphrase, fictional"
        form = urllib.parse.urlencode({"password": password, "repeat": password}).encode()
        # The session cookie is Secure (as over HTTPS); this client keeps it for loopback too.
        response = browser.open(urllib.request.Request(link, data=form, method="POST"))
        cookie = next(c for c in jar if c.name == "__Host-mappa-session")
        queue = urllib.request.Request(
            f"http://127.0.0.1:{port}/?state=all",
            headers={"Cookie": f"{cookie.name}={cookie.value}"},
        )
        page = urllib.request.urlopen(queue).read().decode()
        assert response.status == 200
        forms = sum(
            len(json.loads(p.read_text())["forms"])
            for p in (FIXTURES / "messages").glob("*.expected.json")
        )
        assert len(set(re.findall(r'href="/cases/(MAPPA-\d{4}-\d{4})"', page))) == forms
    finally:
        demo.terminate()
        demo.wait(timeout=30)
