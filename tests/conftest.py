"""Shared fixtures: a fresh app on a temporary SQLite file, accounts, and HTML helpers."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.request import urlopen
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup
from litestar.testing import AsyncTestClient

from server.auth import accounts
from server.app import create_app
from server.settings import Settings
from sessions import scheduling, store
from sessions.models import SessionInput, VenueInput

PASSWORD = "correct-horse-battery"
ROOT = Path(__file__).resolve().parent.parent


def read_db(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    """Read a server's SQLite file directly (WAL: a reader never blocks the server)."""
    conn = sqlite3.connect(db_path, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_demo_server(db: Path) -> Iterator[str]:
    """`taiwa serve --demo` as a real process on a free port; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TAIWA_BASE_URL": base, "TAIWA_SECRET": "demo-server-test-secret-0123456789"}
    process = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--demo", "--db", str(db),
                                "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urlopen(base + "/", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                process.kill()
                pytest.fail(f"the server did not start:\n{output}")
            time.sleep(0.2)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db_path=tmp_path / "taiwa.sqlite3", secret="test-secret-" + "x" * 20,
                    base_url="http://testserver.local")


@pytest.fixture
def app(settings: Settings) -> Any:
    return create_app(settings)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as test_client:
        yield test_client


@pytest.fixture
def db(app: Any, client: AsyncTestClient) -> Any:
    """The app's open database (the client fixture has run its lifespan)."""
    return app.litestar.state.db


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
