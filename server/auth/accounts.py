"""Accounts, login sessions and API tokens (SQL and argon2 in one place)."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from sessions.store import Reader, now_utc, to_db

ROLES = ("organizer", "facilitator", "admin")
LOGIN_LIFETIME = timedelta(days=14)
_hasher = PasswordHasher()
# verified against when the email is unknown, so both cases take the same time
_DUMMY_HASH = _hasher.hash("taiwa-dummy-password")


@dataclass(frozen=True)
class Account:
    id: int
    org_id: int
    org_slug: str
    org_name: str
    email: str
    display_name: str
    role: str
    active: bool

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can_manage(self, org_id: int) -> bool:
        """Organizers manage their own organization's sessions and venues; admins manage all."""
        return self.is_admin or (self.role == "organizer" and self.org_id == org_id)

    def can_see_drafts_of(self, org_id: int) -> bool:
        return self.is_admin or self.org_id == org_id


def token_hash(token: str) -> str:
    """Tokens are stored only as SHA-256 digests; a leaked table does not let anyone in."""
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


_ACCOUNT_SELECT = (
    "select a.*, o.slug as org_slug, o.name as org_name from accounts a join organizations o on o.id = a.org_id "
)


def _account(row: sqlite3.Row) -> Account:
    return Account(id=row["id"], org_id=row["org_id"], org_slug=row["org_slug"], org_name=row["org_name"],
                   email=row["email"], display_name=row["display_name"], role=row["role"],
                   active=bool(row["active"]))


async def get_account(db: Reader, account_id: int) -> Account | None:
    row = await db.fetch_one(_ACCOUNT_SELECT + "where a.id = ?", (account_id,))
    return _account(row) if row else None


async def get_account_by_email(db: Reader, email: str) -> Account | None:
    row = await db.fetch_one(_ACCOUNT_SELECT + "where a.email = ?", (email.strip(),))
    return _account(row) if row else None


async def list_accounts(db: Reader, org_id: int | None = None) -> list[Account]:
    """Accounts of one organization, or of all when org_id is None."""
    if org_id is None:
        rows = await db.fetch_all(_ACCOUNT_SELECT + "order by o.name, a.email")
    else:
        rows = await db.fetch_all(_ACCOUNT_SELECT + "where a.org_id = ? order by a.email", (org_id,))
    return [_account(row) for row in rows]


async def create_account(conn: Any, *, org_id: int, email: str, password: str, role: str,
                         display_name: str = "") -> int:
    """Insert an account (the caller validated the role and the email); return its id."""
    cursor = await conn.execute(
        "insert into accounts (org_id, email, display_name, password_hash, role) values (?, ?, ?, ?, ?)",
        (org_id, email.strip(), display_name.strip(), hash_password(password), role),
    )
    return int(cursor.lastrowid)


async def update_account(conn: Any, account_id: int, *, role: str, active: bool, display_name: str,
                         password: str | None = None) -> None:
    """Change an account's role, name or password; deactivating it ends its logins and tokens."""
    await conn.execute("update accounts set role = ?, active = ?, display_name = ? where id = ?",
                       (role, int(active), display_name.strip(), account_id))
    if password:
        await conn.execute("update accounts set password_hash = ? where id = ?", (hash_password(password), account_id))
    if not active or password:
        await conn.execute("delete from login_sessions where account_id = ?", (account_id,))
    if not active:
        await conn.execute("delete from api_tokens where account_id = ?", (account_id,))


async def check_password(db: Reader, email: str, password: str) -> Account | None:
    """The active account with this email and password, or None (in constant-ish time)."""
    row = await db.fetch_one(_ACCOUNT_SELECT + "where a.email = ?", (email.strip(),))
    try:
        _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or not row["active"]:
        return None
    return _account(row)


async def start_login(conn: Any, account_id: int) -> str:
    """A new login session for the account; returns the cookie value (shown nowhere else)."""
    token = secrets.token_urlsafe(32)
    now = now_utc()
    await conn.execute(
        "insert into login_sessions (token_hash, account_id, created_at, expires_at) values (?, ?, ?, ?)",
        (token_hash(token), account_id, to_db(now), to_db(now + LOGIN_LIFETIME)),
    )
    await conn.execute("delete from login_sessions where expires_at < ?", (to_db(now),))
    return token


async def end_login(conn: Any, token: str) -> None:
    await conn.execute("delete from login_sessions where token_hash = ?", (token_hash(token),))


async def account_for_login(db: Reader, token: str) -> Account | None:
    """The active account behind a login cookie that has not expired."""
    row = await db.fetch_one(
        _ACCOUNT_SELECT + "join login_sessions l on l.account_id = a.id "
        "where l.token_hash = ? and l.expires_at > ? and a.active = 1",
        (token_hash(token), to_db(now_utc())),
    )
    return _account(row) if row else None


async def create_api_token(conn: Any, account_id: int, label: str = "") -> str:
    """A new bearer token for the JSON API; returns it once (only its digest is kept)."""
    token = "tw_" + secrets.token_urlsafe(32)
    await conn.execute("insert into api_tokens (token_hash, account_id, label) values (?, ?, ?)",
                       (token_hash(token), account_id, label))
    return token


async def account_for_api_token(db: Reader, token: str) -> Account | None:
    row = await db.fetch_one(
        _ACCOUNT_SELECT + "join api_tokens t on t.account_id = a.id where t.token_hash = ? and a.active = 1",
        (token_hash(token),),
    )
    return _account(row) if row else None
