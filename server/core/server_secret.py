"""The server secret when TAIWA_SECRET is unset: random, kept in a file beside the database (`<db>.secret`).

Registrant links (/r/{token}) and CSRF tokens are derived from it, so it must not travel with the
database: a copy of the database file or a backup alone must not be enough to rebuild every
registrant's link. Earlier versions kept it in the database's `meta` table; it is moved out once,
so the links they sent keep working.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from pathlib import Path

from server.core.database import BUSY_TIMEOUT_MS, make_private


def secret_path(db_path: Path) -> Path:
    """Where the secret of this database is kept."""
    return db_path.with_name(db_path.name + ".secret")


def stored_secret(db_path: Path) -> str:
    """The secret kept beside the database: moved out of the database, read, or made on first start."""
    path = secret_path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    moved = _move_out_of_database(db_path, path)
    if moved:
        return moved
    if not path.exists():
        # several workers may start at once: the first file linked into place wins, the others read it
        _write(path, secrets.token_urlsafe(32), replace=False)
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise RuntimeError(f"{path} is empty: restore the secret from a copy, or delete the file to make a new "
                           "one (registrant links sent so far then stop working)")
    return secret


def _move_out_of_database(db_path: Path, path: Path) -> str | None:
    """The secret an earlier version kept in the database, now written to `path` and deleted from the database."""
    if not db_path.exists():
        return None
    make_private(db_path)
    conn = sqlite3.connect(f"file:{db_path}?mode=rw", uri=True, isolation_level=None,
                           timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        if conn.execute("select 1 from sqlite_master where type = 'table' and name = 'meta'").fetchone() is None:
            return None
        conn.execute("begin immediate")  # a second process starting now waits, then finds it moved
        try:
            row = conn.execute("select value from meta where key = 'secret'").fetchone()
            if row is not None:
                # the database's own secret made its links: it wins over a file left by another database
                _write(path, row[0], replace=True)
                conn.execute("pragma secure_delete = on")  # overwrite the deleted value in the file
                conn.execute("delete from meta where key = 'secret'")
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise
        if row is None:
            return None
        conn.execute("pragma wal_checkpoint(truncate)")  # and leave no copy in the write-ahead log
        return str(row[0])
    finally:
        conn.close()


def _write(path: Path, secret: str, *, replace: bool) -> None:
    """Write the whole file (0600) under a temporary name, then put it in place at once."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)  # left by a crash: made anew, so with no other mode than 0600
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(handle, secret.encode())
        os.fsync(handle)
    finally:
        os.close(handle)
    try:
        if replace:
            os.replace(temporary, path)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the new name survives a power cut too
    finally:
        os.close(directory)
