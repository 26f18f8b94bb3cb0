"""Real servers on loopback for the tests: PostgreSQL and Dovecot, started from the Debian
packages that ``make test`` installs, and an SMTP server (aiosmtpd). Each pytest worker starts
its own, in a private folder, on free ports, and stops it at the end. Nothing here is a mock.
"""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

PG_BIN_ROOT = Path("/usr/lib/postgresql")
# Servers start in well under this on the 2-core machine; a slow CI box gets the margin.
START_TIMEOUT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f} s")


def pg_bin() -> Path:
    versions = sorted(PG_BIN_ROOT.glob("*/bin/initdb"))
    if not versions:
        raise RuntimeError("PostgreSQL is not installed (make test installs it: postgresql)")
    return versions[-1].parent


def as_postgres(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    """PostgreSQL refuses to run as root; as root we run it as the package's user."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, **kwargs)  # type: ignore[call-overload, no-any-return]


@dataclass
class Postgres:
    port: int
    folder: Path

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )

    def create_database(self, name: str) -> str:
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                with self.connect():
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    # Not under pytest's tmp_path: that is private to root, and the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="mappa-pg-"))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    as_postgres(
        [str(pg_bin() / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
    )
    port = free_port()
    process = subprocess.Popen(
        (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else [])
        + [
            str(pg_bin() / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(folder),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        server = Postgres(port, folder)
        server.wait_ready()
        yield server
    finally:
        as_postgres([str(pg_bin() / "pg_ctl"), "stop", "-m", "immediate", "-D", str(data)])
        process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


# -- Dovecot -------------------------------------------------------------------------------

DOVECOT_USER = "mappa.lanarkshire"
DOVECOT_PASSWORD = "test-only-password"  # a throwaway server's, never a real one
# A second mailbox on the same server (North Lanarkshire's address, say), same password.
DOVECOT_NORTH_USER = "mappa.north"
# The one bearer token the test token service (below) calls valid, for DOVECOT_USER.
DOVECOT_TOKEN = "test-only-oauth2-token"
_OAUTH2_CONF = """\
introspection_mode = post
introspection_url = http://127.0.0.1:{port}/introspect
username_attribute = username
active_attribute = active
active_value = true
force_introspection = yes
"""


class _Introspection(http.server.BaseHTTPRequestHandler):
    """The identity provider's RFC 7662 token introspection, on loopback: Microsoft Entra ID
    cannot run here, so this small stand-in answers for it; Dovecot's side is real."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        active = form.get("token") == [DOVECOT_TOKEN]
        body = {"active": "true", "username": DOVECOT_USER} if active else {"active": "false"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


_DOVECOT_CONF = """\
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{folder}/cert.pem
ssl_key = <{folder}/key.pem
{ssl_dh}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {folder}/oauth2.conf.ext
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {folder}/passwd
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={folder}/home/%u allow_all_users=yes
}}
mail_location = maildir:~/Maildir:LAYOUT=fs
first_valid_uid = 8
first_valid_gid = 8
default_internal_user = dovecot
default_login_user = dovenull
mail_max_userip_connections = 200
service imap-login {{
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
    ssl = yes
  }}
}}
"""


@dataclass
class Dovecot:
    folder: Path
    imap_port: int
    imaps_port: int
    ca_file: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.folder / "dovecot.conf"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["dovecot", "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.imaps_port)
        wait_for_port(self.imap_port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def doveadm(self, *args: str) -> str:
        done = subprocess.run(
            ["doveadm", "-c", str(self.config), *args], check=True, capture_output=True, text=True
        )
        return done.stdout

    def kick(self) -> None:
        """Drop every connection of the user, as a server or network failure would."""
        self.doveadm("kick", DOVECOT_USER)

    def set_uidvalidity(self, folder: str, value: int) -> None:
        self.doveadm("mailbox", "update", "-u", DOVECOT_USER, "--uid-validity", str(value), folder)


def _test_certificate(folder: Path) -> Path:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost; returns the CA."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mappa-intake test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "cert.pem").write_bytes(cert.public_bytes(pem))
    (folder / "key.pem").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    return folder / "ca.pem"


@contextmanager
def dovecot_server() -> Iterator[Dovecot]:
    if shutil.which("dovecot") is None:
        raise RuntimeError("Dovecot is not installed (make test installs it: dovecot-imapd)")
    # Not under pytest's tmp_path: Dovecot's auth and mail processes run as their own users.
    folder = Path(tempfile.mkdtemp(prefix="mappa-dovecot-"))
    folder.chmod(0o755)
    for sub in ("run", "state", "home"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    shutil.chown(folder / "home", "mail", "mail")
    ca_file = _test_certificate(folder)
    (folder / "passwd").write_text(
        "".join(
            f"{user}:{{PLAIN}}{DOVECOT_PASSWORD}\n" for user in (DOVECOT_USER, DOVECOT_NORTH_USER)
        )
    )
    introspection = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Introspection)
    threading.Thread(target=introspection.serve_forever, daemon=True).start()
    (folder / "oauth2.conf.ext").write_text(
        _OAUTH2_CONF.format(port=introspection.server_address[1])
    )
    dh = Path("/usr/share/dovecot/dh.pem")
    server = Dovecot(folder, free_port(), free_port(), ca_file)
    server.config.write_text(
        _DOVECOT_CONF.format(
            folder=folder,
            imap_port=server.imap_port,
            imaps_port=server.imaps_port,
            ssl_dh=f"ssl_dh = <{dh}" if dh.exists() else "",
        )
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        introspection.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


# -- SMTP: a real aiosmtpd server on loopback ------------------------------------------------


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    at: float  # when the DATA exchange ended (time.time()): bench/reply.py's latency
    began: float  # when its DATA exchange began (several senders overlap)

    @property
    def message(self) -> email.message.EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed


class SmtpSink:
    """aiosmtpd on a free loopback port, keeping every message it accepts, in order.
    ``data_delay`` holds each DATA exchange open that long before it answers 250, so a kill
    can land inside it (the SIGKILL test)."""

    def __init__(self, data_delay: float = 0.0) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.data_delay = data_delay
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        began = time.time()
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        with self._lock:
            self._received.append(
                Received(
                    envelope.mail_from,
                    tuple(envelope.rcpt_tos),
                    bytes(envelope.content),
                    time.time(),
                    began,
                )
            )
        return "250 OK"

    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def clear(self) -> None:
        with self._lock:
            self._received.clear()

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


@contextmanager
def smtp_sink(data_delay: float = 0.0) -> Iterator[SmtpSink]:
    sink = SmtpSink(data_delay)
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()
