"""The test harness: what test files share to set up the world they check.

- accounts, venues and sessions in a database, and a seeded workshop (a session with childcare, a support
  offer and an organizer's API token) written to a file before a server opens it;
- free ports, and real processes: `python -m server.cli serve` (uvicorn) started and waited for, stopped with
  any signal and started again; redis-server;
- a new database for a test's server on the engine of the run (`fresh_database`: a SQLite file, or with
  TAIWA_TEST_ENGINES=postgres a database of the run's throwaway PostgreSQL cluster), and a reader for it;
- Debian Chromium through Playwright, and pages with axe-core injected;
- HTML helpers for the in-process test client (CSRF tokens, signing in, posting forms).

tests/conftest.py holds the fixtures and re-exports every name it exported before this module existed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.request import urlopen
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup

from server.auth import accounts
from server.core.database import is_postgres
from server.core.database import open_database as engine_for
from sessions import scheduling, store
from sessions.models import AccommodationOffer, ChildcareOffer, SessionInput, VenueInput

if TYPE_CHECKING:
    from litestar.testing import AsyncTestClient
    from playwright.async_api import Browser, BrowserContext, Page

T = TypeVar("T")

PASSWORD = "correct-horse-battery"
ROOT = Path(__file__).resolve().parent.parent
TOKYO = ZoneInfo("Asia/Tokyo")

# The engine the run's databases use: `make test` runs the suite on SQLite, then every test that touches
# the database again with TAIWA_TEST_ENGINES=postgres (tests/conftest.py selects them).
ENGINE = os.environ.get("TAIWA_TEST_ENGINES", "sqlite").strip() or "sqlite"
_CLUSTERS: list[Any] = []


def shared_cluster() -> Any:
    """The run's throwaway PostgreSQL cluster with a migrated template database, started on first use
    (tests/conftest.py removes it when the run ends)."""
    if not _CLUSTERS:
        from tests.pg_cluster import Cluster, migrated_template

        cluster = Cluster()
        try:
            cluster.template = migrated_template(cluster)
        except BaseException:
            cluster.remove()
            raise
        _CLUSTERS.append(cluster)
    return _CLUSTERS[0]


def remove_shared_cluster() -> None:
    while _CLUSTERS:
        _CLUSTERS.pop().remove()


def fresh_database(folder: Path, name: str = "taiwa.sqlite3") -> Path | str:
    """A new database for a test's server, on the run's engine: a file in `folder` (created by the app),
    or a new migrated PostgreSQL database (its URL). Modules using it say `pytestmark = pytest.mark.database`."""
    if ENGINE == "postgres":
        cluster = shared_cluster()
        return str(cluster.create_database(cluster.template))
    return folder / name


# ---------------------------------------------------------------- accounts, venues and sessions

async def make_account(db: Any, email: str, role: str = "organizer", org: str = "kanazawa") -> accounts.Account:
    """An account in an organization (created if new)."""
    async with db.transaction() as conn:
        existing = await store.get_org_by_slug(db, org)
        org_id = existing.id if existing else await store.create_org(conn, slug=org, name=f"{org} 市民協働課",
                                                                     name_en=f"{org} Civic Collaboration")
        await accounts.create_account(conn, org_id=org_id, email=email, password=PASSWORD, role=role)
    account = await accounts.get_account_by_email(db, email)
    assert account is not None
    return account


async def make_venue(db: Any, org_id: int, name: str = "市民交流センター", **values: Any) -> int:
    return await scheduling.create_venue(db, org_id, VenueInput(name=name, **values))


def next_saturday(weeks: int = 1, hour: int = 10) -> datetime:
    """A Saturday some weeks ahead, at a local hour (naive wall time in Tokyo)."""
    today = datetime.now(TOKYO).replace(tzinfo=None, hour=hour, minute=0, second=0, microsecond=0)
    return today + timedelta(days=(5 - today.weekday()) % 7 + 7 * weeks)


async def make_session(db: Any, org_id: int, venue_id: int | None = None, **values: Any) -> int:
    """A published in-person session two hours long, unless values say otherwise."""
    start = values.pop("starts_at", next_saturday())
    data: dict[str, Any] = dict(title="対話の場", kind="dialogue", format="in_person", starts_at=start,
                                ends_at=start + timedelta(hours=2), venue_id=venue_id, capacity_in_person=30,
                                status="published")
    data.update(values)
    ids = await scheduling.create_sessions(db, org_id, SessionInput(**data))
    return ids[0]


# ---------------------------------------------------------------- a database file, seeded before a server opens it

@asynccontextmanager
async def open_database(db_path: Path | str) -> AsyncIterator[Any]:
    """The app's Database on a file or a PostgreSQL URL (migrated), closed after."""
    db = engine_for(db_path)
    await db.open()
    try:
        yield db
    finally:
        await db.close()


