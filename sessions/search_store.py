"""SQL of finding sessions: the full-text index, and the conditions and cursors of the lists."""

from __future__ import annotations

import base64
import json
import unicodedata
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any

from sessions.models import Session, SessionFilters
from sessions.timestamps import from_db, to_db
from sessions.validation import zone


def search_text(value: str) -> str:
    """Text as indexed and searched: NFKC (全角 ASCII and half-width kana folded) and case-folded."""
    return unicodedata.normalize("NFKC", value).casefold()


async def reindex_session(conn: Any, session_id: int) -> None:
    """Rewrite a session's row in the search index (title, description, themes, place, organizer)."""
    row = await conn.fetch_one(
        "select s.title, s.title_en, s.description, s.description_en, s.themes, s.format, "
        "coalesce(v.name, '') || ' ' || coalesce(v.name_en, '') || ' ' || coalesce(v.address, '') as venue, "
        "o.name || ' ' || o.name_en as org from sessions s join organizations o on o.id = s.org_id "
        "left join venues v on v.id = s.venue_id where s.id = ?",
        (session_id,),
    )
    await conn.execute("delete from session_search where rowid = ?", (session_id,))
    if row is None:
        return
    online = "オンライン online" if row["format"] in ("online", "hybrid") else ""
    await conn.execute(
        "insert into session_search (rowid, title, description, themes, place) values (?, ?, ?, ?, ?)",
        (session_id, search_text(f"{row['title']} {row['title_en']}"),
         search_text(f"{row['description']} {row['description_en']}"),
         search_text(" ".join(json.loads(row["themes"]))),
         search_text(f"{row['venue']} {row['org']} {online}")),
    )


def encode_cursor(session: Session) -> str:
    """The cursor of the page that starts after this session."""
    raw = f"{to_db(session.starts_at)}|{session.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int] | None:
    """The (starts_at, id) a cursor points after, or None when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        starts_at, session_id = raw.split("|")
        from_db(starts_at)
        return starts_at, int(session_id)
    except (ValueError, UnicodeDecodeError):
        return None


def _like_pattern(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _filter_sql(filters: SessionFilters, tz_name: str = "Asia/Tokyo") -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    for term in search_text(filters.q).split()[:8]:
        if len(term) >= 3:
            where.append("s.id in (select rowid from session_search where session_search match ?)")
            params.append('"' + term.replace('"', '""') + '"')
        else:
            # trigram FTS cannot match one or two characters (対話, 託児): scan the index text instead
            where.append(
                "s.id in (select rowid from session_search where title like ?1 escape '\\' "
                "or description like ?1 escape '\\' or themes like ?1 escape '\\' or place like ?1 escape '\\')"
                .replace("?1", "?")
            )
            params.extend([_like_pattern(term)] * 4)
    tz = zone(tz_name)
    if filters.date_from:
        where.append("s.ends_at >= ?")
        params.append(to_db(datetime.combine(filters.date_from, time.min, tzinfo=tz)))
    if filters.date_to:
        where.append("s.starts_at < ?")
        params.append(to_db(datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=tz)))
    if filters.kind:
        where.append("s.kind = ?")
        params.append(filters.kind)
    if filters.format:
        where.append("s.format = ?")
        params.append(filters.format)
    if filters.childcare:
        where.append("s.childcare_places > 0")
    if filters.accommodation:
        where.append("exists (select 1 from session_accommodations a where a.session_id = s.id and a.code = ?)")
        params.append(filters.accommodation)
    if filters.org:
        where.append("o.slug = ?")
        params.append(filters.org)
    return where, params


def visibility_sql(
    filters: SessionFilters, *, upcoming_after: datetime | None, drafts_of_org: int | None, all_drafts: bool,
    org_id: int | None, statuses: Iterable[str] | None, ever_published: bool = False,
) -> tuple[list[str], list[Any]]:
    """The conditions (on `sessions s join organizations o`) and parameters of a list of sessions.

    ever_published keeps out sessions never published (cancelled before anyone could see them).
    """
    where, params = _filter_sql(filters)
    if ever_published:
        where.append("s.published_at is not null")
    if not all_drafts:
        if drafts_of_org is not None:
            where.append("(s.status != 'draft' or s.org_id = ?)")
            params.append(drafts_of_org)
        else:
            where.append("s.status != 'draft'")
    if org_id is not None:
        where.append("s.org_id = ?")
        params.append(org_id)
    if statuses is not None:
        wanted = list(statuses)
        where.append(f"s.status in ({','.join('?' * len(wanted))})")
        params.extend(wanted)
    if upcoming_after is not None and not filters.date_from:
        where.append("s.ends_at >= ?")
        params.append(to_db(upcoming_after))
    return where, params
