"""SQL of the scheduling domain: organizations, venues, sessions and series.

Read functions take a `Reader`: the database, or the connection of a write in progress (whose
reads see what it has changed so far). Write functions take the latter.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

import msgspec

from sessions.models import (
    AccommodationOffer, ChildcareOffer, Organization, Session, SessionFilters, SessionInput, Venue, VenueInput,
)
from sessions.search_store import decode_cursor, encode_cursor, reindex_session, visibility_sql
from sessions.series import occurrence_starts, rrule_text
from sessions.timestamps import from_db, now_utc, to_db  # noqa: F401 - the web shell calls store.now_utc


class Reader(Protocol):
    async def fetch_all(self, sql: str, params: Sequence[Any] = ...) -> list[sqlite3.Row]: ...
    async def fetch_one(self, sql: str, params: Sequence[Any] = ...) -> sqlite3.Row | None: ...


# ---------------------------------------------------------------- organizations

def _org(row: sqlite3.Row, prefix: str = "") -> Organization:
    return Organization(
        id=row[f"{prefix}id"] if prefix else row["id"], slug=row[f"{prefix}slug"], name=row[f"{prefix}name"],
        name_en=row[f"{prefix}name_en"], contact_email=row[f"{prefix}contact_email"],
        contact_phone=row[f"{prefix}contact_phone"], website=row[f"{prefix}website"],
    )


async def list_orgs(db: Reader) -> list[Organization]:
    """Every organization, by name."""
    return [_org(row) for row in await db.fetch_all("select * from organizations order by name")]


async def get_org(db: Reader, org_id: int) -> Organization | None:
    row = await db.fetch_one("select * from organizations where id = ?", (org_id,))
    return _org(row) if row else None


async def get_org_by_slug(db: Reader, slug: str) -> Organization | None:
    row = await db.fetch_one("select * from organizations where slug = ?", (slug,))
    return _org(row) if row else None


async def create_org(conn: Any, *, slug: str, name: str, name_en: str = "", contact_email: str = "",
                     contact_phone: str = "", website: str = "") -> int:
    """Insert an organization inside the caller's transaction; return its id."""
    cursor = await conn.execute(
        "insert into organizations (slug, name, name_en, contact_email, contact_phone, website) "
        "values (?, ?, ?, ?, ?, ?)",
        (slug, name, name_en, contact_email, contact_phone, website),
    )
    return int(cursor.lastrowid)


async def update_org(conn: Any, org_id: int, *, name: str, name_en: str, contact_email: str,
                     contact_phone: str, website: str) -> None:
    await conn.execute(
        "update organizations set name = ?, name_en = ?, contact_email = ?, contact_phone = ?, website = ?, "
        "updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') where id = ?",
        (name, name_en, contact_email, contact_phone, website, org_id),
    )
    await conn.execute("update sessions set revision = revision + 1, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', "
                       "'now') where org_id = ?", (org_id,))
    for row in await conn.fetch_all("select id from sessions where org_id = ?", (org_id,)):
        await reindex_session(conn, row[0])


# ---------------------------------------------------------------- venues

def _venue(row: sqlite3.Row) -> Venue:
    return Venue(
        id=row["id"], org_id=row["org_id"], name=row["name"], name_en=row["name_en"], address=row["address"],
        address_en=row["address_en"], capacity=row["capacity"], features=json.loads(row["features"]),
        access_notes=row["access_notes"], access_notes_en=row["access_notes_en"],
    )


async def list_venues(db: Reader, org_id: int) -> list[Venue]:
    """An organization's venues, by name."""
    rows = await db.fetch_all("select * from venues where org_id = ? order by name", (org_id,))
    return [_venue(row) for row in rows]


async def get_venue(db: Reader, venue_id: int) -> Venue | None:
    row = await db.fetch_one("select * from venues where id = ?", (venue_id,))
    return _venue(row) if row else None


async def venue_ids(db: Reader, org_id: int) -> set[int]:
    """The ids of an organization's venues (the only ones its sessions may use)."""
    return {row[0] for row in await db.fetch_all("select id from venues where org_id = ?", (org_id,))}


def _venue_values(data: VenueInput) -> tuple[Any, ...]:
    features = [code for code in dict.fromkeys(data.features)]
    return (data.name.strip(), data.name_en.strip(), data.address.strip(), data.address_en.strip(),
            data.capacity, json.dumps(features), data.access_notes.strip(), data.access_notes_en.strip())


