"""Headers on every response, and a refusal of any cross-site form post, as pure ASGI
middleware (it sees every response, the error pages included).

The Content-Security-Policy allows scripts, styles and images from the console only: no
inline script (a form's field shown on a page cannot run even if escaping failed), no
framing (frame-ancestors 'none': no clickjacking), forms posted only to the console.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",  # for browsers without frame-ancestors
    "referrer-policy": "no-referrer",  # a one-time link or a case ref never leaves in a Referer
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
    # Case data must not sit in a shared or back-button cache.
    "cache-control": "no-store",
}
# Behind the council's TLS proxy: browsers keep to HTTPS for a year.
HSTS = "max-age=31536000"


class SecurityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        if scope["method"] == "POST" and _cross_site(request_headers, scope):
            refusal = PlainTextResponse("Cross-site form posts are refused.", status_code=403)
            await refusal(scope, receive, _with_headers(send, scope))
            return
        await self.app(scope, receive, _with_headers(send, scope))


def _with_headers(send: Send, scope: Scope) -> Send:
    secure = (
        scope.get("scheme") == "https" or Headers(scope=scope).get("x-forwarded-proto") == "https"
    )

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (k, v) for k, v in message.get("headers", []) if k.decode().lower() not in HEADERS
            ]
            headers += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
            if secure:
                headers.append((b"strict-transport-security", HSTS.encode()))
            message = {**message, "headers": headers}
        await send(message)

    return sending


def _cross_site(headers: Headers, scope: Scope) -> bool:
    """A post another site's page made the browser send: refused before any form is read,
    whatever cookie came with it. Fetch Metadata first (every current browser sends it);
    else the Origin header (which is "null" under our no-referrer policy, so it only counts
    when it names a host)."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None or origin == "null":
        return False  # not a browser (curl, an HTTP client): the CSRF token decides
    host = headers.get("x-forwarded-host") or headers.get("host", "")
    return origin.split("://", 1)[-1] != host
