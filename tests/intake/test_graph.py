"""The Graph mailbox adapter (and its Entra ID token source) against STAND-INS for Microsoft
Graph and Entra ID on loopback HTTPS: Microsoft's services cannot run here, so the peers
answer with recorded response shapes (tests/intake/recordings/graph/, tests/entra.py). The
adapter, msal and requests are the real ones; so are the worker, the database and the
processing in the end-to-end test."""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.runtime import make_clock, open_runtime
from app.settings import load
from intake import graph as graph_module
from intake.entra import OUTLOOK_SCOPE, EntraSettings, TokenSource
from intake.errors import MailboxAuthError, MailboxError
from intake.graph import GraphMailbox
from intake.mailbox import Destination
from intake.worker import IntakeWorker
from records.cursors import DatabaseCursor
from tests.entra import CLIENT_ID, CLIENT_SECRET, MAILBOX_USER
from tests.intake.mail import fixture_message, simple_message, with_headers
from tests.intake.rig_graph import GraphRig, graph_rig
from tests.intake.site import Site
from tests.servers import free_port

IMMUTABLE = 'IdType="ImmutableId"'


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[GraphRig]:
    with graph_rig(tmp_path) as made:
        yield made


@pytest.fixture
def box(rig: GraphRig) -> Iterator[GraphMailbox]:
    mailbox = rig.make()
    yield mailbox
    mailbox.close()


def _message(n: int) -> bytes:
    return simple_message(message_id=f"<graph-test.{n}@police.scot>")


def _deliver(rig: GraphRig, *numbers: int) -> list[str]:
    return [rig.graph.deliver(_message(n)) for n in numbers]


# -- listing, fetching, moving ---------------------------------------------------------------


def test_new_mail_is_listed_fetched_and_moved(rig: GraphRig, box: GraphMailbox) -> None:
    first, second = _deliver(rig, 1, 2)
    snapshot = box.snapshot()
    assert snapshot.uids == (first, second)  # oldest first
    assert snapshot.uidvalidity == 1
    fetched = box.fetch(first)
    assert fetched is not None and fetched.raw == _message(1)
    assert fetched.delivered_at == rig.graph.messages[first].received
    box.move([first], Destination.PROCESSED)
    box.move([second], Destination.QUARANTINE)
    assert box.snapshot().uids == ()
    assert (rig.count("inbox"), rig.count("processed"), rig.count("quarantine")) == (0, 1, 1)
    # Immutable ids: the moved messages keep the ids the ledger knows them by.
    assert rig.graph.ids_in("Processed") == [first]
    assert rig.graph.ids_in("Quarantine") == [second]


def test_every_request_prefers_immutable_ids(rig: GraphRig, box: GraphMailbox) -> None:
    [uid] = _deliver(rig, 3)
    box.snapshot()
    box.fetch(uid)
    box.move([uid], Destination.PROCESSED)
    box.wait(0.3, lambda: False)
    box.snapshot()
    log = rig.graph.log()
    kinds = {(r.method, r.path.rsplit("/", 1)[-1]) for r in log}
    assert {("GET", "delta"), ("GET", "$value"), ("POST", "move")} <= kinds
    assert all(IMMUTABLE in r.prefer for r in log), [
        r.path for r in log if IMMUTABLE not in r.prefer
    ]
    assert all(r.authorized for r in log)
    assert all("odata.maxpagesize=" in r.prefer for r in log if r.is_delta)


def test_delta_pages_are_followed_to_the_delta_link(
    rig: GraphRig, box: GraphMailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph_module, "PAGE_SIZE", 2)
    uids = _deliver(rig, *range(5))
    assert box.snapshot().uids == tuple(uids)
    delta = [r for r in rig.graph.log() if r.is_delta]
    assert [sorted(r.query) for r in delta] == [["$select"], ["$skiptoken"], ["$skiptoken"]]
    assert json.loads(rig.cursor.path.read_text())["position"].count("$deltatoken=") == 1


def test_a_restart_goes_on_from_the_delta_link(rig: GraphRig, box: GraphMailbox) -> None:
    uids = _deliver(rig, 10, 11, 12)
    assert box.snapshot().uids == tuple(uids)
    box.move([uids[0]], Destination.PROCESSED)
    box.close()  # the process stops mid-run
    [newer] = _deliver(rig, 13)
    rig.graph.clear_log()
    restarted = rig.make()
    assert restarted.snapshot().uids == (uids[1], uids[2], newer)
    delta = [r for r in rig.graph.log() if r.is_delta]
    assert not any(r.is_full_listing for r in delta), "the folder was listed again in full"
    assert [sorted(r.query) for r in delta] == [["$deltatoken"]]


