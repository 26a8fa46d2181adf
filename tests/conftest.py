"""Shared fixtures: a fresh app on a temporary SQLite file, Chromium, and a `taiwa serve --demo` process.

The helpers live in tests/harness.py; the names this module always exported (read_db, free_port,
running_demo_server, make_account, make_session, login, post_form, html, csrf_from, ...) are re-exported
from there, so `from tests.conftest import ...` keeps working."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

# Helper modules of the suite get pytest's assertion messages, as the test modules they came from did.
pytest.register_assert_rewrite("tests.harness", "tests.board_model", "tests.board_http", "tests.socket_clients",
                               "tests.poll_helpers", "tests.registration_helpers", "tests.calendar_helpers")

from litestar.testing import AsyncTestClient  # noqa: E402

from server.app import create_app  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.harness import ENGINE, fresh_database, remove_shared_cluster, shared_cluster  # noqa: E402
from tests.harness import (  # noqa: E402,F401 - re-exported for `from tests.conftest import ...`
    PASSWORD, ROOT, TOKYO, chromium, csrf_from, field_errors, free_port, html, login, make_account, make_session,
    make_venue, next_saturday, post_form, read_db, running_demo_server,
)

__all__ = ["PASSWORD", "ROOT", "TOKYO", "csrf_from", "field_errors", "free_port", "html", "login", "make_account",
           "make_session", "make_venue", "next_saturday", "post_form", "read_db", "running_demo_server"]


# TAIWA_TEST_ENGINES=postgres runs every test that touches the database on PostgreSQL (a throwaway
# cluster, tests/pg_cluster.py): those using the `db_target` fixture (the in-process app) and those in
# modules marked `database` (servers started on `fresh_database`). Browser tests stay on SQLite, as do
# tests marked `sqlite_only` (what only SQLite has: its file, its lock, its backup); `make test` runs
# the suite on SQLite, then this selection on PostgreSQL.
if ENGINE not in ("sqlite", "postgres"):
    raise pytest.UsageError(f"TAIWA_TEST_ENGINES={ENGINE!r}: use sqlite or postgres (one engine per run)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "database: the module's servers use fresh_database (run on both engines)")
    config.addinivalue_line("markers", "sqlite_only: checks what only the SQLite engine has")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ENGINE != "postgres":
        return
    def on_postgres(item: pytest.Item) -> bool:
        if item.get_closest_marker("browser") or item.get_closest_marker("sqlite_only"):
            return False
        return "db_target" in getattr(item, "fixturenames", ()) or item.get_closest_marker("database") is not None
    kept = [item for item in items if on_postgres(item)]
    config.hook.pytest_deselected(items=[item for item in items if not on_postgres(item)])
    items[:] = kept


def pytest_sessionfinish(session: pytest.Session) -> None:
    remove_shared_cluster()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """The run's PostgreSQL cluster, with a migrated template database (removed when the run ends)."""
    yield shared_cluster()


@pytest.fixture
def db_target(tmp_path: Path) -> Path | str:
    """Where a test's database lives: a SQLite file, or (TAIWA_TEST_ENGINES=postgres) a new PostgreSQL database."""
    return fresh_database(tmp_path)


@pytest.fixture
def settings(db_target: Path | str) -> Settings:
    return Settings(db_path=db_target, secret="test-secret-" + "x" * 20,
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


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`taiwa serve --demo` as a real process on a free port, one per test module: its base URL and database file."""
    db = tmp_path_factory.mktemp("demo-server") / "taiwa.sqlite3"
    with running_demo_server(db) as base:
        yield base, db


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian Chromium (headless, through Playwright) for one test."""
    async with chromium() as launched:
        yield launched
