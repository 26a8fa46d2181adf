"""The `taiwa` command: serve, create-user, create-token, backup, purge-sensitive."""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from server.auth import accounts
from server.auth.accounts import ROLES
from server.core.database import is_postgres, open_database, redact
from server.core.logs import uvicorn_log_config
from server.core.server_secret import secret_path
from server.settings import Settings, db_target
from sessions import store


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(db_path=db_target(args.db) if getattr(args, "db", None) else None)


async def _open(settings: Settings) -> Any:
    db = open_database(settings.db_path)
    await db.open()
    return db


def serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from server.app import create_app, stored_secret

    settings = _settings(args)
    if args.port != 8000 and "TAIWA_BASE_URL" not in os.environ:
        settings = Settings(**{**settings.__dict__, "base_url": f"http://{args.host}:{args.port}"})
    if args.workers > 1 and not settings.redis_url:
        print("taiwa: --workers needs TAIWA_REDIS_URL (the workers share board rooms through Redis)", file=sys.stderr)
        return 2

    async def prepare() -> None:
        db = await _open(settings)
        try:
            if args.demo:
                from sessions.demo import seed_demo

                from ledger.demo import seed_demo_theme

                created = await seed_demo(db, add_account=_demo_account)
                print(f"taiwa: demo data {'seeded: ' + str(created) + ' sessions' if created else 'already present'}")
                if await seed_demo_theme(db):
                    print("taiwa: demo theme seeded: /themes/koukyou-koutsuu")
        finally:
            await db.close()

    asyncio.run(prepare())
    stored_secret(settings)  # made once here, so every worker signs with the same secret
    print(f"taiwa: serving on http://{args.host}:{args.port} (database {redact(str(settings.db_path))}"
          f"{f', {args.workers} workers' if args.workers > 1 else ''})", flush=True)
    # proxy_headers off: the app reads X-Forwarded-For itself, from TAIWA_TRUSTED_PROXIES only (behind_proxies)
    # A kept-alive connection is closed by the client or the proxy first (their idle timeouts, 5 s for
    # httpx and 60 s for nginx's upstream keepalive, are shorter): a server that closes first races a
    # request just sent on it, which then fails without an answer.
    options: dict[str, object] = {"host": args.host, "port": args.port, "log_level": "info", "proxy_headers": False,
                                  "log_config": uvicorn_log_config(), "timeout_graceful_shutdown": 10,
                                  "timeout_keep_alive": 75}
    if args.workers > 1:
        # Each worker builds the app from the environment: pass on what the command line decided.
        os.environ.update({"TAIWA_DB": str(settings.db_path), "TAIWA_BASE_URL": settings.base_url})
        uvicorn.run("server.app:create_app", factory=True, workers=args.workers, **options)  # type: ignore[arg-type]
    else:
        uvicorn.run(create_app(settings), **options)  # type: ignore[arg-type]
    return 0


async def _demo_account(conn: Any, **account: Any) -> None:
    """A demo account, unless one with its email exists already (that one is left as it is)."""
    if await accounts.get_account_by_email(conn, account["email"]) is None:
        await accounts.create_account(conn, **account)


