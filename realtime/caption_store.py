"""SQL of live captions: a session's caption stream, its captioners' links, lines and applied ops."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from realtime.captions import Line
from sessions.tokens import token_hash

TOKEN_PREFIX = "ct_"


@dataclass(frozen=True)
class Stream:
    id: int
    session_id: int
    code: str
    seq: int
    published: bool


def _stream(row: Any) -> Stream:
    return Stream(id=row["id"], session_id=row["session_id"], code=row["code"], seq=row["seq"],
                  published=bool(row["published"]))


def _line(row: Any) -> Line:
    return Line(line=row["line"], seq=row["seq"], text=row["text"], speaker=row["speaker"], at=row["at"],
                edited_at=row["edited_at"])


async def stream_by_code(db: Any, code: str) -> Stream | None:
    row = await db.fetch_one("select * from caption_streams where code = ?", (code,))
    return _stream(row) if row else None


async def stream_of_session(db: Any, session_id: int) -> Stream | None:
    row = await db.fetch_one("select * from caption_streams where session_id = ?", (session_id,))
    return _stream(row) if row else None


async def get_stream(db: Any, stream_id: int) -> Stream | None:
    row = await db.fetch_one("select * from caption_streams where id = ?", (stream_id,))
    return _stream(row) if row else None


async def create_stream(conn: Any, session_id: int, now: str) -> Stream:
    """The session's stream, made with a fresh six-digit code unless it already has one."""
    found = await stream_of_session(conn, session_id)
    if found is not None:
        return found
    for _attempt in range(20):
        code = f"{secrets.randbelow(900_000) + 100_000}"
        if await conn.fetch_one("select 1 from caption_streams where code = ?", (code,)) is None:
            break
    await conn.execute("insert into caption_streams (session_id, code, created_at) values (?, ?, ?)",
                       (session_id, code, now))
    created = await stream_of_session(conn, session_id)
    assert created is not None
    return created


async def set_published(conn: Any, stream_id: int, published: bool) -> None:
    await conn.execute("update caption_streams set published = ? where id = ?", (int(published), stream_id))


async def add_captioner(conn: Any, stream_id: int, label: str, now: str) -> tuple[int, str]:
    """A new captioner link; returns (captioner id, token). Only the token's digest is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    cursor = await conn.execute(
        "insert into caption_captioners (stream_id, token_hash, label, created_at) values (?, ?, ?, ?)",
        (stream_id, token_hash(token), label, now))
    return int(cursor.lastrowid), token


async def captioner_by_token(db: Any, token: str) -> Any:
    """The captioner row (with its stream's code) of a link that is not revoked, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return await db.fetch_one(
        "select c.id, c.stream_id, c.label, s.code, s.session_id from caption_captioners c "
        "join caption_streams s on s.id = c.stream_id where c.token_hash = ? and c.revoked_at is null",
        (token_hash(token),))


async def captioner_active(db: Any, captioner_id: int) -> bool:
    row = await db.fetch_one("select 1 from caption_captioners where id = ? and revoked_at is null", (captioner_id,))
    return row is not None


async def captioners(db: Any, stream_id: int) -> list[Any]:
    return await db.fetch_all(
        "select id, label, created_at, revoked_at from caption_captioners where stream_id = ? order by id",
        (stream_id,))


async def revoke_captioner(conn: Any, stream_id: int, captioner_id: int, now: str) -> bool:
    """Revoke a link of this stream; False when there is no such (active) link."""
    cursor = await conn.execute(
        "update caption_captioners set revoked_at = ? where id = ? and stream_id = ? and revoked_at is null",
        (now, captioner_id, stream_id))
    return cursor.rowcount == 1


async def lines_since(db: Any, stream_id: int, since: int = 0) -> list[Line]:
    """Lines added or edited after `since`, in the order of their latest change."""
    rows = await db.fetch_all("select * from caption_lines where stream_id = ? and seq > ? order by seq",
                              (stream_id, since))
    return [_line(row) for row in rows]


async def all_lines(db: Any, stream_id: int) -> list[Line]:
    """The transcript, in the order the lines were committed."""
    rows = await db.fetch_all("select * from caption_lines where stream_id = ? order by line", (stream_id,))
    return [_line(row) for row in rows]


async def last_lines(db: Any, stream_id: int, count: int) -> list[Line]:
    """The latest `count` lines, oldest first (for the captions band)."""
    rows = await db.fetch_all("select * from caption_lines where stream_id = ? order by line desc limit ?",
                              (stream_id, count))
    return [_line(row) for row in reversed(rows)]


async def get_line(db: Any, stream_id: int, line: int) -> Line | None:
    row = await db.fetch_one("select * from caption_lines where stream_id = ? and line = ?", (stream_id, line))
    return _line(row) if row else None


async def recorded_op(conn: Any, stream_id: int, actor: str, op: str) -> dict[str, Any] | None:
    row = await conn.fetch_one("select result from caption_ops where stream_id = ? and actor = ? and op = ?",
                               (stream_id, actor, op))
    return json.loads(row[0]) if row else None


async def record_op(conn: Any, stream_id: int, actor: str, op: str, result: dict[str, Any]) -> None:
    await conn.execute("insert into caption_ops (stream_id, actor, op, result) values (?, ?, ?, ?)",
                       (stream_id, actor, op, json.dumps(result, ensure_ascii=False)))


async def next_seq(conn: Any, stream_id: int) -> int:
    """Take the stream's next seq (inside the write, so two processes never take the same one)."""
    await conn.execute("update caption_streams set seq = seq + 1 where id = ?", (stream_id,))
    row = await conn.fetch_one("select seq from caption_streams where id = ?", (stream_id,))
    return int(row[0])


async def add_line(conn: Any, stream_id: int, seq: int, text: str, speaker: str, at: str) -> Line:
    row = await conn.fetch_one("select coalesce(max(line), 0) + 1 from caption_lines where stream_id = ?",
                               (stream_id,))
    line = int(row[0])
    await conn.execute(
        "insert into caption_lines (stream_id, line, seq, text, speaker, at) values (?, ?, ?, ?, ?, ?)",
        (stream_id, line, seq, text, speaker, at))
    return Line(line=line, seq=seq, text=text, speaker=speaker, at=at)


async def edit_line(conn: Any, stream_id: int, line: int, seq: int, text: str, speaker: str | None,
                    at: str) -> None:
    """Correct a line's text (and its speaker, when given); it takes the new seq."""
    if speaker is None:
        await conn.execute("update caption_lines set text = ?, seq = ?, edited_at = ? where stream_id = ? and line = ?",
                           (text, seq, at, stream_id, line))
    else:
        await conn.execute(
            "update caption_lines set text = ?, speaker = ?, seq = ?, edited_at = ? where stream_id = ? and line = ?",
            (text, speaker, seq, at, stream_id, line))
