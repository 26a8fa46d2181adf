"""SQL of accounts, login sessions and API tokens: tokens arrive as digests, passwords as argon2 hashes."""

from __future__ import annotations

import sqlite3
from typing import Any

from sessions.store import Reader

_ACCOUNT_SELECT = (
    "select a.*, o.slug as org_slug, o.name as org_name from accounts a join organizations o on o.id = a.org_id "
)


async def account_by_id(db: Reader, account_id: int) -> sqlite3.Row | None:
    return await db.fetch_one(_ACCOUNT_SELECT + "where a.id = ?", (account_id,))


async def account_by_email(db: Reader, email: str) -> sqlite3.Row | None:
    """The account with this email, with its password hash and whether it is active."""
    return await db.fetch_one(_ACCOUNT_SELECT + "where a.email = ?", (email,))


async def accounts_of(db: Reader, org_id: int | None) -> list[sqlite3.Row]:
    """Accounts of one organization by email, or of all (org_id None) by organization and email."""
    if org_id is None:
        return await db.fetch_all(_ACCOUNT_SELECT + "order by o.name, a.email")
    return await db.fetch_all(_ACCOUNT_SELECT + "where a.org_id = ? order by a.email", (org_id,))


async def insert_account(conn: Any, *, org_id: int, email: str, display_name: str, password_hash: str,
                         role: str) -> int:
    cursor = await conn.execute(
        "insert into accounts (org_id, email, display_name, password_hash, role) values (?, ?, ?, ?, ?)",
        (org_id, email, display_name, password_hash, role),
    )
    return int(cursor.lastrowid)


async def update_account(conn: Any, account_id: int, *, role: str, active: bool, display_name: str,
                         password_hash: str | None) -> None:
    """Change an account; a new password or deactivation ends its logins and its API tokens."""
    await conn.execute("update accounts set role = ?, active = ?, display_name = ? where id = ?",
                       (role, int(active), display_name, account_id))
    if password_hash:
        await conn.execute("update accounts set password_hash = ? where id = ?", (password_hash, account_id))
    if not active or password_hash:
        await conn.execute("delete from login_sessions where account_id = ?", (account_id,))
        await conn.execute("delete from api_tokens where account_id = ?", (account_id,))


async def insert_login(conn: Any, token_hash: str, account_id: int, created_at: str, expires_at: str) -> None:
    """A new login session; the ones that expired before it began are deleted on the way."""
    await conn.execute(
        "insert into login_sessions (token_hash, account_id, created_at, expires_at) values (?, ?, ?, ?)",
        (token_hash, account_id, created_at, expires_at),
    )
    await conn.execute("delete from login_sessions where expires_at < ?", (created_at,))


async def delete_login(conn: Any, token_hash: str) -> None:
    await conn.execute("delete from login_sessions where token_hash = ?", (token_hash,))


async def account_by_login(db: Reader, token_hash: str, now: str) -> sqlite3.Row | None:
    """The active account behind a login session that has not expired by `now`."""
    return await db.fetch_one(
        _ACCOUNT_SELECT + "join login_sessions l on l.account_id = a.id "
        "where l.token_hash = ? and l.expires_at > ? and a.active = 1",
        (token_hash, now),
    )


async def insert_api_token(conn: Any, token_hash: str, account_id: int, label: str) -> None:
    await conn.execute("insert into api_tokens (token_hash, account_id, label) values (?, ?, ?)",
                       (token_hash, account_id, label))


async def account_by_api_token(db: Reader, token_hash: str) -> sqlite3.Row | None:
    """The active account an API token belongs to."""
    return await db.fetch_one(
        _ACCOUNT_SELECT + "join api_tokens t on t.account_id = a.id where t.token_hash = ? and a.active = 1",
        (token_hash,),
    )
