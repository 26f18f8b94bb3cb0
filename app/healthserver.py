"""The daemon's own small HTTP server: ``GET /metrics`` and ``GET /healthz``, nothing else.

The standard library's threading HTTP server on a thread, so the daemon imports no web
framework. It answers without a login, so it listens on loopback by default (``health.host``):
a Prometheus on the same host, or one that reaches it through the council's internal network,
scrapes it. The console does not serve these: it faces users through the council's proxy, and
case counts and mailbox names are not for anyone who can reach its login page.

``/healthz`` is 200 with ``{"status": "ok", ...}`` when the database answers and every mailbox
this daemon reads was read within ``alerts.mailbox_stale_minutes`` (a worker reading one now
counts as read); otherwise 503 with the reasons. The judgement is the alert rules' own
(responders/alertrules.py), on the same facts.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry
from sqlalchemy.exc import SQLAlchemyError

from records import health
from records.database import Database
from records.leases import wall_clock
from responders.alertrules import login_refused, stale, unread_since

log = logging.getLogger(__name__)

# A client that opens a connection and sends nothing is dropped after this long, so a stuck
# scraper cannot hold the server's threads.
REQUEST_TIMEOUT_SECONDS = 10

HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]


class MailboxHealthCheck:
    """``/healthz``'s judgement: the database answers, and no mailbox of ``mailboxes`` is
    stale or refused."""

    def __init__(
        self,
        db: Database,
        mailboxes: Sequence[str],
        stale_after: timedelta,
        real_clock: Callable[[], datetime] = wall_clock,
    ) -> None:
        self.db = db
        self.mailboxes = tuple(mailboxes)
        self.stale_after = stale_after
        self.real_clock = real_clock

    def __call__(self) -> tuple[bool, dict[str, Any]]:
        now = self.real_clock()
        try:
            with self.db.session() as session:
                facts = health.mailbox_facts(session, self.mailboxes)
        except SQLAlchemyError as err:
            reason = f"database: {type(err).__name__}"
            return False, {"status": "unavailable", "database": "unavailable", "reasons": [reason]}
        reasons = []
        shown = []
        for mailbox in facts:
            since = unread_since(mailbox)
            if login_refused(mailbox):
                reasons.append(f"mailbox {mailbox.mailbox}: login refused")
            elif stale(mailbox, now, self.stale_after) and since is not None:
                minutes = (now - since).total_seconds() / 60
                reasons.append(f"mailbox {mailbox.mailbox}: not read for {minutes:.1f} minutes")
            shown.append(
                {
                    "mailbox": mailbox.mailbox,
                    "last_read": mailbox.last_read_at.isoformat() if mailbox.last_read_at else None,
                    "failing": mailbox.failure_kind if mailbox.failing else None,
                }
            )
        body = {
            "status": "unavailable" if reasons else "ok",
            "database": "ok",
            "mailboxes": shown,
            "reasons": reasons,
        }
        return not reasons, body


def _handler(registry: CollectorRegistry, check: HealthCheck) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "mappa-intake"
        sys_version = ""
        timeout = REQUEST_TIMEOUT_SECONDS

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._send(200, content_type, encoder(registry))
            elif path == "/healthz":
                ok, body = check()
                data = (json.dumps(body) + "\n").encode()
                self._send(200 if ok else 503, "application/json", data)
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found: /metrics, /healthz\n")

        def _send(self, code: int, content_type: str, data: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the daemon's log is JSON lines of its own; scrapes are not news

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class HealthServer:
    """``/metrics`` and ``/healthz`` on ``host:port``, served from a thread."""

    def __init__(
        self, host: str, port: int, registry: CollectorRegistry, check: HealthCheck
    ) -> None:
        self.host = host
        self.port = port
        self.handler = _handler(registry, check)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Listen and serve; False (logged) if the address cannot be had. The daemon goes on
        without it: reading mail matters more, and any process on the database gives the
        same figures."""
        kind = _Server6 if ":" in self.host else _Server
        try:
            self._server = kind((self.host, self.port), self.handler)
        except OSError as err:
            log.error(
                "health: cannot listen on %s:%s: %s: /metrics and /healthz not served",
                self.host,
                self.port,
                err.strerror or err,
            )
            return False
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health", daemon=True
        )
        self._thread.start()
        log.info("health: serving /metrics and /healthz on %s:%s", self.host, self.port)
        return True

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