def in_own_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end on an event loop of its own, in a thread (away from the test's loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


@dataclass(frozen=True)
class Workshop:
    """What exists in the database before the server starts: a session and an organizer's API token."""

    db_path: Path | str
    session_id: int
    api_token: str


async def seed_workshop(db_path: Path | str, *, title: str = "まちづくりワークショップ", weeks: int = 6,
                        childcare_places: int = 5, token_label: str = "board socket tests",
                        **session: Any) -> Workshop:
    """A facilitator of "kanazawa" with a venue, a published workshop some Saturdays ahead offering childcare
    and sign language on request (more session values as given), and the facilitator's API token."""
    async with open_database(db_path) as db:
        account = await make_account(db, "facilitator@kanazawa.example")
        venue = await make_venue(db, account.org_id)
        session_id = await make_session(
            db, account.org_id, venue, title=title, kind="workshop", starts_at=next_saturday(weeks=weeks),
            childcare=ChildcareOffer(places=childcare_places, min_age_months=6),
            accommodations=[AccommodationOffer(code="sign_language", mode="on_request")], **session)
        async with db.transaction() as conn:
            token = await accounts.create_api_token(conn, account.id, token_label)
    return Workshop(db_path=db_path, session_id=session_id, api_token=token)


def prepare_workshop(db_path: Path | str, **options: Any) -> Workshop:
    """Seed a fresh database file with a workshop (see seed_workshop), away from the test's event loop."""
    return in_own_loop(seed_workshop(db_path, **options))


def read_db(db_path: Path | str, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    """Read a server's SQLite file directly (WAL: a reader never blocks the server), or its PostgreSQL database."""
    if is_postgres(db_path):
        async def read() -> list[Any]:
            async with open_database(db_path) as db:
                return await db.fetch_all(sql, params)
        return in_own_loop(read())
    conn = sqlite3.connect(db_path, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# ---------------------------------------------------------------- ports and server processes

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def not_a_deployment_choice(name: str) -> bool:
    """Environment a test server inherits: all but the database, Redis and SMTP a developer may have set."""
    return name not in ("TAIWA_DB", "TAIWA_REDIS_URL", "TAIWA_SMTP_URL")


def not_taiwa(name: str) -> bool:
    """Environment a test server inherits: nothing of Taiwa's own."""
    return not name.startswith("TAIWA_")


def everything(name: str) -> bool:
    """Environment a test server inherits: all of it."""
    return True


class ServerProcess:
    """`python -m server.cli serve` (uvicorn) as a real process on a free port, on a database file, writing its
    output to a log file (a file, not a pipe: a full pipe would stall the server). `start()` waits until it
    answers; it can be stopped with any signal and started again on the same port and file."""

    def __init__(self, db_path: Path | str, log_path: Path, *, secret: str, env: Mapping[str, str] | None = None,
                 args: Sequence[str] = (), ready: str = "/", inherit: Callable[[str], bool] = not_a_deployment_choice,
                 stderr_path: Path | None = None, port: int | None = None, process_group: bool = False) -> None:
        self.db_path, self.log_path, self.stderr_path = db_path, log_path, stderr_path
        self.secret, self.extra_env, self.args, self.ready = secret, dict(env or {}), tuple(args), ready
        self.inherit, self.process_group = inherit, process_group
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if self.inherit(key)}
        env.update(TAIWA_BASE_URL=self.base, TAIWA_SECRET=self.secret, **self.extra_env)
        return env

    def start(self) -> ServerProcess:
        command = [sys.executable, "-m", "server.cli", "serve", "--db", str(self.db_path), "--port", str(self.port),
                   *self.args]
        with self.log_path.open("ab") as out:
            err = self.stderr_path.open("ab") if self.stderr_path else None
            try:
                self.process = subprocess.Popen(command, cwd=ROOT, env=self.environment(), stdout=out,
                                                stderr=err or subprocess.STDOUT, start_new_session=self.process_group)
            finally:
                if err is not None:
                    err.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                with urlopen(self.base + self.ready, timeout=2):
                    return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop(signal.SIGKILL)
                    pytest.fail(f"the server did not start:\n{self.log()[-5000:]}")
                time.sleep(0.1)

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        """Send the signal (to the whole process group when it has one) and wait for the end."""
        if self.process is None:
            return
        if self.process.poll() is None:
            if self.process_group:
                os.killpg(self.process.pid, how)
            else:
                self.process.send_signal(how)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                if self.process_group:
                    os.killpg(self.process.pid, signal.SIGKILL)
                else:
                    self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        """What the server wrote so far (its stderr after its stdout when they go to separate files)."""
        paths = [self.log_path] + ([self.stderr_path] if self.stderr_path else [])
        return "".join(path.read_text(errors="replace") for path in paths if path.exists())

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class TaiwaServer(ServerProcess):
    """The server of a seeded workshop, rate limits on (as deployed) unless told otherwise."""

    def __init__(self, workshop: Workshop, log_path: Path, *, rate_limits: bool = True,
                 env: dict[str, str] | None = None) -> None:
        super().__init__(workshop.db_path, log_path, secret="board-socket-test-secret-0123456789",
                         env={"TAIWA_RATE_LIMITS": "on" if rate_limits else "off", **(env or {})})
        self.workshop = workshop
        self.rate_limits = rate_limits


@contextmanager
def running_demo_server(db: Path) -> Iterator[str]:
    """`taiwa serve --demo` as a real process on a free port; yields its base URL."""
    with ServerProcess(db, db.with_suffix(".log"), secret="demo-server-test-secret-0123456789", args=["--demo"],
                       inherit=everything) as server:
        yield server.base


REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


@contextmanager
def running_redis(folder: Path) -> Iterator[str]:
    """A real redis-server on a free port, with nothing written to disk; yields its URL."""
    port = free_port()
    process = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("redis-server did not start")
        time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


# ---------------------------------------------------------------- Debian Chromium and axe-core

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright; closed after."""
    from playwright.async_api import async_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: `make test` installs it (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        await launched.close()


async def new_context(browser: Browser, **options: object) -> BrowserContext:
    """A separate person: own cookies and storage, with axe-core injected by the DevTools protocol
    (so the page's CSP, no inline script, still holds)."""
    # a Japanese resident's browser unless a test says otherwise (pages follow Accept-Language)
    context = await browser.new_context(**{"locale": "ja-JP", **options})  # type: ignore[arg-type]
    await context.add_init_script(path=str(AXE))
    return context


async def new_page(browser: Browser, **options: object) -> Page:
    return await (await new_context(browser, **options)).new_page()


async def signed_in_page(browser: Browser, base: str, email: str, password: str = PASSWORD,
                         **options: object) -> Page:
    """A new page signed in through the sign-in form (by keyboard: Enter submits), on the organizer's home."""
    from playwright.async_api import expect

    page = await new_page(browser, **options)
    await page.goto(base + "/organize/login")
    await page.locator("#f-email").fill(email)
    await page.locator("#f-password").fill(password)
    await page.locator("#f-password").press("Enter")
    await expect(page).to_have_url(base + "/organize")
    return page


async def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.x A/AA violations on the current page, one readable line each."""
    results = await page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
    return [f"{v['id']}: {v['help']} -> {[n['target'] for n in v['nodes']][:3]}" for v in results["violations"]]


# ---------------------------------------------------------------- pages of the in-process test client

def html(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def csrf_from(response: Any) -> str:
    field = html(response).find("input", attrs={"name": "_csrf_token"})
    assert field is not None, "the page has no CSRF field"
    return str(field["value"])


async def login(client: AsyncTestClient, email: str, password: str = PASSWORD) -> Any:
    page = await client.get("/organize/login")
    return await client.post("/organize/login", data={"_csrf_token": csrf_from(page), "email": email,
                                                      "password": password})


async def post_form(client: AsyncTestClient, form_page: str, action: str | None, data: dict[str, Any]) -> Any:
    """Open a form page (for its CSRF token), then submit data to the action (default: the same path)."""
    page = await client.get(form_page)
    assert page.status_code == 200, page.text
    return await client.post(action or form_page, data={"_csrf_token": csrf_from(page), **data})


def field_errors(response: Any) -> list[str]:
    """The messages shown next to fields."""
    return [re.sub(r"\s+", " ", p.get_text(" ", strip=True)) for p in html(response).select(".field-error")]
