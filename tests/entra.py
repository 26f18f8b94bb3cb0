"""A STAND-IN for Microsoft Entra ID, on loopback HTTPS. It is not Microsoft's service:
Entra ID cannot run here, so this small server answers as Entra ID's documented endpoints do,
with RECORDED SHAPES of their responses (field names, status codes, AADSTS error bodies, as
Microsoft's identity platform documentation gives them) and fictional values. msal talks to
it exactly as to login.microsoftonline.com: OpenID discovery, then the token endpoint.

* ``GET /{tenant}/v2.0/.well-known/openid-configuration``: the discovery document.
* ``POST /{tenant}/oauth2/v2.0/token``: client credentials only (app-only tokens, as the
  service uses); a wrong client secret gets ``invalid_client`` (AADSTS7000215, HTTP 401), an
  unknown app ``unauthorized_client`` (AADSTS700016). Tokens are random strings (not JWTs:
  nothing here reads them but the resource stand-ins, which ask ``is_valid``), with
  ``expires_in`` 3599 as Entra gives.
* ``POST /introspect``: RFC 7662 token introspection (``token=...`` ->
  ``{"active": "true", "username": ...}``), for Dovecot's ``oauth2`` passdb (IMAP XOAUTH2).

Resource stand-ins (Graph, EWS) call ``is_valid(token, audience)``; a test revokes every token
issued so far with ``revoke_all()`` and refuses or accepts the client secret with
``refuse_secret()``. Every value here is fictional.
"""

from __future__ import annotations

import http.server
import json
import secrets
import ssl
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.servers import _test_certificate

# Fictional tenant, app and secret of the tests (never a real one).
TENANT_ID = "3f6b2c1e-8d4a-4e7b-9c05-5a1d7e2b9f40"
CLIENT_ID = "c9d2e7a1-4b3f-4a8e-b6d0-1e5f9a2c7b38"
CLIENT_SECRET = "test-only-client-secret~not.a.real.one"
MAILBOX_USER = "mappa.lanarkshire@southlanarkshire.gov.uk"
GRAPH_AUDIENCE = "https://graph.microsoft.com"
OUTLOOK_AUDIENCE = "https://outlook.office365.com"
TOKEN_LIFETIME_SECONDS = 3599  # what Entra ID gives an app-only token


# -- HTTPS on loopback ---------------------------------------------------------------------