def create_user(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def run() -> int:
        db = await _open(settings)
        try:
            if await accounts.get_account_by_email(db, args.email):
                print(f"taiwa: an account with {args.email} already exists", file=sys.stderr)
                return 1
            async with db.transaction() as conn:
                org = await store.get_org_by_slug(db, args.org)
                org_id = org.id if org else await store.create_org(conn, slug=args.org, name=args.org_name or args.org)
                await accounts.create_account(conn, org_id=org_id, email=args.email, password=args.password,
                                              role=args.role, display_name=args.name or "")
            print(f"taiwa: created {args.role} {args.email} in organization {args.org}")
            return 0
        finally:
            await db.close()

    if len(args.password) < 10:
        print("taiwa: use a password of at least 10 characters", file=sys.stderr)
        return 2
    return asyncio.run(run())


def create_token(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def run() -> int:
        db = await _open(settings)
        try:
            account = await accounts.get_account_by_email(db, args.email)
            if account is None or not account.active:
                print(f"taiwa: no active account with {args.email}", file=sys.stderr)
                return 1
            async with db.transaction() as conn:
                token = await accounts.create_api_token(conn, account.id, args.label or "")
            print(token)
            return 0
        finally:
            await db.close()

    return asyncio.run(run())


def backup(args: argparse.Namespace) -> int:
    """A consistent copy made with SQLite's online backup, safe while the app is writing."""
    settings = _settings(args)
    if is_postgres(settings.db_path):
        print("taiwa: the database is PostgreSQL: back it up with its own tools, e.g.\n"
              "  pg_dump --format=custom --file=taiwa.dump \"$TAIWA_DB\"\n"
              "and restore with pg_restore --dbname=... taiwa.dump (see README, Running in production)",
              file=sys.stderr)
        return 2
    target = Path(args.path)
    try:
        # made here, readable by its owner only: SQLite then keeps its journal so too
        os.close(os.open(target, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        print(f"taiwa: {target} exists; choose a new file", file=sys.stderr)
        return 1
    source = sqlite3.connect(settings.db_path)
    try:
        destination = sqlite3.connect(target)
        with destination:
            source.backup(destination)
        check = destination.execute("pragma integrity_check").fetchone()[0]
        destination.close()
    finally:
        source.close()
    print(f"taiwa: backup written to {target} (integrity: {check})")
    if not settings.secret:
        print(f"taiwa: registrant links also need {secret_path(settings.db_path)} (or TAIWA_SECRET); "
              "keep a copy of it apart from the backups")
    return 0 if check == "ok" else 1


def copy_db(args: argparse.Namespace) -> int:
    """Copy every row from one database to another (SQLite file ⇄ postgresql:// URL), then compare counts."""
    from server.core.copy_db import CopyRefused, copy_database

    source, target = db_target(args.source), db_target(args.target)
    try:
        counts = asyncio.run(copy_database(source, target, replace=args.replace))
    except CopyRefused as refused:
        print(f"taiwa: nothing copied: {refused}", file=sys.stderr)
        return 1
    print(f"taiwa: copied {sum(counts.values())} rows in {len(counts)} tables from {redact(str(source))} "
          f"to {redact(str(target))}; every table's count matches")
    return 0


def purge_sensitive(args: argparse.Namespace) -> int:
    """Apply the retention rule now (the app also does it in the background)."""
    from server.core.background import purge_sensitive as purge

    settings = _settings(args)
    days = args.days if args.days is not None else settings.retention_days

    async def run() -> tuple[int, int]:
        db = await _open(settings)
        try:
            return await purge(db, days)
        finally:
            await db.close()

    sessions, removed = asyncio.run(run())
    print(f"taiwa: removed {removed} sensitive details from {sessions} sessions that ended over {days} days ago")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="taiwa", description="Taiwa (対話): public dialogue sessions and workshops")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="serve the app (creates and migrates the database)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--db", help="SQLite file or postgresql:// URL (default: TAIWA_DB or data/taiwa.sqlite3)")
    p.add_argument("--demo", action="store_true", help="seed realistic demo sessions if there are none")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes sharing the database and, through TAIWA_REDIS_URL, the board rooms")
    p.set_defaults(run=serve)

    p = commands.add_parser("create-user", help="create an account (and its organization if new)")
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--role", choices=ROLES, required=True)
    p.add_argument("--org", required=True, help="organization slug, e.g. kanazawa-city")
    p.add_argument("--org-name", help="name of the organization when it is created")
    p.add_argument("--name", help="display name")
    p.add_argument("--db")
    p.set_defaults(run=create_user)

    p = commands.add_parser("create-token", help="print a new API bearer token for an account")
    p.add_argument("--email", required=True)
    p.add_argument("--label")
    p.add_argument("--db")
    p.set_defaults(run=create_token)

    p = commands.add_parser("backup", help="write a consistent copy of the database")
    p.add_argument("path")
    p.add_argument("--db")
    p.set_defaults(run=backup)

    p = commands.add_parser("copy-db", help="copy all data between a SQLite file and PostgreSQL (either way)")
    p.add_argument("--from", dest="source", required=True, help="SQLite file or postgresql:// URL to read")
    p.add_argument("--to", dest="target", required=True,
                   help="SQLite file or postgresql:// URL to fill (created and migrated; must be empty)")
    p.add_argument("--replace", action="store_true",
                   help="delete every row the target holds first (in the copy's transaction)")
    p.set_defaults(run=copy_db)

    p = commands.add_parser("purge-sensitive",
                            help="delete children's details and support requests after the retention period")
    p.add_argument("--days", type=int, help="retention in days (default: TAIWA_RETENTION_DAYS or 30)")
    p.add_argument("--db")
    p.set_defaults(run=purge_sensitive)

    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
