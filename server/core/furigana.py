"""The ふりがな switch: a cookie remembered like the language (`?ruby=1` / `?ruby=0` set it from any
address), and the middleware that puts <ruby> over the kanji of every HTML answer while it is on.

Pages, htmx fragments and the live board's fragments (notes, polls, captions) are all HTML answers,
so everything a reader sees gets its readings in the same answer, with no change to the socket events.
Readings come from `readings` (cached). Whose dictionary of local names: the answer's organization
(set through `use_org_readings` when a template shows a session or an organization), and inside an
element marked `data-reading-org="<slug>"` (a session card in a list) that organization's; else
the built-in terms. The dictionaries are read from the database at most every NAMES_TTL seconds.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qs, urlencode

from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from markupsafe import Markup, escape

from readings import store
from readings.analysis import BUILT_IN, NameBook, name_book
from readings.ruby import annotate_html, ruby_html
from server.core.middleware import _cookies  # the app's one lenient Cookie-header parser

RUBY_COOKIE = "taiwa_ruby"
ONE_YEAR = 365 * 24 * 3600
NAMES_TTL = 5.0
MAX_ANNOTATED = 3_000_000  # bytes; a larger HTML answer is sent as it is

READING_ORG = "reading_org"  # scope["state"] key: the slug of the organization whose content the answer shows

# whether the current request reads with ふりがな (for templates: the switch, the easy summary)
current_ruby: ContextVar[bool] = ContextVar("current_ruby", default=False)


class NameBooks:
    """Each organization's dictionary of local names (its entries over the built-in terms), by the
    organization's slug, reloaded when the database says an entry changed.

    A dictionary that did not change keeps its NameBook object, so the readings cached for that
    organization stay valid; one that changed is a new NameBook (another cache key)."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.books: dict[str, NameBook] = {}
        self.version: tuple[int, int, str] = (0, 0, "")
        self.checked = 0.0

    async def all(self) -> dict[str, NameBook]:
        """The dictionaries of the organizations that have entries, at most NAMES_TTL seconds old."""
        if time.monotonic() - self.checked < NAMES_TTL:
            return self.books
        self.checked = time.monotonic()
        version = await store.names_version(self.db)
        if version != self.version:
            books: dict[str, NameBook] = {}
            for slug, entries in (await store.names_by_org(self.db)).items():
                book = name_book(entries)
                books[slug] = self.books[slug] if self.books.get(slug) == book else book
            self.books = books
            self.version = version
        return self.books

    async def current(self, org: str | None = None) -> NameBook:
        """The dictionary of the organization `org` (a slug); the built-in terms for None or an
        organization without entries."""
        return (await self.all()).get(org, BUILT_IN) if org else BUILT_IN

    def expire(self) -> None:
        """Read the names again on the next request (this process changed them)."""
        self.checked = 0.0


def use_org_readings(scope: Scope, org: str | None) -> None:
    """Read the whole answer to this request with `org`'s dictionary (its slug); the first caller
    wins. The templates call it for the organization whose content they show (server/core/templating.py)."""
    if org:
        scope.setdefault("state", {}).setdefault(READING_ORG, org)


def wanted(scope: Scope, cookies: dict[str, str]) -> tuple[bool, str | None]:
    """(ruby on?, the value to remember when the address says ?ruby=)."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("ruby")
    asked = values[-1] if values else None
    if asked in ("1", "0"):
        return asked == "1", asked
    return cookies.get(RUBY_COOKIE) == "1", None


def switch_url(path: str, query_string: str, on: bool) -> str:
    """The current address with ?ruby=1 or ?ruby=0 (the header's switch)."""
    params = [(key, value) for key, value in parse_qs(query_string, keep_blank_values=True).items() if key != "ruby"]
    flat = [(key, item) for key, values in params for item in values]
    return path + "?" + urlencode([*flat, ("ruby", "1" if on else "0")])


def ruby_filter(text: Any) -> Markup:
    """Jinja `|ruby`: the text with ruby over its kanji when the reader's switch is on, else escaped.
    For texts rendered outside a page answer (e.g. a socket payload's HTML); pages get ruby anyway."""
    if not current_ruby.get():
        return escape(text)
    return Markup(ruby_html(str(text)))


class RubyMiddleware:
    """Remembers the switch and annotates text/html answers while it is on."""

    def __init__(self, app: ASGIApp, db: Any, *, secure_cookies: bool = False) -> None:
        self.app = app
        self.books = NameBooks(db)
        self.secure = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        on, remember = wanted(scope, _cookies(scope))
        path = scope.get("path", "")
        annotate = on and not path.startswith(("/api/", "/static/", "/socket.io/", "/schema"))
        scope.setdefault("state", {})["ruby"] = on
        token = current_ruby.set(on)
        start: Message | None = None
        chunks: list[bytes] = []
        passthrough = not annotate

        async def send_wrapped(message: Message) -> None:
            nonlocal start, passthrough
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                if remember is not None:
                    cookie = (f"{RUBY_COOKIE}={remember}; Path=/; Max-Age={ONE_YEAR}; HttpOnly; SameSite=Lax"
                              + ("; Secure" if self.secure else ""))
                    headers.add("Set-Cookie", cookie)
                content_type = headers.get("content-type", "")
                if content_type.startswith("text/html"):  # the same address reads differently per reader
                    vary = headers.get("vary")
                    if not vary:
                        headers["Vary"] = "Cookie"
                    elif "cookie" not in vary.lower():
                        headers["Vary"] = vary + ", Cookie"
                if passthrough or not content_type.startswith("text/html") or headers.get("content-encoding"):
                    passthrough = True
                    await send(message)
                    return
                start = message
                return
            if passthrough or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            if len(body) <= MAX_ANNOTATED:
                books = await self.books.all()
                org = scope.get("state", {}).get(READING_ORG)
                book = books.get(org, BUILT_IN) if org else BUILT_IN
                body = annotate_html(body.decode("utf-8", "replace"), book, books).encode("utf-8")
            assert start is not None
            headers = MutableScopeHeaders.from_message(start)
            if "content-length" in headers:
                headers["content-length"] = str(len(body))
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": False})

        try:
            await self.app(scope, receive, send_wrapped)
        finally:
            current_ruby.reset(token)
