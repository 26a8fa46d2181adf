"""The `taiwa` command: create-user, create-token, backup and serve's options, run as a real process."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from server.auth import accounts
from server.app import create_app
from server.core.database import Database
from server.settings import Settings
from tests.harness import PASSWORD, ROOT, make_account, make_session, make_venue, next_saturday, open_database, read_db


def taiwa(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `taiwa ARGS` (as `python -m server.cli`) without any TAIWA_* setting from the outer environment."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TAIWA_")}
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def create_user(db_path: Path, email: str, password: str = PASSWORD, role: str = "organizer",
                org: str = "kanazawa-city") -> subprocess.CompletedProcess[str]:
    return taiwa("create-user", "--email", email, "--password", password, "--role", role, "--org", org,
                 "--db", str(db_path))


async def with_database(db_path: Path, work: Any) -> Any:
    """Open the SQLite file as the app does, run `work(db)`, close it."""
    async with open_database(db_path) as db:
        return await work(db)


def count_accounts(db_path: Path) -> int:
    return read_db(db_path, "select count(*) from accounts")[0][0]


# ---------------------------------------------------------------- create-user

def test_create_user_creates_the_organization_and_the_account_can_sign_in(tmp_path):
    db_path = tmp_path / "taiwa.sqlite3"

    result = create_user(db_path, "kyodo@city.kanazawa.example", org="kanazawa-city")

    assert result.returncode == 0, result.stderr

    async def check(db: Database) -> Any:
        return (await accounts.check_password(db, "kyodo@city.kanazawa.example", PASSWORD),
                await accounts.check_password(db, "kyodo@city.kanazawa.example", "wrong-password-here"))

    account, wrong = asyncio.run(with_database(db_path, check))
    assert account is not None and wrong is None
    assert (account.org_slug, account.role) == ("kanazawa-city", "organizer")


def test_create_user_joins_an_existing_organization(tmp_path):
    db_path = tmp_path / "taiwa.sqlite3"
    assert create_user(db_path, "first@city.kanazawa.example").returncode == 0
    assert create_user(db_path, "second@city.kanazawa.example", role="facilitator").returncode == 0

    async def orgs(db: Database) -> set[int]:
        return {a.org_id for a in await accounts.list_accounts(db)}

    assert len(asyncio.run(with_database(db_path, orgs))) == 1


def test_creating_the_same_email_twice_fails_with_a_message(tmp_path):
    db_path = tmp_path / "taiwa.sqlite3"
    assert create_user(db_path, "kyodo@city.kanazawa.example").returncode == 0

    again = create_user(db_path, "kyodo@city.kanazawa.example", password="another-long-password")

    assert again.returncode != 0
    assert "kyodo@city.kanazawa.example" in again.stderr and "Traceback" not in again.stderr
    assert count_accounts(db_path) == 1


def test_a_short_password_is_refused_and_no_account_is_made(tmp_path):
    db_path = tmp_path / "taiwa.sqlite3"
    assert create_user(db_path, "first@city.kanazawa.example").returncode == 0

    result = create_user(db_path, "kyodo@city.kanazawa.example", password="short")

    assert result.returncode != 0
    assert "password" in result.stderr.lower() and "Traceback" not in result.stderr
    assert count_accounts(db_path) == 1


# ---------------------------------------------------------------- create-token

async def test_create_token_prints_a_token_that_creates_sessions_through_the_api(tmp_path):
    db_path = tmp_path / "taiwa.sqlite3"
    assert (await asyncio.to_thread(create_user, db_path, "kyodo@city.kanazawa.example")).returncode == 0

    result = await asyncio.to_thread(taiwa, "create-token", "--email", "kyodo@city.kanazawa.example",
                                     "--db", str(db_path))

    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token and len(token.split()) == 1
    app = create_app(Settings(db_path=db_path, secret="cli-test-secret-" + "x" * 20,
                              base_url="http://testserver.local"))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        venue = await client.post("/api/venues", json={"name": "金沢市民芸術村"},
                                  headers={"Authorization": f"Bearer {token}"})
        assert venue.status_code == 201, venue.text
        start = next_saturday(weeks=2)
        body = {"title": "市民対話の場", "venue_id": venue.json()["id"], "capacity_in_person": 20,
                "starts_at": start.isoformat() + "+09:00",
                "ends_at": (start + timedelta(hours=2)).isoformat() + "+09:00"}
        response = await client.post("/api/sessions", json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 201, response.text
        assert response.json()["org"] == "kanazawa-city"
        forged = await client.post("/api/sessions", json=body, headers={"Authorization": "Bearer tw_forged"})
        assert forged.status_code == 401


def test_create_token_for_an_unknown_email_fails(tmp_path):
    db_path = tmp_path / "taiwa.sqlite3"
    assert create_user(db_path, "kyodo@city.kanazawa.example").returncode == 0

    result = taiwa("create-token", "--email", "nobody@city.kanazawa.example", "--db", str(db_path))

    assert result.returncode != 0
    assert result.stdout.strip() == ""
    assert "nobody@city.kanazawa.example" in result.stderr and "Traceback" not in result.stderr


# ---------------------------------------------------------------- backup

async def seed_sessions(db: Database, count: int) -> None:
    account = await make_account(db, "staff@kanazawa.example")
    venue = await make_venue(db, account.org_id)
    for week in range(1, count + 1):
        await make_session(db, account.org_id, venue, title=f"第{week}回 対話の場", starts_at=next_saturday(weeks=week))


async def test_backup_while_the_app_has_the_database_open_is_a_complete_copy(tmp_path):
    db_path, copy = tmp_path / "taiwa.sqlite3", tmp_path / "backups" / "taiwa-copy.sqlite3"
    copy.parent.mkdir()
    db = Database(db_path)
    await db.open()
    try:
        await seed_sessions(db, 5)  # still in the WAL: the app has not closed the file
        result = await asyncio.to_thread(taiwa, "backup", str(copy), "--db", str(db_path))
    finally:
        await db.close()

    assert result.returncode == 0, result.stderr
    with sqlite3.connect(copy) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        titles = [row[0] for row in conn.execute("select title from sessions order by starts_at")]
    assert titles == [f"第{week}回 対話の場" for week in range(1, 6)]


def test_backup_refuses_to_overwrite_an_existing_file(tmp_path):
    db_path, existing = tmp_path / "taiwa.sqlite3", tmp_path / "precious.sqlite3"
    asyncio.run(with_database(db_path, lambda db: seed_sessions(db, 2)))
    existing.write_bytes(b"an earlier backup that must survive")

    result = taiwa("backup", str(existing), "--db", str(db_path))

    assert result.returncode != 0
    assert str(existing) in result.stderr or "exists" in result.stderr
    assert existing.read_bytes() == b"an earlier backup that must survive"


# ---------------------------------------------------------------- serve

def test_serve_help_lists_its_options():
    result = taiwa("serve", "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--host", "--port", "--db", "--demo"):
        assert option in result.stdout
