"""SQL of the live workshop: boards, their append-only event log, applied ops, participants."""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

from realtime.board import COLORS, BoardState
from sessions.tokens import token_hash


@dataclass(frozen=True)
class Board:
    id: int
    session_id: int
    org_id: int
    title: str
    prompts: list[dict[str, str]]
    colors: list[str]
    vote_budget: int
    max_votes_per_note: int
    anonymous: bool
    private_writing: bool
    join_code: str
    outcome_published: bool
    outcome_names: bool
    next_steps: str = ""  # "what happens next", on the published outcome

    def initial_state(self) -> BoardState:
        return BoardState(board_id=self.id, zones=self.prompts, colors=self.colors, vote_budget=self.vote_budget,
                          max_votes_per_note=self.max_votes_per_note, anonymous=self.anonymous,
                          private_writing=self.private_writing)


def _board(row: sqlite3.Row) -> Board:
    return Board(id=row["id"], session_id=row["session_id"], org_id=row["org_id"], title=row["title"],
                 prompts=json.loads(row["prompts"]), colors=json.loads(row["colors"]),
                 vote_budget=row["vote_budget"], max_votes_per_note=row["max_votes_per_note"],
                 anonymous=bool(row["anonymous"]), private_writing=bool(row["private_writing"]),
                 join_code=row["join_code"], outcome_published=bool(row["outcome_published"]),
                 outcome_names=bool(row["outcome_names"]), next_steps=row["next_steps"] or "")


async def get_board(db: Any, board_id: int) -> Board | None:
    row = await db.fetch_one("select * from boards where id = ?", (board_id,))
    return _board(row) if row else None


async def board_by_code(db: Any, code: str) -> Board | None:
    row = await db.fetch_one("select * from boards where join_code = ?", (code,))
    return _board(row) if row else None


async def session_boards(db: Any, session_id: int) -> list[Board]:
    return [_board(r) for r in await db.fetch_all("select * from boards where session_id = ? order by id", (session_id,))]


async def create_board(conn: Any, *, session_id: int, org_id: int, title: str, prompts: list[str],
                       colors: list[str] | None, vote_budget: int, max_votes_per_note: int, anonymous: bool,
                       private_writing: bool) -> int:
    """Insert a board with a fresh six-digit join code; returns its id."""
    zones = [{"id": f"z{index + 1}", "title": prompt} for index, prompt in enumerate(prompts)]
    for _attempt in range(20):
        code = f"{secrets.randbelow(900_000) + 100_000}"
        if await conn.fetch_one("select 1 from boards where join_code = ?", (code,)) is None:
            break
    cursor = await conn.execute(
        "insert into boards (session_id, org_id, title, prompts, colors, vote_budget, max_votes_per_note, anonymous, "
        "private_writing, join_code) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (session_id, org_id, title, json.dumps(zones, ensure_ascii=False), json.dumps(colors or list(COLORS)),
         vote_budget, max_votes_per_note, int(anonymous), int(private_writing), code))
    return int(cursor.lastrowid)


async def set_outcome(conn: Any, board_id: int, published: bool, names: bool) -> None:
    await conn.execute("update boards set outcome_published = ?, outcome_names = ? where id = ?",
                       (int(published), int(names), board_id))


async def set_next_steps(conn: Any, board_id: int, text: str) -> None:
    await conn.execute("update boards set next_steps = ? where id = ?", (text, board_id))


async def events_since(db: Any, board_id: int, since: int,
                       limit: int | None = 100_000) -> list[tuple[int, str, dict[str, Any]]]:
    """(seq, type, data) of the board's events after `since`, in order: at most `limit`, or all with None."""
    sql = "select seq, type, data from board_events where board_id = ? and seq > ? order by seq"
    rows = await db.fetch_all(sql, (board_id, since)) if limit is None else \
        await db.fetch_all(sql + " limit ?", (board_id, since, limit))  # portable: no negative limit
    return [(row[0], row[1], json.loads(row[2])) for row in rows]