class TlsServer(http.server.ThreadingHTTPServer):
    """A threaded HTTP server whose connections are TLS, the handshake made in the
    connection's own thread (a stalled client holds up no one else)."""

    daemon_threads = True

    def __init__(
        self,
        handler: Callable[..., http.server.BaseHTTPRequestHandler],
        context: ssl.SSLContext | None,
    ) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.context = context

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.context is None:
            super().finish_request(request, client_address)
            return
        try:
            connection = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that refused our certificate: nothing to answer
        try:
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            connection.close()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def tls_context(folder: Path) -> ssl.SSLContext:
    """The server side of TLS with the test certificate made in ``folder``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


def start(server: TlsServer) -> threading.Thread:
    # A short poll: shutdown() waits for the loop to look, and the tests stop servers often.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return thread


class JsonHandler(http.server.BaseHTTPRequestHandler):
    """Reading forms and writing JSON, for the stand-ins."""

    def form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length", "0"))
        fields = urllib.parse.parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
        return {name: values[-1] for name, values in fields.items()}

    def send_json(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass  # the stand-ins keep their own request logs


# -- Entra ID --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenRequest:
    client_id: str
    scope: str
    status: int  # 200: a token was issued


@dataclass
class _Issued:
    audience: str
    username: str
    expires: float  # time.monotonic()


class EntraStandIn:
    """The identity provider's side (see the module docstring); ``url`` is the authority
    (``EntraSettings.authority_url``), ``ca_file`` the CA its certificate is signed by."""

    def __init__(
        self,
        folder: Path,
        *,
        tenant_id: str = TENANT_ID,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        username: str = MAILBOX_USER,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.ca_file = (
            folder / "ca.pem" if (folder / "cert.pem").exists() else _test_certificate(folder)
        )
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username  # who introspection says a token belongs to
        self._lock = threading.Lock()
        self._tokens: dict[str, _Issued] = {}
        self._secret_refused = False
        self.token_requests: list[TokenRequest] = []
        self._server = TlsServer(_handler(self), tls_context(folder))
        # Plain HTTP, loopback only, for Dovecot's introspection (it would need the test CA
        # otherwise); the same tokens.
        self._plain = TlsServer(_handler(self), None)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.port}"

    @property
    def authority(self) -> str:
        return f"{self.url}/{self.tenant_id}"

    @property
    def introspection_url(self) -> str:
        return f"{self.url}/introspect"

    @property
    def plain_introspection_url(self) -> str:
        return f"http://127.0.0.1:{self._plain.port}/introspect"

    def start(self) -> None:
        start(self._server)
        start(self._plain)

    def stop(self) -> None:
        for server in (self._server, self._plain):
            server.shutdown()
            server.server_close()

    # -- what the tests do -------------------------------------------------------------------

    def issue(self, scope: str) -> str:
        """A token as the token endpoint would give it (for a client that is not msal)."""
        token = secrets.token_urlsafe(32)
        audience = scope.removesuffix("/.default")
        with self._lock:
            expires = time.monotonic() + TOKEN_LIFETIME_SECONDS
            self._tokens[token] = _Issued(audience, self.username, expires)
        return token

    def revoke_all(self) -> None:
        """Every token issued so far is refused from now on (as after the app's secret was
        changed, or its permission withdrawn); new ones are issued as before."""
        with self._lock:
            self._tokens.clear()

    def refuse_secret(self, refused: bool = True) -> None:
        """Refuse the client secret from now on (it was rotated, or expired), or accept it
        again."""
        with self._lock:
            self._secret_refused = refused

    def is_valid(self, token: str, audience: str | None = None) -> bool:
        with self._lock:
            issued = self._tokens.get(token)
        if issued is None or issued.expires < time.monotonic():
            return False
        return audience is None or issued.audience == audience

    def username_for(self, token: str) -> str | None:
        with self._lock:
            issued = self._tokens.get(token)
        return issued.username if issued is not None else None

    def issued_count(self) -> int:
        """Tokens the token endpoint gave out."""
        with self._lock:
            return sum(1 for r in self.token_requests if r.status == 200)

    # -- the endpoints -----------------------------------------------------------------------

    def discovery(self, tenant: str) -> tuple[int, dict[str, Any]]:
        if tenant != self.tenant_id:
            return 400, _error("invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        base = f"{self.url}/{tenant}"
        # RECORDED SHAPE of the v2.0 OpenID Connect discovery document.
        return 200, {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.url}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "ver"],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }

    def token(self, tenant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        status, body = self._answer(tenant, form)
        with self._lock:
            self.token_requests.append(
                TokenRequest(form.get("client_id", ""), form.get("scope", ""), status)
            )
        return status, body

    def _answer(self, tenant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if tenant != self.tenant_id:
            return 400, _error("invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            return 400, _error(
                "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        client_id = form.get("client_id", "")
        if client_id != self.client_id:
            return 400, _error(
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory"
                f" '{tenant}'.",
            )
        with self._lock:
            refused = self._secret_refused
        if refused or not secrets.compare_digest(
            form.get("client_secret", "").encode(), self.client_secret.encode()
        ):
            return 401, _error(
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request"
                " is the client secret value, not the client secret ID, for a secret added to"
                f" app '{client_id}'.",
            )
        scope = form.get("scope", "")
        scopes = scope.split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            return 400, _error(
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows"
                " must have a scope value with /.default suffixed to the resource identifier"
                " (application ID URI).",
            )
        # RECORDED SHAPE of a client-credentials token response.
        return 200, {
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "ext_expires_in": TOKEN_LIFETIME_SECONDS,
            "access_token": self.issue(scopes[0]),
        }

    def introspect(self, form: dict[str, str]) -> dict[str, str]:
        token = form.get("token", "")
        if self.is_valid(token):
            return {"active": "true", "username": self.username_for(token) or ""}
        return {"active": "false"}


def _error(error: str, code: int, description: str) -> dict[str, Any]:
    """RECORDED SHAPE of an Entra ID error body: the AADSTS code leads the description,
    then trace and correlation ids and a timestamp, a line each."""
    trace, correlation = uuid.uuid4(), uuid.uuid4()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return {
        "error": error,
        "error_description": (
            f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\n"
            f"Correlation ID: {correlation}\r\nTimestamp: {stamp}"
        ),
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": str(trace),
        "correlation_id": str(correlation),
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }


def _handler(entra: EntraStandIn) -> Callable[..., http.server.BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
            if parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                self.send_json(*entra.discovery(parts[0]))
                return
            self.send_json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            parts = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
            form = self.form()
            if parts == ["introspect"]:
                self.send_json(200, entra.introspect(form))
            elif parts[1:] == ["oauth2", "v2.0", "token"]:
                self.send_json(*entra.token(parts[0], form))
            else:
                self.send_json(404, {"error": "not_found"})

    return Handler


@contextmanager
def entra_stand_in(folder: Path, **options: Any) -> Iterator[EntraStandIn]:
    entra = EntraStandIn(folder, **options)
    entra.start()
    try:
        yield entra
    finally:
        entra.stop()