def test_an_unreadable_cursor_costs_one_full_listing(rig: GraphRig) -> None:
    uids = _deliver(rig, 14, 15)
    rig.cursor.save("{not json")
    assert rig.make().snapshot().uids == tuple(uids)
    assert sum(r.is_full_listing for r in rig.graph.log()) == 1


def test_a_message_a_colleague_moved_away_is_left_where_it_is(
    rig: GraphRig, box: GraphMailbox
) -> None:
    first, second = _deliver(rig, 20, 21)
    box.snapshot()
    rig.move_away("<graph-test.20@police.scot>")
    assert box.fetch(first) is None
    box.move([first, second], Destination.PROCESSED)
    assert rig.graph.ids_in("Colleague") == [first]  # not brought back
    assert rig.graph.ids_in("Processed") == [second]
    assert box.snapshot().uids == ()


def test_a_message_moved_away_after_the_fetch_is_not_moved(
    rig: GraphRig, box: GraphMailbox
) -> None:
    [uid] = _deliver(rig, 22)
    box.snapshot()
    assert box.fetch(uid) is not None
    rig.move_away("<graph-test.22@police.scot>")
    box.move([uid], Destination.QUARANTINE)
    assert rig.graph.ids_in("Colleague") == [uid]
    assert rig.count("quarantine") == 0


@pytest.mark.parametrize("hard", [True, False], ids=["purged", "to-deleted-items"])
def test_a_message_a_colleague_deleted(rig: GraphRig, box: GraphMailbox, hard: bool) -> None:
    [uid] = _deliver(rig, 23)
    box.snapshot()
    rig.graph.delete(uid, hard=hard)
    assert box.fetch(uid) is None
    box.move([uid], Destination.PROCESSED)  # nothing to move: no error
    assert rig.count("processed") == 0
    assert rig.graph.count("deleteditems") == (0 if hard else 1)
    assert box.snapshot().uids == ()
    if hard:
        statuses = [r.status for r in rig.graph.log() if r.path.endswith(uid)]
        assert 404 in statuses  # the recorded ErrorItemNotFound, taken as "gone"


# -- the delta feed reset (410) ---------------------------------------------------------------


def test_a_lost_sync_state_is_listed_again_in_full(rig: GraphRig, box: GraphMailbox) -> None:
    uids = _deliver(rig, 30, 31, 32)
    box.snapshot()
    box.move([uids[0]], Destination.PROCESSED)
    rig.graph.forget_delta_tokens()
    [newer] = _deliver(rig, 33)
    rig.graph.clear_log()
    listed = box.snapshot().uids
    assert listed == (uids[1], uids[2], newer)  # none lost, none twice
    statuses = [(r.status, r.is_full_listing) for r in rig.graph.log() if r.is_delta]
    assert statuses == [(410, False), (200, True)]
    # The new delta link is kept: a restart goes on from it.
    rig.graph.clear_log()
    assert rig.make().snapshot().uids == listed
    assert not any(r.is_full_listing for r in rig.graph.log())


# -- throttling -------------------------------------------------------------------------------


def test_throttling_waits_for_retry_after(rig: GraphRig, box: GraphMailbox) -> None:
    _deliver(rig, 40)
    box.snapshot()
    [newer] = _deliver(rig, 41)
    rig.graph.throttle(1, retry_after="1")
    began = time.monotonic()
    assert newer in box.snapshot().uids
    assert time.monotonic() - began >= 1.0
    statuses = [r.status for r in rig.graph.log() if r.is_delta]
    assert statuses[-2:] == [429, 200]


def test_a_long_retry_after_fails_the_call_at_once(rig: GraphRig, box: GraphMailbox) -> None:
    box.snapshot()
    rig.graph.throttle(1, retry_after="3600")
    began = time.monotonic()
    with pytest.raises(MailboxError, match="throttled"):
        box.snapshot()
    assert time.monotonic() - began < 5


# -- tokens -----------------------------------------------------------------------------------


def test_a_token_is_used_until_it_is_refused(rig: GraphRig, box: GraphMailbox) -> None:
    [uid] = _deliver(rig, 50)
    box.snapshot()
    box.fetch(uid)
    assert rig.entra.issued_count() == 1  # msal's cache: one token for many calls
    expires = box.tokens.expires_at
    assert expires is not None and 3000 < (expires - datetime.now(UTC)).total_seconds() < 3600
    rig.expire_token()  # revoked at Entra ID: Graph now answers 401
    [newer] = _deliver(rig, 51)
    assert newer in box.snapshot().uids
    assert rig.entra.issued_count() == 2  # exactly one more token
    statuses = [r.status for r in rig.graph.log()]
    assert statuses[-2:] == [401, 200]


