"""SQL of registrations: registrants, their children and accommodation requests, check-in, purge."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any, NamedTuple

from sessions.registration_models import AccommodationRequest, Child, Registration
from sessions.store import Reader
from sessions.timestamps import from_db, now_utc, to_db


def _registration(row: sqlite3.Row, children: list[Child], requests: list[AccommodationRequest],
                  position: int | None) -> Registration:
    return Registration(
        id=row["id"], session_id=row["session_id"], name=row["name"], name_kana=row["name_kana"],
        email=row["email"], phone=row["phone"], mode=row["mode"], status=row["status"],
        consent_sensitive=bool(row["consent_sensitive"]), staff_entered=bool(row["staff_entered"]),
        locale=row["locale"], note=row["note"], created_at=from_db(row["created_at"]),  # type: ignore[arg-type]
        checked_in_at=from_db(row["checked_in_at"]), cancelled_at=from_db(row["cancelled_at"]),
        purged_at=from_db(row["purged_at"]), children=children, requests=requests, position=position,
        updated_at=from_db(row["updated_at"]),
    )


async def _details(db: Reader, ids: list[int]) -> tuple[dict[int, list[Child]], dict[int, list[AccommodationRequest]]]:
    children: dict[int, list[Child]] = {i: [] for i in ids}
    requests: dict[int, list[AccommodationRequest]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for row in await db.fetch_all(
                f"select * from registration_children where registration_id in ({marks}) order by id", chunk):
            children[row["registration_id"]].append(Child(id=row["id"], age_months=row["age_months"],
                                                          notes=row["notes"], status=row["status"],
                                                          late=bool(row["late"])))
        for row in await db.fetch_all(
                f"select * from accommodation_requests where registration_id in ({marks}) order by id", chunk):
            requests[row["registration_id"]].append(AccommodationRequest(
                id=row["id"], code=row["code"], note=row["note"], status=row["status"], message=row["message"],
                late=bool(row["late"]), updated_at=from_db(row["updated_at"])))  # type: ignore[arg-type]
    return children, requests


_POSITION = """(select count(*) from registrations w where w.session_id = r.session_id and w.mode = r.mode
    and w.status = 'waitlisted' and w.id <= r.id)"""


async def registration_by_token_hash(db: Reader, token_hash: str) -> Registration | None:
    row = await db.fetch_one(f"select r.*, {_POSITION} as position from registrations r where r.token_hash = ?",
                             (token_hash,))
    return await _one(db, row)


async def token_salt(db: Reader, registration_id: int) -> str:
    row = await db.fetch_one("select token_salt from registrations where id = ?", (registration_id,))
    return row[0] if row else ""


async def get_registration(db: Reader, registration_id: int) -> Registration | None:
    """A registration with its waitlist position, children and requests."""
    row = await db.fetch_one(f"select r.*, {_POSITION} as position from registrations r where r.id = ?",
                             (registration_id,))
    return await _one(db, row)


async def _one(db: Reader, row: sqlite3.Row | None) -> Registration | None:
    if row is None:
        return None
    children, requests = await _details(db, [row["id"]])
    position = row["position"] if row["status"] == "waitlisted" else None
    return _registration(row, children[row["id"]], requests[row["id"]], position)


async def session_registrations(db: Reader, session_id: int) -> list[Registration]:
    """Every registration of a session in arrival order, with children, requests and waitlist positions."""
    rows = await db.fetch_all(
        f"select r.*, {_POSITION} as position from registrations r where r.session_id = ? order by r.id",
        (session_id,))
    children, requests = await _details(db, [row["id"] for row in rows])
    return [_registration(row, children[row["id"]], requests[row["id"]],
                          row["position"] if row["status"] == "waitlisted" else None) for row in rows]


async def pending_requests(db: Reader, org_id: int | None) -> list[sqlite3.Row]:
    """Open childcare and accommodation requests of upcoming sessions, soonest deadline first."""
    where = "s.ends_at >= ? and s.status = 'published'" + (" and s.org_id = ?" if org_id is not None else "")
    params: list[Any] = [to_db(now_utc())] + ([org_id] if org_id is not None else [])
    return await db.fetch_all(
        "select * from (select 'accommodation' as item, a.code as code, count(*) as count, o.deadline as deadline, "
        "s.id as session_id, s.title as title, s.title_en as title_en, s.starts_at as starts_at, s.timezone "
        "from accommodation_requests a join registrations r on r.id = a.registration_id "
        "join sessions s on s.id = a.session_id "
        "left join session_accommodations o on o.session_id = a.session_id and o.code = a.code "
        f"where a.status = 'requested' and r.status in ('confirmed', 'waitlisted') and {where} "
        "group by s.id, a.code, o.deadline "
        "union all "
        "select 'childcare', '', count(*), s.childcare_deadline, s.id, s.title, s.title_en, s.starts_at, s.timezone "
        "from registration_children c join sessions s on s.id = c.session_id "
        f"where c.status in ('confirmed', 'waitlisted') and {where} group by s.id) as pending "
        "order by deadline is null, deadline, starts_at",
        params + params,
    )


async def requests_to_arrange(db: Reader, org_id: int | None, *, session_id: int | None = None,
                              code: str | None = None) -> list[sqlite3.Row]:
    """Each open request of upcoming sessions, one row per support request or child (for the CSV that
    goes to the interpreters', captioners' or childcare helpers' association), soonest deadline first.

    `code` narrows to one kind of support ('childcare' for children); `session_id` to one session.
    """
    scope = ["s.ends_at >= ?", "s.status = 'published'", "r.status in ('confirmed', 'waitlisted')"]
    params: list[Any] = [to_db(now_utc())]
    for clause, value in (("s.org_id = ?", org_id), ("s.id = ?", session_id)):
        if value is not None:
            scope.append(clause)
            params.append(value)
    shared = " and ".join(scope)
    parts, values = [], []
    if code != "childcare":
        parts.append(
            "select 'accommodation' as item, a.code as code, o.deadline as deadline, o.language as language, "
            "a.note as note, null as age_months, a.late as late, r.id as id, r.name as name, "
            "r.name_kana as name_kana, r.mode as mode, r.status as status, r.created_at as created_at, "
            "s.title as title, s.title_en as title_en, s.starts_at as starts_at, s.timezone as timezone, "
            "v.name as venue, v.address as address "
            "from accommodation_requests a join registrations r on r.id = a.registration_id "
            "join sessions s on s.id = a.session_id left join venues v on v.id = s.venue_id "
            "left join session_accommodations o on o.session_id = a.session_id and o.code = a.code "
            f"where a.status = 'requested' and {shared}" + (" and a.code = ?" if code else ""))
        values += params + ([code] if code else [])
    if code in (None, "childcare"):
        parts.append(
            "select 'childcare' as item, 'childcare' as code, s.childcare_deadline as deadline, '' as language, "
            "c.notes as note, c.age_months as age_months, c.late as late, r.id as id, r.name as name, "
            "r.name_kana as name_kana, r.mode as mode, r.status as status, r.created_at as created_at, "
            "s.title as title, s.title_en as title_en, s.starts_at as starts_at, s.timezone as timezone, "
            "v.name as venue, v.address as address "
            "from registration_children c join registrations r on r.id = c.registration_id "
            "join sessions s on s.id = c.session_id left join venues v on v.id = s.venue_id "
            f"where c.status in ('confirmed', 'waitlisted') and {shared}")
        values += params
    return await db.fetch_all(
        "select * from (" + " union all ".join(parts) + ") as arranged order by deadline is null, deadline, starts_at, id",
        values)


async def registrants_to_message(db: Reader, session_id: int) -> tuple[list[int], int]:
    """Confirmed and waitlisted registrations of a session: the ids of those with an email address, and
    how many have none (reached by phone)."""
    rows = await db.fetch_all("select id, email != '' as mailable from registrations "
                              "where session_id = ? and status in ('confirmed', 'waitlisted') order by id",
                              (session_id,))
    return [row["id"] for row in rows if row["mailable"]], sum(1 for row in rows if not row["mailable"])


async def registration_status(db: Reader, registration_id: int) -> str | None:
    row = await db.fetch_one("select status from registrations where id = ?", (registration_id,))
    return row[0] if row else None


async def earlier_registration(db: Reader, session_id: int, key_hash: str) -> tuple[str, int] | None:
    """(body digest, registration id) of the registration first sent with this Idempotency-Key, if any."""
    row = await db.fetch_one("select body_hash, registration_id from registration_keys "
                             "where session_id = ? and key_hash = ?", (session_id, key_hash))
    return (row[0], row[1]) if row else None


async def record_key(conn: Any, session_id: int, key_hash: str, body_hash: str, registration_id: int) -> None:
    """Remember which registration an Idempotency-Key made, and the digest of what was sent with it."""
    await conn.execute("insert into registration_keys (session_id, key_hash, body_hash, registration_id) "
                       "values (?, ?, ?, ?)", (session_id, key_hash, body_hash, registration_id))


# confirmed seats of session ?1 in one mode (the statement ends with the mode)
_SEATS = "select count(*) from registrations where session_id = ?1 and status in ('confirmed', 'attended') and mode = "


async def counts(db: Reader, session_id: int) -> dict[str, int]:
    """Confirmed seats by mode and confirmed childcare places (read inside the write that acts on them)."""
    row = await db.fetch_one(
        f"select ({_SEATS}'in_person'), ({_SEATS}'online'), "
        "(select count(*) from registration_children where session_id = ?1 and status = 'confirmed')", (session_id,))
    return {"in_person": row[0], "online": row[1], "childcare": row[2]}


class SeatsNow(NamedTuple):
    revision: int  # the session's (see sessions.store)
    in_person: int
    online: int
    children: int
    waiting: int  # on the waitlist of the mode asked about
    same_email: int | None  # a registration still holding or awaiting a seat with the address asked about


# by the address's index (registrations_email): `session_id + 0` keeps both engines' planners from
# reading the session's every registration through its index instead, as they do on a fresh table
_SAME_EMAIL = """select id from registrations where lower(email) = lower(?2) and session_id + 0 = ?1 and email != ''
    and status in ('confirmed', 'waitlisted', 'attended') order by id limit 1"""


async def seats_now(db: Reader, session_id: int, email: str, mode: str) -> SeatsNow | None:
    """In one read (inside the write that acts on them): the session's revision, its confirmed seats by
    mode and childcare places, the waitlist of `mode`, and the registration already holding `email`
    (none for "")."""
    row = await db.fetch_one(
        f"select s.revision, ({_SEATS}'in_person'), ({_SEATS}'online'), "
        "(select count(*) from registration_children where session_id = ?1 and status = 'confirmed'), "
        "(select count(*) from registrations where session_id = ?1 and status = 'waitlisted' and mode = ?3), "
        f"({_SAME_EMAIL}) from sessions s where s.id = ?1", (session_id, email, mode))
    return SeatsNow(*row) if row is not None else None


async def active_requests(db: Reader, session_id: int, code: str) -> int:
    """Requests for one kind of support that still hold a place."""
    row = await db.fetch_one(
        "select count(*) from accommodation_requests a join registrations r on r.id = a.registration_id "
        "where a.session_id = ? and a.code = ? and a.status in ('requested', 'confirmed') "
        "and r.status in ('confirmed', 'waitlisted', 'attended')", (session_id, code))
    return row[0] if row else 0


async def insert_registration(conn: Any, session_id: int, *, token_hash: str, token_salt: str, name: str, name_kana: str,
                              email: str, phone: str, mode: str, status: str, consent: bool, staff: bool,
                              locale: str, note: str, position: int | None) -> Registration:
    """A new registration as stored (without children or requests yet); `position`: its place on the
    waitlist, which the caller counted in the same write."""
    row = await conn.fetch_one(
        "insert into registrations (session_id, token_hash, token_salt, name, name_kana, email, phone, mode, status, "
        "consent_sensitive, staff_entered, locale, note) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning *",
        (session_id, token_hash, token_salt, name, name_kana, email, phone, mode, status, int(consent), int(staff), locale,
         note))
    return _registration(row, [], [], position if status == "waitlisted" else None)


async def insert_child(conn: Any, registration_id: int, session_id: int, age_months: int, notes: str,
                       status: str, late: bool) -> None:
    await conn.execute(
        "insert into registration_children (registration_id, session_id, age_months, notes, status, late) "
        "values (?, ?, ?, ?, ?, ?)", (registration_id, session_id, age_months, notes, status, int(late)))


async def insert_request(conn: Any, registration_id: int, session_id: int, code: str, note: str, status: str,
                         late: bool, message: str = "") -> None:
    await conn.execute(
        "insert into accommodation_requests (registration_id, session_id, code, note, status, late, message) "
        "values (?, ?, ?, ?, ?, ?, ?)", (registration_id, session_id, code, note, status, int(late), message))


async def set_registration_status(conn: Any, registration_id: int, status: str) -> None:
    cancelled = to_db(now_utc()) if status == "cancelled" else None
    await conn.execute(
        "update registrations set status = ?, cancelled_at = coalesce(?, cancelled_at), "
        "updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') where id = ?", (status, cancelled, registration_id))
    if status == "cancelled":
        await conn.execute("update registration_children set status = 'cancelled' where registration_id = ?",
                           (registration_id,))
        await conn.execute("update accommodation_requests set status = 'cancelled', "
                           "updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') where registration_id = ?",
                           (registration_id,))


async def first_waitlisted(db: Reader, session_id: int, mode: str, limit: int) -> list[int]:
    """The ids of the first `limit` waitlisted registrations of a pool, in arrival order."""
    rows = await db.fetch_all(
        "select id from registrations where session_id = ? and mode = ? and status = 'waitlisted' "
        "order by id limit ?", (session_id, mode, limit))
    return [row[0] for row in rows]


async def first_waitlisted_children(db: Reader, session_id: int, limit: int) -> list[tuple[int, int]]:
    """(child id, registration id) of waiting children whose parent holds a seat, in arrival order."""
    rows = await db.fetch_all(
        "select c.id, c.registration_id from registration_children c join registrations r on r.id = c.registration_id "
        "where c.session_id = ? and c.status = 'waitlisted' and r.status in ('confirmed', 'attended') "
        "order by c.id limit ?", (session_id, limit))
    return [(row[0], row[1]) for row in rows]


async def confirm_child(conn: Any, child_id: int) -> None:
    await conn.execute("update registration_children set status = 'confirmed' where id = ?", (child_id,))


async def set_request_status(conn: Any, request_id: int, status: str, message: str) -> None:
    await conn.execute(
        "update accommodation_requests set status = ?, message = ?, "
        "updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') where id = ?", (status, message, request_id))


async def request_with_session(db: Reader, request_id: int) -> sqlite3.Row | None:
    return await db.fetch_one(
        "select a.*, s.org_id as org_id from accommodation_requests a join sessions s on s.id = a.session_id "
        "where a.id = ?", (request_id,))


async def set_checked_in(conn: Any, registration_id: int, at: datetime | None) -> None:
    await conn.execute("update registrations set checked_in_at = ? where id = ?", (to_db(at), registration_id))


async def add_change_request(conn: Any, registration_id: int, message: str) -> None:
    await conn.execute("insert into change_requests (registration_id, message) values (?, ?)",
                       (registration_id, message))


async def change_requests(db: Reader, session_id: int) -> list[sqlite3.Row]:
    return await db.fetch_all(
        "select c.*, r.name from change_requests c join registrations r on r.id = c.registration_id "
        "where r.session_id = ? order by c.id", (session_id,))


async def erase_registrant(conn: Any, registration_id: int) -> None:
    """A registrant's own deletion: personal and sensitive details go, the (cancelled) seat count stays."""
    await _overwrite_deleted_content(conn)
    await conn.execute(
        "update registrations set name = '', name_kana = '', email = '', phone = '', note = '', "
        "purged_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') where id = ?", (registration_id,))
    await conn.execute("update registration_children set notes = '' where registration_id = ?", (registration_id,))
    await conn.execute("update accommodation_requests set note = '' where registration_id = ?", (registration_id,))
    await conn.execute("delete from change_requests where registration_id = ?", (registration_id,))
    await conn.execute("delete from outbox where registration_id = ?", (registration_id,))


async def _overwrite_deleted_content(conn: Any) -> None:
    """Deleted text must not stay readable in the file's free space (SQLite keeps it there unless
    secure_delete is on, which only some builds, such as Debian's, turn on by default)."""
    await conn.execute("pragma secure_delete = on")


AGE_BANDS = ((0, 23, "0-1"), (24, 47, "2-3"), (48, 83, "4-6"), (84, 10_000, "7+"))


def age_band(age_months: int) -> str:
    return next(name for low, high, name in AGE_BANDS if low <= age_months <= high)


async def purge_session(conn: Any, session_id: int) -> int:
    """Replace a session's sensitive details by anonymous totals; returns how many details were removed."""
    await _overwrite_deleted_content(conn)
    totals: dict[str, int] = {}
    for (age,) in await conn.fetch_all(
            "select age_months from registration_children where session_id = ? and status = 'confirmed'", (session_id,)):
        key = f"childcare:{age_band(age)}"
        totals[key] = totals.get(key, 0) + 1
    for code, count in await conn.fetch_all(
            "select code, count(*) from accommodation_requests where session_id = ? "
            "and status in ('requested', 'confirmed') group by code", (session_id,)):
        totals[f"accommodation:{code}"] = count
    for item, count in totals.items():
        await conn.execute("insert into sensitive_totals (session_id, item, count) values (?, ?, ?) "
                           "on conflict (session_id, item) do update set count = excluded.count",
                           (session_id, item, count))
    removed = 0
    for table in ("registration_children", "accommodation_requests"):
        cursor = await conn.execute(f"delete from {table} where session_id = ?", (session_id,))
        removed += cursor.rowcount
    cursor = await conn.execute("update registrations set note = '', purged_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
                                "where session_id = ? and purged_at is null", (session_id,))
    await conn.execute("delete from change_requests where registration_id in "
                       "(select id from registrations where session_id = ?)", (session_id,))
    # stored mail repeats children's ages and support needs: keep only that a mail was sent
    await conn.execute("update outbox set body = '', ics = null where registration_id in "
                       "(select id from registrations where session_id = ?)", (session_id,))
    return removed


async def sessions_to_purge(db: Reader, ended_before: datetime) -> list[int]:
    rows = await db.fetch_all(
        "select distinct s.id from sessions s where s.ends_at < ? and (exists (select 1 from registration_children c "
        "where c.session_id = s.id) or exists (select 1 from accommodation_requests a where a.session_id = s.id) "
        "or exists (select 1 from registrations r where r.session_id = s.id and r.note != ''))",
        (to_db(ended_before),))
    return [row[0] for row in rows]


async def totals(db: Reader, session_id: int) -> dict[str, int]:
    rows = await db.fetch_all("select item, count from sensitive_totals where session_id = ?", (session_id,))
    return {row["item"]: row["count"] for row in rows}


async def due_reminders(db: Reader, start_from: datetime, start_to: datetime) -> list[int]:
    """Confirmed registrations with an email, for sessions starting in the window, not yet reminded."""
    rows = await db.fetch_all(
        "select r.id from registrations r join sessions s on s.id = r.session_id where s.status = 'published' "
        "and s.starts_at >= ? and s.starts_at < ? and r.status = 'confirmed' and r.email != '' "
        "and r.reminded_at is null", (to_db(start_from), to_db(start_to)))
    return [row[0] for row in rows]


async def mark_reminded(conn: Any, registration_id: int) -> None:
    await conn.execute("update registrations set reminded_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') where id = ?",
                       (registration_id,))
