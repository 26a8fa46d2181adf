"""Secret tokens (registrants', logins', API clients', board participants') are stored only as digests."""

from __future__ import annotations

import hashlib


def token_hash(token: str) -> str:
    """The SHA-256 digest kept in place of a token: a leaked table does not let anyone in."""
    return hashlib.sha256(token.encode()).hexdigest()