def test_a_token_refused_after_renewal_is_an_auth_error(rig: GraphRig) -> None:
    # A token Entra issued for Exchange (IMAP, SMTP), not for Graph: Graph refuses every one.
    mailbox = GraphMailbox(rig.settings(), rig.tokens(scope=OUTLOOK_SCOPE), rig.cursor)
    with pytest.raises(MailboxAuthError, match="token was refused"):
        mailbox.snapshot()
    assert rig.entra.issued_count() == 2  # the first, and the one new one: no more


def test_a_wrong_client_secret_is_an_auth_error(rig: GraphRig) -> None:
    mailbox = GraphMailbox(rig.settings(), rig.tokens(secret="not-the-secret"), rig.cursor)
    with pytest.raises(MailboxAuthError, match=r"invalid_client \(AADSTS7000215\)") as raised:
        mailbox.snapshot()
    assert "not-the-secret" not in str(raised.value)
    assert "\n" not in str(raised.value)
    assert rig.graph.log() == []  # nothing reached Graph without a token


def test_credentials_refused_then_accepted_again(rig: GraphRig, box: GraphMailbox) -> None:
    rig.refuse_credentials()
    with pytest.raises(MailboxAuthError):
        box.snapshot()
    rig.accept_credentials()
    [uid] = _deliver(rig, 52)
    assert box.snapshot().uids == (uid,)


def test_refused_makes_the_next_token_a_new_one(rig: GraphRig) -> None:
    tokens = rig.tokens(scope=OUTLOOK_SCOPE)  # as IMAP and SMTP (XOAUTH2) will use it
    first = tokens.token()
    assert tokens.token() == first  # from msal's cache
    tokens.refused()
    second = tokens.token()
    assert second != first
    assert rig.entra.issued_count() == 2
    # What Dovecot's oauth2 passdb will ask (RFC 7662): the new token is good, for the mailbox.
    assert _introspect(rig, second) == {"active": "true", "username": MAILBOX_USER}
    assert _introspect(rig, second, plain=True) == {"active": "true", "username": MAILBOX_USER}
    rig.entra.revoke_all()
    assert _introspect(rig, second) == {"active": "false"}


def _introspect(rig: GraphRig, token: str, *, plain: bool = False) -> dict[str, str]:
    """Ask the token service as Dovecot does: over HTTPS, or plain HTTP on loopback."""
    context = ssl.create_default_context(cafile=str(rig.entra.ca_file))
    form = urllib.parse.urlencode({"token": token}).encode()
    url = rig.entra.plain_introspection_url if plain else rig.entra.introspection_url
    with urllib.request.urlopen(url, form, context=None if plain else context) as answer:
        return dict(json.loads(answer.read()))


def test_a_mailbox_the_app_may_not_open_is_an_auth_error(rig: GraphRig) -> None:
    rig.graph.deny_access()
    with pytest.raises(MailboxAuthError, match="HTTP 403 ErrorAccessDenied"):
        rig.make().snapshot()
    rig.graph.deny_access(False)
    assert rig.make().snapshot().uids == ()


def test_an_unknown_tenant_is_an_auth_error(rig: GraphRig) -> None:
    settings = EntraSettings("0000-not-our-tenant", CLIENT_ID, rig.entra.url, rig.entra.ca_file)
    tokens = TokenSource(settings, lambda: CLIENT_SECRET, (OUTLOOK_SCOPE,))
    with pytest.raises(MailboxAuthError, match="authority or tenant refused"):
        tokens.token()


def test_entra_out_of_reach_is_not_an_auth_error(rig: GraphRig) -> None:
    settings = EntraSettings("tenant", CLIENT_ID, f"https://127.0.0.1:{free_port()}")
    mailbox = GraphMailbox(
        rig.settings(), TokenSource(settings, lambda: CLIENT_SECRET, ("x/.default",)), rig.cursor
    )
    with pytest.raises(MailboxError, match="cannot reach") as raised:
        mailbox.snapshot()
    assert not isinstance(raised.value, MailboxAuthError)
    assert CLIENT_SECRET not in str(raised.value)