async def append_events(conn: Any, board_id: int, first_seq: int, events: list[dict[str, Any]], actor: str) -> None:
    await conn.executemany(
        "insert into board_events (board_id, seq, type, data, actor) values (?, ?, ?, ?, ?)",
        [(board_id, first_seq + offset, event["type"], json.dumps(event["data"], ensure_ascii=False), actor)
         for offset, event in enumerate(events)])


async def op_and_last_seq(conn: Any, board_id: int, actor: str, op: str) -> tuple[dict[str, Any] | None, int]:
    """In one round trip: the recorded answer to this actor's op (None if new), and the log's last seq."""
    row = await conn.fetch_one(
        "select (select result from board_ops where board_id = ? and actor = ? and op = ?), "
        "(select coalesce(max(seq), 0) from board_events where board_id = ?)", (board_id, actor, op, board_id))
    result, last = row
    return (json.loads(result) if result is not None else None), last


async def record_op(conn: Any, board_id: int, actor: str, op: str, result: dict[str, Any]) -> None:
    await conn.execute("insert into board_ops (board_id, actor, op, result) values (?, ?, ?, ?)",
                       (board_id, actor, op, json.dumps(result, ensure_ascii=False)))


async def ops_and_last_seq(conn: Any, board_id: int, keys: list[tuple[str, str]]
                           ) -> tuple[dict[tuple[str, str], dict[str, Any]], int]:
    """In one round trip, for a batch of commands: the recorded answers to those of these (actor, op) that
    were applied before, and the log's last seq."""
    matches = " or ".join(["(o.actor = ? and o.op = ?)"] * len(keys)) or "0 = 1"
    rows = await conn.fetch_all(
        "select l.last, o.actor, o.op, o.result from "
        "(select coalesce(max(seq), 0) as last from board_events where board_id = ?) l "
        f"left join board_ops o on o.board_id = ? and ({matches})",
        (board_id, board_id, *[value for key in keys for value in key]))
    answers = {(row[1], row[2]): json.loads(row[3]) for row in rows if row[1] is not None}
    return answers, rows[0][0]


