"""How a composed message leaves: SMTP (smtplib), or a local Maildir (the demo).

``send`` runs MAIL FROM and RCPT TO, then calls ``before_data`` (the sender notes in the
outbox, in its own transaction, that DATA begins), then DATA. A stop before that note leaves
nothing delivered; a stop after it may have delivered the message, and it is then sent again
with the same Message-ID: the only way a duplicate can arise, and the outbox counts it.

Errors come out as two kinds: ``SendDeferred`` (a connection lost, a 4xx answer: try again
later) and ``SendRefused`` (a 5xx answer: this message will never go as it is).
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from intake.imap import security_problem
from intake.maildir import put_once

SMTP_TIMEOUT_SECONDS = 60.0


class SendDeferred(Exception):
    """Not sent this time (the server is away, busy, or said 4xx): try again later."""


class SendRefused(Exception):
    """The server refused this message for good (5xx)."""


class Transport(Protocol):
    @property
    def name(self) -> str: ...

    def send(
        self,
        key: str,
        envelope_from: str,
        recipient: str,
        raw: bytes,
        before_data: Callable[[], bool],
    ) -> bool:
        """Send ``raw`` to ``recipient``; False if ``before_data`` said not to after all."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # "tls" | "starttls" | "none" (none only to a loopback host)
    username: str = ""
    ca_file: Path | None = None
    timeout: float = SMTP_TIMEOUT_SECONDS
    auth: str = "password"  # "password" | "xoauth2" (an OAuth 2.0 bearer token)


class SmtpTransport:
    """One connection, kept open across a pass and reopened when the server drops it.

    ``password`` is read at each login (a token may have been renewed); with XOAUTH2, a
    refused token is reported through ``refused`` and the login tried once more with a new one.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        password: Callable[[], str],
        refused: Callable[[], None] = lambda: None,
    ) -> None:
        problem = security_problem(settings.security, settings.host)
        if problem:
            raise ValueError(f"smtp.security: {problem}")
        self.settings = settings
        self._password = password
        self._refused = refused
        self._connection: smtplib.SMTP | None = None

    @property
    def name(self) -> str:
        return f"smtp://{self.settings.host}:{self.settings.port}"

    def _context(self) -> ssl.SSLContext:
        ca = self.settings.ca_file
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        connection: smtplib.SMTP
        if s.security == "tls":
            connection = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout, context=self._context()
            )
        else:
            connection = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.security == "starttls":
                connection.starttls(context=self._context())
        connection.ehlo_or_helo_if_needed()
        if not s.username:
            return connection
        if s.auth != "xoauth2":
            connection.login(s.username, self._password())
            return connection
        try:
            self._xoauth2(connection)
        except smtplib.SMTPAuthenticationError:
            self._refused()  # the token in hand was refused: the next one is fetched anew
            self._xoauth2(connection)
        return connection

    def _xoauth2(self, connection: smtplib.SMTP) -> None:
        token = self._password()
        # SASL XOAUTH2 (Google's and Microsoft's): user, then the bearer token.
        answer = f"user={self.settings.username}\x01auth=Bearer {token}\x01\x01"
        connection.auth("XOAUTH2", lambda challenge=None: answer, initial_response_ok=True)

    def _connected(self) -> smtplib.SMTP:
        if self._connection is None:
            try:
                self._connection = self._open()
            except smtplib.SMTPAuthenticationError as err:
                raise SendDeferred(f"{self.name}: login refused ({err.smtp_code})") from err
            except (smtplib.SMTPException, OSError, ssl.SSLError) as err:
                raise SendDeferred(f"{self.name}: cannot connect: {type(err).__name__}") from err
        return self._connection

    def send(
        self,
        key: str,
        envelope_from: str,
        recipient: str,
        raw: bytes,
        before_data: Callable[[], bool],
    ) -> bool:
        connection = self._connected()
        try:
            code, answer = connection.mail(envelope_from)
            if code != 250:
                self._reset(connection)
                _refuse_or_defer(code, answer, "MAIL FROM")
            code, answer = connection.rcpt(recipient)
            if code not in (250, 251):
                self._reset(connection)
                _refuse_or_defer(code, answer, "RCPT TO")
            if not before_data():
                self._reset(connection)
                return False
            connection.data(raw)
        except smtplib.SMTPDataError as err:
            _refuse_or_defer(err.smtp_code, err.smtp_error, "DATA")
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as err:
            self._drop()
            raise SendDeferred(f"{self.name}: connection lost: {type(err).__name__}") from err
        except smtplib.SMTPResponseException as err:
            _refuse_or_defer(err.smtp_code, err.smtp_error, "SMTP")
        return True

    def _reset(self, connection: smtplib.SMTP) -> None:
        try:
            connection.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()


def _refuse_or_defer(code: int, answer: bytes | str, stage: str) -> None:
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
    detail = f"{stage}: {code} {' '.join(text.split())[:200]}"
    if 500 <= code < 600:
        raise SendRefused(detail)
    raise SendDeferred(detail)


class MaildirTransport:
    """Every message written to a local Maildir (the demo's "outgoing" mail), named by its
    outbox key: writing it again after a stop finds it there, so here nothing is doubled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def name(self) -> str:
        return f"maildir:{self.path}"

    def send(
        self,
        key: str,
        envelope_from: str,
        recipient: str,
        raw: bytes,
        before_data: Callable[[], bool],
    ) -> bool:
        if not before_data():
            return False
        envelope = f"Return-Path: <{envelope_from}>\r\nDelivered-To: {recipient}\r\n".encode()
        try:
            put_once(self.path, key, envelope + raw)
        except OSError as err:
            raise SendDeferred(f"{self.name}: cannot write: {err}") from err
        return True

    def close(self) -> None:
        pass