def test_an_unknown_certificate_is_refused(rig: GraphRig) -> None:
    mailbox = GraphMailbox(rig.settings(ca_file=None), rig.tokens(), rig.cursor)
    with pytest.raises(MailboxError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        mailbox.snapshot()
    assert rig.graph.log() == []


# -- folders ------------------------------------------------------------------------------


def test_a_folder_path_under_the_inbox(rig: GraphRig) -> None:
    rig.graph.add_folder("MAPPA", parent="inbox")
    [uid] = [rig.graph.deliver(_message(60), folder="MAPPA")]
    _deliver(rig, 61)  # in the Inbox itself: not ours
    mailbox = rig.make(folder="Inbox/MAPPA")
    assert mailbox.snapshot().uids == (uid,)
    mailbox.move([uid], Destination.PROCESSED)
    assert rig.count("processed") == 1


def test_a_missing_watched_folder_is_an_error(rig: GraphRig) -> None:
    with pytest.raises(MailboxError, match="'Referrals' not found"):
        rig.make(folder="Referrals").snapshot()


def test_processed_and_quarantine_are_made_once(rig: GraphRig) -> None:
    rig.make().connect()
    rig.make().connect()
    created = [r for r in rig.graph.log() if r.method == "POST" and r.path.endswith("mailFolders")]
    assert len(created) == 2  # Processed and Quarantine, by the first adapter only


# -- waiting ----------------------------------------------------------------------------------


def test_wait_returns_when_mail_arrives(rig: GraphRig, box: GraphMailbox) -> None:
    box.snapshot()
    timer = threading.Timer(0.6, rig.graph.deliver, (_message(70),))
    timer.start()
    began = time.monotonic()
    box.wait(20, lambda: False)
    waited = time.monotonic() - began
    timer.join()
    assert 0.5 < waited < 5, f"the wait returned after {waited:.1f} s"
    assert len(box.snapshot().uids) == 1


def test_mail_that_came_during_the_pass_ends_the_wait_at_once(
    rig: GraphRig, box: GraphMailbox
) -> None:
    box.snapshot()
    _deliver(rig, 71)
    began = time.monotonic()
    box.wait(20, lambda: time.monotonic() - began > 10)
    assert time.monotonic() - began < 2


def test_wait_stops_when_asked_and_ends_on_time(rig: GraphRig, box: GraphMailbox) -> None:
    box.snapshot()
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    began = time.monotonic()
    box.wait(20, stop.is_set)
    assert time.monotonic() - began < 2
    began = time.monotonic()
    box.wait(0.8, lambda: False)
    assert 0.7 < time.monotonic() - began < 2


def test_a_stop_cuts_a_throttled_wait_short(rig: GraphRig, box: GraphMailbox) -> None:
    box.snapshot()
    rig.graph.throttle(5, retry_after="30")
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    began = time.monotonic()
    box.wait(60, stop.is_set)
    assert time.monotonic() - began < 2.5
    assert [r.status for r in rig.graph.log()][-1] == 429


def test_keep_copy_leaves_the_sent_copy_to_exchange(rig: GraphRig, box: GraphMailbox) -> None:
    box.connect()
    rig.graph.clear_log()
    box.keep_copy("Sent Items", _message(80), "<graph-test.80@police.scot>", look_first=False)
    assert rig.graph.log() == []
    assert rig.graph.count("sentitems") == 0


# -- the worker, end to end -------------------------------------------------------------------


def _form(n: int) -> bytes:
    return with_headers(
        fixture_message("notification-in-text-body.eml"),
        Message_ID=f"<graph-worker.{n}@police.scot>",
    )


def _ledger(url: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(url)
    with engine.connect() as db:
        rows = db.execute(
            sa.text("SELECT message_id, state FROM inbound_message ORDER BY id")
        ).all()
    engine.dispose()
    return [(str(m), str(s)) for m, s in rows]


def test_the_worker_takes_each_message_once_through_a_restart_and_a_reset(
    rig: GraphRig, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'mappa.db'}"
    site = Site(tmp_path / "site", url)
    runtime = open_runtime(load(site.config), site.env(), make_clock(None))

    def worker() -> IntakeWorker:
        cursor = DatabaseCursor(runtime.db, f"graph:{MAILBOX_USER}", rig.settings().folder)
        return IntakeWorker(rig.make(cursor), runtime.processor)

    for n in (1, 2):
        rig.deliver(_form(n))
    first = worker()
    assert first.run_pass().processed == 2
    first.release_lease()
    assert (rig.count("inbox"), rig.count("processed")) == (0, 2)

    rig.deliver(_form(3))
    rig.graph.clear_log()
    restarted = worker()  # a new process: the delta link comes from the database
    assert restarted.run_pass().processed == 1
    assert not any(r.is_full_listing for r in rig.graph.log())

    rig.graph.forget_delta_tokens()
    rig.deliver(_form(4))
    rig.graph.clear_log()
    assert restarted.run_pass().processed == 1  # after a 410: listed in full, taken once
    delta = [(r.status, r.is_full_listing) for r in rig.graph.log() if r.is_delta]
    assert delta[:2] == [(410, False), (200, True)]
    assert restarted.run_pass().claimed == 0
    restarted.release_lease()

    ledger = _ledger(url)
    assert sorted(m for m, _ in ledger) == [f"<graph-worker.{n}@police.scot>" for n in (1, 2, 3, 4)]
    assert {state for _, state in ledger} == {"processed"}
    assert (rig.count("inbox"), rig.count("processed")) == (0, 4)
    assert not rig.cursor.path.exists()  # the cursor was the database's
    runtime.db.dispose()