_LOG_ALL = """
with logged as (
    insert into board_events (board_id, seq, type, data, actor)
    select $1, * from unnest($2::bigint[], $3::text[], $4::text[], $5::text[])
)
insert into board_ops (board_id, actor, op, result) select $1, * from unnest($6::text[], $7::text[], $8::text[])"""


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as columns (PostgreSQL's arrays for unnest)."""
    return [list(column) for column in zip(*rows)] if rows else [[] for _ in range(width)]


async def log_commands(conn: Any, board_id: int, events: list[tuple[int, str, dict[str, Any], str]],
                       answers: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Log a batch of commands: their events (seq, type, data, actor) and answers (actor, op, result);
    one statement on PostgreSQL."""
    event_rows = [(seq, kind, json.dumps(data, ensure_ascii=False), actor) for seq, kind, data, actor in events]
    answer_rows = [(actor, op, json.dumps(result, ensure_ascii=False)) for actor, op, result in answers]
    if conn.dialect == "postgres":
        await conn.execute(_LOG_ALL, (board_id, *_columns(event_rows, 4), *_columns(answer_rows, 3)))
        return
    if event_rows:
        await conn.executemany("insert into board_events (board_id, seq, type, data, actor) values (?, ?, ?, ?, ?)",
                               [(board_id, *row) for row in event_rows])
    if answer_rows:
        await conn.executemany("insert into board_ops (board_id, actor, op, result) values (?, ?, ?, ?)",
                               [(board_id, *row) for row in answer_rows])


# PostgreSQL: the check and both inserts in one statement, one round trip while the write lock is held
# (every sub-statement sees the log as it was before the statement; the inserts run only when it ended
# at $4 and the op is new)
_LOG_IF_CURRENT = """
with seen as (
    select (select result from board_ops where board_id = $1 and actor = $2 and op = $3) as prior,
           (select coalesce(max(seq), 0) from board_events where board_id = $1) as last
), fresh as (
    select 1 from seen where prior is null and last = $4
), logged as (
    insert into board_events (board_id, seq, type, data, actor)
    select $1, $4 + n, type, data, $2 from unnest($5::text[], $6::text[]) with ordinality as e(type, data, n)
    where exists (select 1 from fresh)
), answered as (
    insert into board_ops (board_id, actor, op, result) select $1, $2, $3, $7 where exists (select 1 from fresh)
)
select prior, last from seen"""


async def log_command(conn: Any, board_id: int, last_seq: int, events: list[dict[str, Any]], actor: str, op: str,
                      result: dict[str, Any]) -> tuple[dict[str, Any] | None, int] | None:
    """Log a command's events (seq `last_seq` + 1 on) and its answer, if the log still ends at `last_seq` and
    the actor's op is new: then None. Otherwise nothing is written and the answer is what was found:
    the op's recorded answer (None if new) and the log's last seq."""
    if conn.dialect == "postgres":
        row = await conn.fetch_one(_LOG_IF_CURRENT, (
            board_id, actor, op, last_seq, [event["type"] for event in events],
            [json.dumps(event["data"], ensure_ascii=False) for event in events], json.dumps(result, ensure_ascii=False)))
        prior, last = row
        if prior is None and last == last_seq:
            return None
        return (json.loads(prior) if prior is not None else None), last
    prior, last = await op_and_last_seq(conn, board_id, actor, op)
    if prior is not None or last != last_seq:
        return prior, last
    if events:
        await append_events(conn, board_id, last_seq + 1, events, actor)
    await record_op(conn, board_id, actor, op, result)
    return None


async def add_participant(conn: Any, board_id: int, display_name: str, place: str,
                          connection: str = "", token: str | None = None) -> tuple[str, str]:
    """A new participant; returns (participant id, token). Only the token's digest is stored;
    `connection` is the short code of the connection it joined from (see `joins_by_connection`);
    `token` one derived elsewhere (an online registrant's, the same on every visit), else a new one."""
    participant_id = "p" + secrets.token_hex(8)
    token = token or "bp_" + secrets.token_urlsafe(24)
    await conn.execute(
        "insert into board_participants (id, board_id, token_hash, display_name, place, connection) "
        "values (?, ?, ?, ?, ?, ?)",
        (participant_id, board_id, token_hash(token), display_name, place, connection))
    return participant_id, token


async def participant_by_token(db: Any, token: str) -> sqlite3.Row | None:
    return await db.fetch_one("select * from board_participants where token_hash = ?", (token_hash(token),))


async def participant_count(db: Any, board_id: int) -> int:
    row = await db.fetch_one("select count(*) from board_participants where board_id = ?", (board_id,))
    return row[0] if row else 0


async def participants_by_place(db: Any, board_id: int) -> dict[str, int]:
    """How many joined in the room and online: {"room": n, "online": n}."""
    rows = await db.fetch_all("select place, count(*) from board_participants where board_id = ? group by place",
                              (board_id,))
    counts = {"room": 0, "online": 0}
    for row in rows:
        counts["room" if row[0] == "room" else "online"] += row[1]
    return counts


async def joins_by_connection(db: Any, board_id: int, limit: int = 5) -> tuple[list[tuple[str, int]], int]:
    """The connections that made the most participants, as [(code, participants)], most first, and
    how many connections made any (participants added by a facilitator's token have no code)."""
    rows = await db.fetch_all(
        "select connection, count(*) from board_participants where board_id = ? and connection != '' "
        "group by connection order by count(*) desc, connection limit ?", (board_id, limit))
    total = await db.fetch_one(
        "select count(distinct connection) from board_participants where board_id = ? and connection != ''",
        (board_id,))
    return [(row[0], row[1]) for row in rows], (total[0] if total else 0)


async def save_template(conn: Any, org_id: int, name: str, config: dict[str, Any]) -> int:
    cursor = await conn.execute("insert into board_templates (org_id, name, config) values (?, ?, ?)",
                                (org_id, name, json.dumps(config, ensure_ascii=False)))
    return int(cursor.lastrowid)


async def templates(db: Any, org_id: int) -> list[sqlite3.Row]:
    return await db.fetch_all("select * from board_templates where org_id = ? order by name", (org_id,))