async def create_venue(conn: Any, org_id: int, data: VenueInput) -> int:
    """Insert a venue (already validated); return its id."""
    cursor = await conn.execute(
        "insert into venues (org_id, name, name_en, address, address_en, capacity, features, access_notes, "
        "access_notes_en) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (org_id, *_venue_values(data)),
    )
    return int(cursor.lastrowid)


async def update_venue(conn: Any, venue_id: int, data: VenueInput) -> None:
    """Change a venue and re-index the sessions held there."""
    await conn.execute(
        "update venues set name = ?, name_en = ?, address = ?, address_en = ?, capacity = ?, features = ?, "
        "access_notes = ?, access_notes_en = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') where id = ?",
        (*_venue_values(data), venue_id),
    )
    # a new name or address is a change of place for calendar subscribers
    await conn.execute("update sessions set sequence = sequence + 1, revision = revision + 1, "
                       "updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') where venue_id = ?", (venue_id,))
    for row in await conn.fetch_all("select id from sessions where venue_id = ?", (venue_id,)):
        await reindex_session(conn, row[0])


# ---------------------------------------------------------------- sessions: reading

_SESSION_SELECT = """
select s.*,
    o.slug as org_slug, o.name as org_name, o.name_en as org_name_en, o.contact_email as org_contact_email,
    o.contact_phone as org_contact_phone, o.website as org_website,
    v.id as venue_id, v.org_id as venue_org_id, v.name as venue_name, v.name_en as venue_name_en,
    v.address as venue_address, v.address_en as venue_address_en, v.capacity as venue_capacity,
    v.features as venue_features, v.access_notes as venue_access_notes, v.access_notes_en as venue_access_notes_en,
    (select count(*) from registrations r where r.session_id = s.id and r.mode = 'in_person'
        and r.status in ('confirmed', 'attended')) as confirmed_in_person,
    (select count(*) from registrations r where r.session_id = s.id and r.mode = 'online'
        and r.status in ('confirmed', 'attended')) as confirmed_online,
    (select count(*) from registration_children c where c.session_id = s.id
        and c.status = 'confirmed') as confirmed_children
from sessions s
join organizations o on o.id = s.org_id
left join venues v on v.id = s.venue_id
"""


def _session(row: sqlite3.Row, offers: list[AccommodationOffer]) -> Session:
    venue = None
    if row["venue_id"] is not None:
        venue = Venue(
            id=row["venue_id"], org_id=row["venue_org_id"], name=row["venue_name"], name_en=row["venue_name_en"],
            address=row["venue_address"], address_en=row["venue_address_en"], capacity=row["venue_capacity"],
            features=json.loads(row["venue_features"]), access_notes=row["venue_access_notes"],
            access_notes_en=row["venue_access_notes_en"],
        )
    childcare = None
    if row["childcare_places"]:
        childcare = ChildcareOffer(
            places=row["childcare_places"], min_age_months=row["childcare_min_age_months"] or 0,
            max_age_months=row["childcare_max_age_months"] or 0, deadline=from_db(row["childcare_deadline"]),
            note=row["childcare_note"], after_deadline=row["childcare_after_deadline"],
        )
    return Session(
        id=row["id"], series_id=row["series_id"], recurrence_at=from_db(row["recurrence_at"]),
        org=Organization(id=row["org_id"], slug=row["org_slug"], name=row["org_name"], name_en=row["org_name_en"],
                         contact_email=row["org_contact_email"], contact_phone=row["org_contact_phone"],
                         website=row["org_website"]),
        title=row["title"], title_en=row["title_en"], description=row["description"],
        description_en=row["description_en"], kind=row["kind"], format=row["format"], venue=venue,
        online_url=row["online_url"], starts_at=from_db(row["starts_at"]), ends_at=from_db(row["ends_at"]),  # type: ignore[arg-type]
        timezone=row["timezone"], capacity_in_person=row["capacity_in_person"],
        capacity_online=row["capacity_online"], registration_opens_at=from_db(row["registration_opens_at"]),
        registration_closes_at=from_db(row["registration_closes_at"]), status=row["status"],
        languages=json.loads(row["languages"]), themes=json.loads(row["themes"]),
        themes_en=json.loads(row["themes_en"] or "[]"),
        facilitators=json.loads(row["facilitators"]), contact_name=row["contact_name"],
        contact_email=row["contact_email"], contact_phone=row["contact_phone"], childcare=childcare,
        accommodations=offers, cancel_reason=row["cancel_reason"], sequence=row["sequence"],
        created_at=from_db(row["created_at"]), updated_at=from_db(row["updated_at"]),  # type: ignore[arg-type]
        confirmed_in_person=row["confirmed_in_person"], confirmed_online=row["confirmed_online"],
        confirmed_children=row["confirmed_children"], revision=row["revision"], published_at=from_db(row["published_at"]),
        withdrawn_at=from_db(row["withdrawn_at"]), withdrawn_sequence=row["withdrawn_sequence"],
        theme_id=row["theme_id"],
    )


