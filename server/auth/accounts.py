"""Accounts, login sessions and API tokens: passwords checked with argon2, tokens made and kept as digests.

The SQL is in server/auth/store.py.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.auth import store
from sessions.store import Reader
from sessions.timestamps import now_utc, to_db
from sessions.tokens import token_hash

ROLES = ("organizer", "facilitator", "admin")
LOGIN_LIFETIME = timedelta(days=14)
_hasher = PasswordHasher()
# verified against when the email is unknown, so both cases take the same time
_DUMMY_HASH = _hasher.hash("taiwa-dummy-password")
# An argon2 check holds a core for about 0.1 s: on the event loop it would hold up every page.
# Checks run in threads of their own, at most two at once (each also takes 64 MiB), on any loop.
_CHECKS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")


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


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _account(row: sqlite3.Row) -> Account:
    return Account(id=row["id"], org_id=row["org_id"], org_slug=row["org_slug"], org_name=row["org_name"],
                   email=row["email"], display_name=row["display_name"], role=row["role"],
                   active=bool(row["active"]))


async def get_account(db: Reader, account_id: int) -> Account | None:
    row = await store.account_by_id(db, account_id)
    return _account(row) if row else None


async def get_account_by_email(db: Reader, email: str) -> Account | None:
    row = await store.account_by_email(db, email.strip())
    return _account(row) if row else None


async def list_accounts(db: Reader, org_id: int | None = None) -> list[Account]:
    """Accounts of one organization, or of all when org_id is None."""
    return [_account(row) for row in await store.accounts_of(db, org_id)]


async def create_account(conn: Any, *, org_id: int, email: str, password: str, role: str,
                         display_name: str = "") -> int:
    """Insert an account (the caller validated the role and the email); return its id."""
    return await store.insert_account(conn, org_id=org_id, email=email.strip(), display_name=display_name.strip(),
                                      password_hash=hash_password(password), role=role)


async def update_account(conn: Any, account_id: int, *, role: str, active: bool, display_name: str,
                         password: str | None = None) -> None:
    """Change an account's role, name or password; a new password or deactivation ends its logins and
    API tokens."""
    await store.update_account(conn, account_id, role=role, active=active, display_name=display_name.strip(),
                               password_hash=hash_password(password) if password else None)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def check_password(db: Reader, email: str, password: str) -> Account | None:
    """The active account with this email and password, or None (in constant-ish time, off the event loop)."""
    row = await store.account_by_email(db, email.strip())
    password_hash = row["password_hash"] if row else _DUMMY_HASH
    if not await asyncio.get_running_loop().run_in_executor(_CHECKS, _matches, password_hash, password):
        return None
    if row is None or not row["active"]:
        return None
    return _account(row)


async def start_login(conn: Any, account_id: int) -> str:
    """A new login session for the account; returns the cookie value (shown nowhere else)."""
    token = secrets.token_urlsafe(32)
    now = now_utc()
    await store.insert_login(conn, token_hash(token), account_id, to_db(now), to_db(now + LOGIN_LIFETIME))
    return token


async def end_login(conn: Any, token: str) -> None:
    await store.delete_login(conn, token_hash(token))


async def account_for_login(db: Reader, token: str) -> Account | None:
    """The active account behind a login cookie that has not expired."""
    row = await store.account_by_login(db, token_hash(token), to_db(now_utc()))
    return _account(row) if row else None


async def create_api_token(conn: Any, account_id: int, label: str = "") -> str:
    """A new bearer token for the JSON API; returns it once (only its digest is kept)."""
    token = "tw_" + secrets.token_urlsafe(32)
    await store.insert_api_token(conn, token_hash(token), account_id, label)
    return token


async def account_for_api_token(db: Reader, token: str) -> Account | None:
    row = await store.account_by_api_token(db, token_hash(token))
    return _account(row) if row else None
