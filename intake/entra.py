"""App-only tokens from Microsoft Entra ID (OAuth 2.0 client credentials), with msal.

One ``TokenSource`` per resource: Microsoft Graph (scope ``GRAPH_SCOPE``) for the Graph
mailbox, Exchange Online (``OUTLOOK_SCOPE``) for IMAP and SMTP with SASL XOAUTH2.

* **Caching**: msal keeps the token and hands it out again until five minutes before it
  expires (msal 1.23+ looks in its cache first in ``acquire_token_for_client``).
* **Refused by the resource**: a token can be revoked before it expires (a disabled app, a
  changed policy). ``refused()`` drops it with ``remove_tokens_for_client()``, msal's
  documented way to forget app-only tokens, so the next ``token()`` asks Entra ID afresh;
  ``acquire_token_for_client`` has no ``force_refresh`` (msal refuses one).
* **Authority**: ``login.microsoftonline.com`` unless configured (a national cloud, or the
  tests' loopback stand-in). For a host msal does not know, it would first ask
  ``login.microsoftonline.com`` to vouch for the host ("instance discovery"); the operator's
  own authority needs no such voucher, so discovery is turned off for it.
* **Errors**: Entra's refusal of the app (a wrong or expired secret, an unknown or disabled
  app) is ``MailboxAuthError``; Entra out of reach is ``MailboxError``. Each is one line
  naming the tenant and app, never the secret.

msal is imported here only, when the first token is wanted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from intake.errors import MailboxAuthError, MailboxError

if TYPE_CHECKING:
    import msal
    import requests

log = logging.getLogger(__name__)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
OUTLOOK_SCOPE = "https://outlook.office365.com/.default"  # IMAP and SMTP, SASL XOAUTH2
PUBLIC_AUTHORITY = "https://login.microsoftonline.com"
# Hosts of Microsoft's own clouds: msal knows them and needs no instance discovery for them.
_MICROSOFT_SUFFIXES = (".microsoftonline.com", ".microsoftonline.us", ".microsoftonline.cn")
# Seconds to wait for Entra ID to answer one request.
HTTP_TIMEOUT_SECONDS = 30.0
# Entra's answers that mean "try again later", not "you are refused" (RFC 6749 §5.2, §4.1.2.1).
_TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error"})
_MAX_REASON = 200


@dataclass(frozen=True, slots=True)
class EntraSettings:
    tenant_id: str
    client_id: str
    authority_url: str = PUBLIC_AUTHORITY
    ca_file: Path | None = None  # CA certificates to trust instead of the system's


class TokenSource:
    """Bearer tokens for one resource (``scopes``), for the app ``settings.client_id``."""

    def __init__(
        self,
        settings: EntraSettings,
        client_secret: Callable[[], str],
        scopes: tuple[str, ...],
    ) -> None:
        if not scopes:
            raise ValueError("a token source needs at least one scope")
        self.settings = settings
        self.scopes = scopes
        self._secret = client_secret  # read when the app is built: a rotated secret is used
        self._app: msal.ConfidentialClientApplication | None = None
        self._expires_at: datetime | None = None
        self._lock = threading.Lock()  # the intake and sending threads may share a source

    @property
    def authority(self) -> str:
        return f"{self.settings.authority_url.rstrip('/')}/{self.settings.tenant_id}"

    @property
    def name(self) -> str:
        """Where the tokens come from, for messages (no secret in it)."""
        return f"Entra ID {self.authority} app {self.settings.client_id}"

    @property
    def expires_at(self) -> datetime | None:
        """When the token last handed out expires (UTC), None before the first."""
        return self._expires_at

    def token(self) -> str:
        with self._lock:
            result = self._acquire()
            token = result.get("access_token")
            if not isinstance(token, str) or not token:
                raise self._refusal(result)
            lifetime = int(result.get("expires_in") or 0)
            self._expires_at = datetime.now(UTC) + timedelta(seconds=lifetime)
            return token

    def refused(self) -> None:
        """The resource server refused the token last handed out: forget it, so that the
        next ``token()`` asks Entra ID for a new one instead of the cache."""
        with self._lock:
            self._expires_at = None
            if self._app is not None:
                self._app.remove_tokens_for_client()

    # -- msal --------------------------------------------------------------------------------

    def _acquire(self) -> dict[str, Any]:
        import requests
        from msal.exceptions import MsalError

        try:
            app = self._application()
            result = app.acquire_token_for_client(scopes=list(self.scopes))
        except requests.RequestException as err:
            raise MailboxError(f"{self.name}: cannot reach: {network_reason(err)}") from err
        except ValueError as err:
            # msal: an authority URL it cannot use, or OpenID discovery refused (4xx): the
            # tenant is unknown. A setting to correct, not an outage to wait out.
            self._app = None
            raise MailboxAuthError(
                f"{self.name}: authority or tenant refused: {_short(err)}"
            ) from err
        except (MsalError, RuntimeError) as err:  # msal: discovery failed with a 5xx
            self._app = None
            raise MailboxError(f"{self.name}: cannot reach: {_short(err)}") from err
        if not isinstance(result, dict):
            raise MailboxError(f"{self.name}: no answer to a token request")
        return result

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            import msal

            s = self.settings
            host = urlsplit(s.authority_url).hostname or ""
            self._app = msal.ConfidentialClientApplication(
                s.client_id,
                client_credential=self._secret(),
                authority=self.authority,
                http_client=_HttpClient(str(s.ca_file) if s.ca_file else True),
                instance_discovery=host.endswith(_MICROSOFT_SUFFIXES),
            )
        return self._app

    def _refusal(self, result: dict[str, Any]) -> MailboxError:
        """The error for Entra's answer without a token; a refusal drops the app, so the
        next attempt reads the secret again (it may have been rotated meanwhile)."""
        error = str(result.get("error") or "no access token")
        codes = result.get("error_codes") or []
        code = f" (AADSTS{codes[0]})" if codes else ""
        reason = _first_line(str(result.get("error_description") or ""))
        text = f"{self.name}: token refused: {error}{code}" + (f": {reason}" if reason else "")
        text = self._scrub(text)
        if error in _TRANSIENT_ERRORS:
            return MailboxError(text)
        self._app = None
        self._expires_at = None
        log.warning("Entra ID refused a token request", extra={"error": error, "code": code})
        return MailboxAuthError(text)

    def _scrub(self, text: str) -> str:
        """Entra never echoes the secret; should an error ever do so, it stops here."""
        secret = self._secret()
        return text.replace(secret, "[secret]") if secret else text


class _HttpClient:
    """The HTTP client msal is given (its ``get``/``post``/``close``): requests, with the CA
    file and a timeout on every call. msal's own session sets ``verify`` session-wide, which
    requests lets REQUESTS_CA_BUNDLE override (psf/requests#3829); per call, it cannot."""

    def __init__(self, verify: str | bool) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        self._verify = verify
        self._session = requests.Session()
        adapter = HTTPAdapter(max_retries=1)  # as msal's own: one retry of a dropped connection
        self._session.mount("https://", adapter)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self._session.get(url, verify=self._verify, timeout=HTTP_TIMEOUT_SECONDS, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self._session.post(url, verify=self._verify, timeout=HTTP_TIMEOUT_SECONDS, **kwargs)

    def close(self) -> None:
        self._session.close()


def _first_line(text: str) -> str:
    """Entra's description, without its trace and correlation ids (a line each)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    if ":" in line and line.startswith("AADSTS"):
        line = line.split(":", 1)[1].strip()  # the code is given apart
    return line[:_MAX_REASON]


def _short(err: Exception) -> str:
    return f"{type(err).__name__}: {_first_line(str(err))}"


def network_reason(err: BaseException) -> str:
    """What went wrong under a requests error, in one line: the innermost exception of the
    chain ("[SSL: CERTIFICATE_VERIFY_FAILED] ...", "[Errno 111] Connection refused"), not
    requests' long wrapper of it."""
    inner = err
    seen = {id(inner)}
    while True:
        nested = inner.__cause__ or inner.__context__
        if nested is None or id(nested) in seen:
            break
        seen.add(id(nested))
        inner = nested
    return f"{type(inner).__name__}: {_first_line(str(inner))}"