async def _offers_for(db: Reader, session_ids: list[int]) -> dict[int, list[AccommodationOffer]]:
    offers: dict[int, list[AccommodationOffer]] = {session_id: [] for session_id in session_ids}
    for start in range(0, len(session_ids), 500):
        chunk = session_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        rows = await db.fetch_all(
            f"select * from session_accommodations where session_id in ({marks}) order by rowid", chunk
        )
        for row in rows:
            offers[row["session_id"]].append(AccommodationOffer(
                code=row["code"], mode=row["mode"], deadline=from_db(row["deadline"]), capacity=row["capacity"],
                language=row["language"], note=row["note"], after_deadline=row["after_deadline"],
            ))
    return offers


async def _sessions_from_rows(db: Reader, rows: list[sqlite3.Row]) -> list[Session]:
    offers = await _offers_for(db, [row["id"] for row in rows])
    return [_session(row, offers[row["id"]]) for row in rows]


async def get_session(db: Reader, session_id: int) -> Session | None:
    """One session with its organization, venue, offers and confirmed counts."""
    row = await db.fetch_one(_SESSION_SELECT + " where s.id = ?", (session_id,))
    if row is None:
        return None
    return (await _sessions_from_rows(db, [row]))[0]


async def list_sessions(
    db: Reader,
    filters: SessionFilters,
    *,
    upcoming_after: datetime | None = None,
    drafts_of_org: int | None = None,
    all_drafts: bool = False,
    org_id: int | None = None,
    statuses: Iterable[str] | None = None,
    ever_published: bool = False,
    limit: int = 50,
    cursor: str | None = None,
    descending: bool = False,
) -> tuple[list[Session], str | None]:
    """Sessions matching the filters in start order, and the cursor of the next page (or None).

    Drafts are listed only for drafts_of_org (an organizer's own) or with all_drafts (an admin);
    ever_published leaves out sessions cancelled before they were published.
    """
    where, params = visibility_sql(filters, upcoming_after=upcoming_after, drafts_of_org=drafts_of_org,
                                    all_drafts=all_drafts, org_id=org_id, statuses=statuses,
                                    ever_published=ever_published)
    if cursor:
        position = decode_cursor(cursor)
        if position is not None:
            op = "<" if descending else ">"
            where.append(f"(s.starts_at {op} ? or (s.starts_at = ? and s.id {op} ?))")
            params.extend([position[0], position[0], position[1]])
    order = "desc" if descending else "asc"
    ordering = f" order by s.starts_at {order}, s.id {order}"
    # the page's ids first, so the counts of the select are made for its rows only (PostgreSQL would
    # otherwise count for every matching session before it sorts and keeps `limit`)
    page = ("select s.id from sessions s join organizations o on o.id = s.org_id"
            + (" where " + " and ".join(where) if where else "") + ordering + " limit ?")
    rows = await db.fetch_all(_SESSION_SELECT + f" where s.id in ({page})" + ordering, [*params, limit + 1])
    sessions = await _sessions_from_rows(db, rows[:limit])
    next_cursor = encode_cursor(sessions[-1]) if len(rows) > limit and sessions else None
    return sessions, next_cursor


async def count_sessions(
    db: Reader,
    filters: SessionFilters,
    *,
    upcoming_after: datetime | None = None,
    drafts_of_org: int | None = None,
    all_drafts: bool = False,
    statuses: Iterable[str] | None = None,
) -> int:
    """How many sessions list_sessions would return over all its pages."""
    where, params = visibility_sql(filters, upcoming_after=upcoming_after, drafts_of_org=drafts_of_org,
                                    all_drafts=all_drafts, org_id=None, statuses=statuses)
    sql = "select count(*) from sessions s join organizations o on o.id = s.org_id"
    row = await db.fetch_one(sql + (" where " + " and ".join(where) if where else ""), params)
    return int(row[0]) if row else 0


async def series_occurrences(db: Reader, series_id: int) -> list[Session]:
    """Every occurrence of a series, in the order of their original dates."""
    rows = await db.fetch_all(_SESSION_SELECT + " where s.series_id = ? order by s.recurrence_at, s.id", (series_id,))
    return await _sessions_from_rows(db, rows)


