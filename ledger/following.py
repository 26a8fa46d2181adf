"""Following a theme by mail: double opt-in and one-click unsubscribe.

A request keeps the address unconfirmed and mails a link; only that link (a token derived from the
server secret and a stored salt, looked up by its hash) confirms it. The answer to a request is the
same whether the address was new, waiting or following already, so nobody learns who follows. A
waiting address is mailed again at most once per RESEND_AFTER, so nobody can flood someone's inbox.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from ledger import store
from ledger.models import Theme
from sessions.catalog import N_
from sessions.registration import EMAIL
from sessions.timestamps import from_db, now_utc
from sessions.validation import FieldError, InvalidInput

RESEND_AFTER = timedelta(hours=1)
KEEP_UNCONFIRMED = timedelta(days=7)  # an address nobody confirmed is forgotten after this
Ask = Callable[[Any, Any, Theme], Awaitable[None]]  # (conn, follower row, theme): queue the confirmation mail


def follower_token(secret: str, salt: str) -> str:
    """The follower's link token: HMAC of the stored salt with the server secret (256 bits)."""
    digest = hmac.new(secret.encode(), f"follow:{salt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def checked_email(email: str) -> str:
    email = email.strip()
    if len(email) > 254 or not EMAIL.match(email):
        raise InvalidInput([FieldError("email", N_("Enter an email address like name@example.jp."))])
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


async def request_follow(db: Any, theme: Theme, email: str, *, locale: str, secret: str, ask: Ask) -> None:
    """Ask to follow a theme: a confirmation mail to a new or still waiting address, nothing else."""
    email = checked_email(email)
    async with db.transaction() as conn:
        found = await store.follower_by_email(conn, theme.id, email)
        now = now_utc()
        if found is None:
            salt = secrets.token_urlsafe(24)
            follower_id = await store.add_follower(conn, theme.id, email=email, locale=locale, salt=salt,
                                                   token_hash=token_hash(follower_token(secret, salt)), now=now)
        elif found["confirmed_at"] is None and from_db(found["requested_at"]) + RESEND_AFTER <= now:  # type: ignore
            follower_id = found["id"]
            await store.renew_request(conn, follower_id, locale=locale, now=now)
        else:
            return  # following already, or mailed a moment ago
        follower = await conn.fetch_one("select * from theme_followers where id = ?", (follower_id,))
        await ask(conn, follower, theme)


async def forget_unconfirmed(db: Any) -> int:
    """Delete the addresses of requests never confirmed within KEEP_UNCONFIRMED; returns how many."""
    stale = await store.unconfirmed_before(db, now_utc() - KEEP_UNCONFIRMED)
    if stale:
        async with db.transaction() as conn:
            for follower_id in stale:
                await store.remove_follower(conn, follower_id)
    return len(stale)


async def follower_of(db: Any, theme: Theme, token: str) -> Any:
    """The follower of this theme behind a link token, or None (a token of another theme is None too)."""
    if not token or len(token) > 100:
        return None
    found = await store.follower_by_token_hash(db, token_hash(token))
    return found if found is not None and found["theme_id"] == theme.id else None


async def confirm(db: Any, theme: Theme, token: str) -> bool:
    """Confirm a follower by the link mailed to them; False for an unknown token."""
    found = await follower_of(db, theme, token)
    if found is None:
        return False
    async with db.transaction() as conn:
        await store.confirm_follower(conn, found["id"], now=now_utc())
    return True


async def unsubscribe(db: Any, theme: Theme, token: str) -> bool:
    """Stop following (the address is forgotten); False for an unknown token."""
    found = await follower_of(db, theme, token)
    if found is None:
        return False
    async with db.transaction() as conn:
        await store.remove_follower(conn, found["id"])
    return True
