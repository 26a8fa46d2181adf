"""The ふりがな switch: a cookie remembered like the language (`?ruby=1` / `?ruby=0` set it from any
address), and the middleware that puts <ruby> over the kanji of every HTML answer while it is on.

Pages, htmx fragments and the live board's fragments (notes, polls, captions) are all HTML answers,
so everything a reader sees gets its readings in the same answer, with no change to the templates or
to the socket events. Readings come from `readings` (cached); the organizations' dictionaries of local
names are read from the database at most every NAMES_TTL seconds.
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

# whether the current request reads with ふりがな (for templates: the switch, the easy summary)
current_ruby: ContextVar[bool] = ContextVar("current_ruby", default=False)


class NameBooks:
    """The dictionaries of local names in force, reloaded when the database says they changed."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.book: NameBook = BUILT_IN
        self.version: tuple[int, int, str] = (0, 0, "")
        self.checked = 0.0

    async def current(self) -> NameBook:
        """Every organization's names (the first entry of a name wins), at most NAMES_TTL seconds old."""
        if time.monotonic() - self.checked < NAMES_TTL:
            return self.book
        self.checked = time.monotonic()
        version = await store.names_version(self.db)
        if version != self.version:
            entries = await store.names(self.db)
            seen: dict[str, str] = {}
            for entry in entries:
                seen.setdefault(entry.surface, entry.reading)
            self.book = name_book(seen.items())
            self.version = version
        return self.book

    def expire(self) -> None:
        """Read the names again on the next request (this process changed them)."""
        self.checked = 0.0


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
                book = await self.books.current()
                body = annotate_html(body.decode("utf-8", "replace"), book).encode("utf-8")
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