async def get_series(db: Reader, series_id: int) -> sqlite3.Row | None:
    return await db.fetch_one("select * from series where id = ?", (series_id,))


async def any_sessions(db: Reader) -> bool:
    """Whether the database holds a session at all (of any organization, in any state)."""
    return await db.fetch_one("select 1 from sessions limit 1") is not None


FEED_STATUSES = ("published", "cancelled", "completed")  # with ever_published: what public feeds show


async def feed_fingerprint(db: Reader, filters: SessionFilters, since: datetime) -> tuple[Any, ...]:
    """A cheap fingerprint of what a public feed shows: its sessions ending after `since`.

    It covers only what the public may see (never a draft, nor a session cancelled before it was
    published): their count (one leaving the feed changes it), revision counters (every edit),
    and the occurrences of the series they belong to that the public saw.
    """
    where, params = visibility_sql(filters, upcoming_after=since, drafts_of_org=None, all_drafts=False,
                                   org_id=None, statuses=FEED_STATUSES, ever_published=True)
    # portable SQL (SQLite and PostgreSQL): sums made floats and the series listed here as SQLite's
    # total() and group_concat() gave them before
    joined = " from sessions s join organizations o on o.id = s.org_id"
    row = await db.fetch_one("select max(s.updated_at), count(*), coalesce(sum(s.revision), 0)" + joined
                             + (" where " + " and ".join(where) if where else ""), params)
    assert row is not None
    series_ids = [r[0] for r in await db.fetch_all(
        "select distinct s.series_id" + joined + " where " + " and ".join([*where, "s.series_id is not null"])
        + " order by s.series_id", params)]
    series_list = ",".join(map(str, series_ids)) or None
    # occurrences taken back to draft count as they were when they left (see Session.public_trace)
    series: tuple[Any, ...] = (None, 0, 0.0, 0.0)
    if series_ids:
        found = await db.fetch_one(
            "select max(case when status = 'draft' then withdrawn_at else updated_at end), count(*), "
            "coalesce(sum(case when status = 'draft' then withdrawn_sequence else revision end), 0), "
            "coalesce(sum(case when status = 'draft' then 1 else 0 end), 0) "
            f"from sessions where series_id in ({','.join('?' * len(series_ids))}) and published_at is not null",
            series_ids)
        assert found is not None
        series = (found[0], found[1], float(found[2]), float(found[3]))
    return (max(filter(None, [row[0], series[0]]), default=None), row[1], float(row[2]), series_list, *series[1:])


async def session_revision(db: Reader, session_id: int) -> int:
    """How many times a session was changed (0 when there is no such session)."""
    row = await db.fetch_one("select revision from sessions where id = ?", (session_id,))
    return row[0] if row else 0


# ---------------------------------------------------------------- sessions: writing

_SESSION_COLUMNS = (
    "title", "title_en", "description", "description_en", "kind", "format", "venue_id", "online_url", "starts_at",
    "ends_at", "timezone", "capacity_in_person", "capacity_online", "registration_opens_at",
    "registration_closes_at", "status", "languages", "themes", "themes_en", "facilitators", "contact_name", "contact_email",
    "contact_phone", "childcare_places", "childcare_min_age_months", "childcare_max_age_months",
    "childcare_deadline", "childcare_note", "childcare_after_deadline",
)


def _session_values(data: SessionInput, status: str) -> tuple[Any, ...]:
    care = data.childcare
    return (
        data.title, data.title_en, data.description, data.description_en, data.kind, data.format, data.venue_id,
        data.online_url, to_db(data.starts_at), to_db(data.ends_at), data.timezone, data.capacity_in_person,
        data.capacity_online, to_db(data.registration_opens_at), to_db(data.registration_closes_at), status,
        json.dumps(data.languages, ensure_ascii=False), json.dumps(data.themes, ensure_ascii=False),
        json.dumps(data.themes_en, ensure_ascii=False), json.dumps(data.facilitators, ensure_ascii=False), data.contact_name, data.contact_email,
        data.contact_phone, care.places if care else None, care.min_age_months if care else None,
        care.max_age_months if care else None, to_db(care.deadline) if care else None, care.note if care else "",
        care.after_deadline if care else "closed",
    )


