"""ASGI middleware: who is asking (from which address, with which account, in which language), and
the security headers on every answer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextvars import ContextVar
from http.cookies import SimpleCookie
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from server.auth import accounts
from server.core import i18n

LOGIN_COOKIE = "taiwa_login"
LANG_COOKIE = "taiwa_lang"
ERA_COOKIE = "taiwa_era"

SESSION_ICS = re.compile(r"^/sessions/(\d+)\.ics$")
# the signed-in account of the current request (None for residents), for templates
current_account: ContextVar[accounts.Account | None] = ContextVar("current_account", default=None)

# connect-src 'self' covers the board's WebSocket to its own origin, and nowhere else
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

# browsers that once reached the app over https refuse plain http for a year
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"


def behind_proxies(app: ASGIApp, trusted: Sequence[str]) -> ASGIApp:
    """`app`, seeing each client's own address when a trusted proxy forwards it.

    Only from a peer in `trusted` (addresses or networks) is X-Forwarded-For read, right to left,
    past the entries of trusted proxies: the first other entry is the client (anything a client wrote
    itself stands further left). Applied around everything, so pages, limits and socket handshakes
    all see the same address; uvicorn's own proxy_headers stays off so it is applied once.
    """
    return ProxyHeadersMiddleware(app, trusted_hosts=list(trusted)) if trusted else app  # type: ignore[arg-type]


def _cookies(scope: Scope) -> dict[str, str]:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header is treated as no cookies
                return {}
            return {key: morsel.value for key, morsel in jar.items()}
    return {}


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return value.decode("latin-1")
    return None


def _query_param(scope: Scope, wanted: str) -> str | None:
    from urllib.parse import parse_qs

    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(wanted)
    return values[0] if values else None


class RequestContextMiddleware:
    """Sets the request's locale and era preference, and loads the signed-in account.

    It wraps the whole Litestar app (not only matched routes), so a 404 for an unknown address
    is also answered in the reader's language.

    Pages authenticate by the login cookie; /api/ only by a bearer token, so that a browser's
    cookie never authorises a cross-site API call (the API is exempt from CSRF).
    """

    def __init__(self, app: ASGIApp, db: Any) -> None:
        self.app = app
        self.db = db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        ics = SESSION_ICS.match(path)
        if ics:  # /sessions/12.ics is served by the route /sessions/12/calendar.ics
            path = f"/sessions/{ics.group(1)}/calendar.ics"
            scope = {**scope, "path": path, "raw_path": path.encode()}
        is_api = path.startswith("/api/") or path == "/api"
        cookies = _cookies(scope)
        locale = i18n.pick_locale(cookies.get(LANG_COOKIE), _query_param(scope, "lang"),
                                  _header(scope, b"accept-language"), api=is_api)
        era = (_query_param(scope, "era") or cookies.get(ERA_COOKIE)) == "wareki"
        db = self.db
        account = None
        if is_api:
            authorization = _header(scope, b"authorization") or ""
            if authorization.lower().startswith("bearer "):
                account = await accounts.account_for_api_token(db, authorization[7:].strip())
        elif cookies.get(LOGIN_COOKIE):
            account = await accounts.account_for_login(db, cookies[LOGIN_COOKIE])
        state: dict[str, Any] = scope.setdefault("state", {})
        state.update(locale=locale, era=era, account=account, is_api=is_api)
        locale_token = i18n.current_locale.set(locale)
        era_token = i18n.current_era.set(era)
        account_token = current_account.set(account)
        try:
            await self.app(scope, receive, send)
        finally:
            i18n.current_locale.reset(locale_token)
            i18n.current_era.reset(era_token)
            current_account.reset(account_token)


# what picks the language of an answer (?lang= is in the address itself)
LANGUAGE_VARY = ("Accept-Language", "Cookie")


def _vary_on_language(headers: MutableScopeHeaders) -> None:
    """Add Accept-Language and Cookie to Vary (keeping what a handler already said), so a shared cache
    never hands one reader's language to another."""
    present = [item.strip() for value in headers.getall("vary", []) for item in value.split(",") if item.strip()]
    if "*" in present:
        return
    missing = [name for name in LANGUAGE_VARY if name.lower() not in {item.lower() for item in present}]
    if not missing:
        return
    if "vary" in headers:
        del headers["vary"]
    headers.add("Vary", ", ".join(present + missing))


class SecurityHeadersMiddleware:
    """CSP without inline code, no sniffing, no framing; no-store on anything personal (every answer);
    HSTS when the public address is https."""

    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        # answers to a form (a registration shown again with its entries), boards (names), staff and
        # registrant pages are never stored by a browser or a proxy
        personal = (path.startswith(("/organize", "/r/", "/api/", "/boards/", "/j/")) or LOGIN_COOKIE in _cookies(scope)
                    or scope.get("method", "GET") not in ("GET", "HEAD"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                headers.add("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                headers.add("X-Content-Type-Options", "nosniff")
                headers.add("Referrer-Policy", "strict-origin-when-cross-origin")
                headers.add("X-Frame-Options", "DENY")
                headers.add("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
                if self.https:
                    headers.add("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
                if not path.startswith("/static/"):
                    _vary_on_language(headers)
                if personal and not path.startswith("/static/") and "cache-control" not in headers:
                    headers.add("Cache-Control", "no-store")
                elif path.startswith("/static/") and "cache-control" not in headers:
                    headers.add("Cache-Control", "public, max-age=3600")
            await send(message)

        await self.app(scope, receive, send_with_headers)
