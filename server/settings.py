"""Settings read once from the environment (TAIWA_*)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from realtime.backlog import BACKLOG_BYTES, BACKLOG_PACKETS
from server.auth.limits import DEFAULT_LIMITS, Limit, parse_limits

ROOT = Path(__file__).resolve().parent.parent
# a proxy on the same machine (the nginx of the README) is trusted to say who its client is
LOOPBACK = ("127.0.0.1", "::1")


def parse_trusted_proxies(text: str | None) -> tuple[str, ...]:
    """TAIWA_TRUSTED_PROXIES: addresses or networks, comma-separated; unset is loopback, empty or
    `none` is nobody. Raises ValueError naming an entry that is neither."""
    if text is None:
        return LOOPBACK
    if text.strip().lower() in {"", "none"}:
        return ()
    entries = tuple(filter(None, (part.strip() for part in text.split(","))))
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"TAIWA_TRUSTED_PROXIES: {entry!r} is not an address or a network "
                             "(e.g. 127.0.0.1,::1 or 10.0.0.0/8)") from None
    return entries


def db_target(value: str) -> Path | str:
    """TAIWA_DB or --db: a postgresql:// URL stays text, anything else is a SQLite file's path."""
    return value if value.startswith(("postgresql://", "postgres://")) else Path(value)


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to know about where it runs."""

    # a SQLite file, or a postgresql:// URL (kept as text): server/core/database.py open_database
    db_path: Path | str = field(default_factory=lambda: ROOT / "data" / "taiwa.sqlite3")
    secret: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    smtp_url: str | None = None
    redis_url: str | None = None
    rate_limits: bool = True
    debug: bool = False
    retention_days: int = 30
    # a registration form sent back sooner than this was not filled in by a person
    form_min_seconds: float = 2.0
    registrations_per_client: int = 20
    # abuse limits by name (see server/auth/limits.py); TAIWA_LIMITS overrides them
    limits: dict[str, Limit] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    # peers whose X-Forwarded-For names the client (server/core/middleware.py, behind_proxies)
    trusted_proxies: tuple[str, ...] = LOOPBACK
    # a socket client with this many packets, or bytes, waiting to be sent is dropped (realtime/backlog.py)
    socket_backlog_packets: int = BACKLOG_PACKETS
    socket_backlog_bytes: int = BACKLOG_BYTES
    # the mail, reminder and purge loop (tests that drive these steps themselves turn it off)
    background: bool = True

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Read TAIWA_* variables; keyword overrides win (the CLI passes --db this way)."""
        env = os.environ
        values: dict[str, object] = {
            "db_path": db_target(env.get("TAIWA_DB") or str(ROOT / "data" / "taiwa.sqlite3")),
            "secret": env.get("TAIWA_SECRET") or None,
            "base_url": (env.get("TAIWA_BASE_URL") or "http://127.0.0.1:8000").rstrip("/"),
            "smtp_url": env.get("TAIWA_SMTP_URL") or None,
            "redis_url": env.get("TAIWA_REDIS_URL") or None,
            "rate_limits": env.get("TAIWA_RATE_LIMITS", "on").lower() not in {"off", "0", "false"},
            "debug": env.get("TAIWA_DEBUG", "").lower() in {"1", "true", "on"},
            "retention_days": int(env.get("TAIWA_RETENTION_DAYS") or 30),
            "form_min_seconds": float(env.get("TAIWA_FORM_MIN_SECONDS") or 2.0),
            "registrations_per_client": int(env.get("TAIWA_REGISTRATIONS_PER_CLIENT") or 20),
            "limits": parse_limits(env.get("TAIWA_LIMITS", "")),
            "trusted_proxies": parse_trusted_proxies(env.get("TAIWA_TRUSTED_PROXIES")),
            "socket_backlog_packets": int(env.get("TAIWA_SOCKET_BACKLOG_PACKETS") or BACKLOG_PACKETS),
            "socket_backlog_bytes": int(env.get("TAIWA_SOCKET_BACKLOG_BYTES") or BACKLOG_BYTES),
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]

    def limit(self, name: str) -> Limit:
        """An abuse limit; registrations per client also follow TAIWA_REGISTRATIONS_PER_CLIENT unless
        TAIWA_LIMITS sets them."""
        limit = self.limits.get(name, DEFAULT_LIMITS[name])
        if name == "registration" and limit == DEFAULT_LIMITS[name]:
            return Limit(self.registrations_per_client, limit.seconds)
        return limit

    @property
    def secure_cookies(self) -> bool:
        """The public address is https: cookies carry the Secure flag, answers Strict-Transport-Security."""
        return self.base_url.startswith("https://")