async def _write_offers(conn: Any, session_id: int, offers: list[AccommodationOffer]) -> None:
    await conn.execute("delete from session_accommodations where session_id = ?", (session_id,))
    for offer in offers:
        await conn.execute(
            "insert into session_accommodations (session_id, code, mode, deadline, capacity, language, note, "
            "after_deadline) values (?, ?, ?, ?, ?, ?, ?, ?)",
            (session_id, offer.code, offer.mode, to_db(offer.deadline), offer.capacity, offer.language, offer.note,
             offer.after_deadline),
        )


async def insert_session(conn: Any, org_id: int, data: SessionInput, *, series_id: int | None = None,
                         recurrence_at: datetime | None = None) -> int:
    """Insert one validated, normalised session; return its id."""
    columns = ("org_id", "series_id", "recurrence_at", *_SESSION_COLUMNS)
    cursor = await conn.execute(
        f"insert into sessions ({', '.join(columns)}) values ({', '.join('?' * len(columns))})",
        (org_id, series_id, to_db(recurrence_at), *_session_values(data, data.status)),
    )
    session_id = int(cursor.lastrowid)
    await _write_offers(conn, session_id, data.accommodations)
    await reindex_session(conn, session_id)
    return session_id


async def create_session(conn: Any, org_id: int, data: SessionInput) -> list[int]:
    """Insert a session, or every occurrence of a series; return the new ids in date order."""
    if data.recurrence is None:
        return [await insert_session(conn, org_id, data)]
    rule = data.recurrence
    cursor = await conn.execute(
        "insert into series (org_id, rrule, timezone, first_starts_at, duration_minutes) values (?, ?, ?, ?, ?)",
        (org_id, rrule_text(rule, data.starts_at, data.timezone), data.timezone, to_db(data.starts_at),
         int((data.ends_at - data.starts_at).total_seconds() // 60)),
    )
    series_id = int(cursor.lastrowid)
    ids = []
    for start in occurrence_starts(rule, data.starts_at, data.timezone):
        ids.append(await insert_session(conn, org_id, data.moved_to(start), series_id=series_id, recurrence_at=start))
    return ids


_VISIBLE_CHANGE = ("starts_at", "ends_at", "timezone", "venue_id", "format", "status", "title")


async def update_session(conn: Any, session_id: int, data: SessionInput, *, status: str,
                         cancel_reason: str | None = None) -> None:
    """Replace a session's values; bump its SEQUENCE when time, place, title or status change."""
    before = await conn.fetch_one(f"select {', '.join(_VISIBLE_CHANGE)} from sessions where id = ?", (session_id,))
    values = _session_values(data, status)
    after = dict(zip(_SESSION_COLUMNS, values))
    visible = any(before[name] != after[name] for name in _VISIBLE_CHANGE)
    assignments = ", ".join(f"{name} = ?" for name in _SESSION_COLUMNS)
    await conn.execute(
        f"update sessions set {assignments}, sequence = sequence + ?, revision = revision + 1, "
        "cancel_reason = coalesce(?, cancel_reason), updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') where id = ?",
        (*values, 1 if visible else 0, cancel_reason, session_id),
    )
    await _write_offers(conn, session_id, data.accommodations)
    await reindex_session(conn, session_id)


async def set_status(conn: Any, session_id: int, status: str, *, reason: str = "") -> None:
    """Publish, cancel or complete a session (a visible change: SEQUENCE goes up)."""
    await conn.execute(
        "update sessions set status = ?, cancel_reason = ?, sequence = sequence + 1, revision = revision + 1, "
        "updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') where id = ? and status != ?",
        (status, reason, session_id, status),
    )


async def imported_sessions(db: Reader, org_id: int, uids: Iterable[str]) -> dict[str, tuple[int, str]]:
    """The sessions an organization imported from events with these UIDs: {uid: (id, status)}."""
    found: dict[str, tuple[int, str]] = {}
    wanted = [uid for uid in dict.fromkeys(uids) if uid]
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        rows = await db.fetch_all(f"select id, status, import_uid from sessions where org_id = ? and import_uid in "
                                  f"({','.join('?' * len(chunk))}) order by id", (org_id, *chunk))
        for row in rows:
            found.setdefault(row["import_uid"], (row["id"], row["status"]))
    return found


async def set_import_uid(conn: Any, session_id: int, uid: str) -> None:
    await conn.execute("update sessions set import_uid = ? where id = ?", (uid, session_id))


async def duplicate_session(conn: Any, session: Session) -> int:
    """A new draft with the same content as `session` (outside any series)."""
    return await insert_session(conn, session.org.id, msgspec.structs.replace(session.as_input(), status="draft"))
