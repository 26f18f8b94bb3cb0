"""A lease held by a process that died passes on at once (records.leases.holder_is_dead)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from records.leases import holder_is_dead, process_holder


def test_a_killed_process_is_a_dead_holder() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    holder = f"{socket.gethostname()}:{child.pid}:abcd"
    assert not holder_is_dead(holder)
    child.kill()
    child.wait()
    assert holder_is_dead(holder)


def test_living_and_foreign_holders_are_not_dead() -> None:
    assert not holder_is_dead(process_holder())
    assert str(os.getpid()) in process_holder()
    assert not holder_is_dead("another-host.example:1:abcd")
    assert not holder_is_dead("garbage")
