"""The behaviours every mailbox adapter shares, run against each adapter's rig.

* ``imap``: the real Dovecot on loopback (tests/intake/rig_imap.py).
* ``graph``, ``ews``: no Microsoft server can run here, so these rigs are stand-ins on
  loopback answering with RECORDED response shapes (Graph JSON, EWS SOAP; fictional data),
  in tests/intake/recordings/. They show the adapters keep the contract the worker relies on;
  they cannot show that Microsoft's servers still answer as recorded.

A rig offers: ``make()`` (a new adapter, as after a restart, sharing whatever the adapter
persists), ``deliver(raw)``, ``count("inbox"|"processed"|"quarantine")``, and a colleague's
``move_away(message_id)`` and ``delete(message_id)``, ``expire_token()`` (the credential in
use stops working: the adapter must get a new one), ``refuse_credentials()`` and
``accept_credentials()``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from app.runtime import make_clock, open_runtime
from app.settings import load
from intake.errors import MailboxAuthError, MailboxError
from intake.mailbox import Destination, Mailbox
from intake.worker import IntakeWorker
from tests.intake.mail import fixture_message, simple_message, with_headers
from tests.intake.site import Site

pytestmark = pytest.mark.slow

# rig name -> (module, context-manager function, the one fixture it takes).
RIGS = {
    "graph": ("tests.intake.rig_graph", "graph_rig", "tmp_path"),
    "ews": ("tests.intake.rig_ews", "ews_rig", "tmp_path"),
    "imap": ("tests.intake.rig_imap", "imap_rig", "dovecot"),
}


@pytest.fixture(params=sorted(RIGS))
def rig(request: pytest.FixtureRequest) -> Iterator[Any]:
    module_name, function_name, fixture = RIGS[request.param]
    opener = getattr(importlib.import_module(module_name), function_name)
    context: AbstractContextManager[Any] = opener(request.getfixturevalue(fixture))
    with context as made:
        yield made


def _message(n: int) -> bytes:
    return simple_message(message_id=f"<behaviour.{n}@police.scot>")


def _ids(box: Mailbox) -> list[str]:
    return list(box.snapshot().uids)


def _twice(call: Any) -> Any:
    """A call that may fail once with MailboxError (the server dropped our session) and must
    succeed on the next try: the adapter reconnects by itself."""
    try:
        return call()
    except MailboxAuthError:
        raise
    except MailboxError:
        return call()


def test_new_mail_is_listed_fetched_and_moved(rig: Any) -> None:
    box = rig.make()
    assert _ids(box) == []
    rig.deliver(_message(1))
    rig.deliver(_message(2))
    first, second = _ids(box)
    fetched = box.fetch(first)
    assert fetched is not None
    assert (
        b"<behaviour.1@police.scot>" in fetched.raw or b"<behaviour.2@police.scot>" in fetched.raw
    )
    assert fetched.delivered_at is not None and fetched.delivered_at.tzinfo is not None
    box.move([first], Destination.PROCESSED)
    box.move([second], Destination.QUARANTINE)
    assert _ids(box) == []
    assert (rig.count("inbox"), rig.count("processed"), rig.count("quarantine")) == (0, 1, 1)


def test_a_message_moved_or_deleted_by_someone_else(rig: Any) -> None:
    box = rig.make()
    rig.deliver(_message(3))
    rig.deliver(_message(4))
    listed = _ids(box)
    assert len(listed) == 2
    rig.move_away("<behaviour.3@police.scot>")
    rig.delete("<behaviour.4@police.scot>")
    # Gone from the folder: nothing to read, nothing to move, and the colleague's move stands.
    assert [box.fetch(uid) for uid in listed] == [None, None]
    box.move(listed, Destination.PROCESSED)
    assert _ids(box) == []
    assert (rig.count("inbox"), rig.count("processed")) == (0, 0)


def test_a_restart_mid_run_goes_on_where_it_stopped(rig: Any) -> None:
    box = rig.make()
    for n in (5, 6, 7):
        rig.deliver(_message(n))
    listed = _ids(box)
    assert len(listed) == 3
    box.move([listed[0]], Destination.PROCESSED)
    # Killed here: no close, no goodbye. A new process starts with a new adapter.
    again = rig.make()
    assert _ids(again) == listed[1:]
    rig.deliver(_message(8))
    now = _ids(again)
    assert len(now) == 3 and now[:2] == listed[1:]
    again.move([listed[0]], Destination.PROCESSED)  # moved before the kill: passed over
    again.move(now, Destination.PROCESSED)
    assert (rig.count("inbox"), rig.count("processed")) == (0, 4)


def test_an_expired_token_is_renewed(rig: Any) -> None:
    box = rig.make()
    rig.deliver(_message(9))
    assert len(_ids(box)) == 1
    rig.expire_token()
    rig.deliver(_message(10))
    listed = _twice(lambda: _ids(box))
    assert len(listed) == 2
    fetched = box.fetch(listed[1])
    assert fetched is not None and b"<behaviour.10@police.scot>" in fetched.raw


def test_refused_credentials_are_an_auth_error(rig: Any) -> None:
    rig.refuse_credentials()
    with pytest.raises(MailboxAuthError):
        _ids(rig.make())
    rig.accept_credentials()
    assert _ids(rig.make()) == []


def test_the_worker_takes_each_message_once_across_a_restart(rig: Any, tmp_path: Path) -> None:
    site = Site(tmp_path / "site", f"sqlite:///{tmp_path / 'mappa.db'}")
    runtime = open_runtime(load(site.config), site.env(), make_clock(None))
    form = fixture_message("notification-in-text-body.eml")
    for n in (1, 2):
        rig.deliver(with_headers(form, Message_ID=f"<behaviour.worker.{n}@police.scot>"))
    worker = IntakeWorker(rig.make(), runtime.processor)
    first = worker.run_pass()
    worker.release_lease()  # the process stops; the next one takes the mailbox at once
    assert (first.claimed, first.processed) == (2, 2)
    rig.deliver(with_headers(form, Message_ID="<behaviour.worker.3@police.scot>"))
    rig.deliver(
        simple_message(sender="someone@example.com", message_id="<behaviour.x@example.com>")
    )
    worker = IntakeWorker(rig.make(), runtime.processor)
    second = worker.run_pass()
    worker.release_lease()
    assert (second.claimed, second.processed, second.quarantined) == (2, 1, 1)
    third = IntakeWorker(rig.make(), runtime.processor).run_pass()
    assert (third.claimed, third.processed, third.quarantined) == (0, 0, 0)
    assert (rig.count("inbox"), rig.count("processed"), rig.count("quarantine")) == (0, 3, 1)
    runtime.db.dispose()
