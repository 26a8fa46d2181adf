"""A theme as open data (オープンデータ): the JSON of `GET /api/themes/{slug}`, the CSV rows, and the
Atom feed of published responses. Built only from what the public page shows: published responses,
opinions grouped under issues, and the sessions the public may see."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ledger.models import STATUSES, Issue, Theme
from ledger.rules import status_counts

ATOM = "http://www.w3.org/2005/Atom"
CSV_COLUMNS = ["issue_id", "issue", "issue_status", "entry", "id", "date", "source_or_status", "department",
               "session_id", "text"]


def _local(value: datetime, tz: str = "Asia/Tokyo") -> str:
    return value.astimezone(ZoneInfo(tz)).isoformat()


def session_dict(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "title": row["title"], "starts_at": _local(datetime.fromisoformat(row["starts_at"]),
                                                                         row["timezone"])}


def theme_json(theme: Theme, sessions: Sequence[Any], issues: Sequence[Issue], *, base_url: str) -> dict[str, Any]:
    """The contract's theme shape: optional fields (session_id, department) only when present."""
    def optional(**values: Any) -> dict[str, Any]:
        return {key: value for key, value in values.items() if value not in (None, "")}

    return {
        "slug": theme.slug, "title": theme.title, "description": theme.description,
        "url": f"{base_url}/themes/{theme.slug}",
        "sessions": [session_dict(row) for row in sessions],
        "counts": status_counts(issues),
        "issues": [{
            "id": issue.id, "title": issue.title, "status": issue.status,
            "opinions": [{"id": o.id, "text": o.text, "source": o.source, "received_on": o.received_on.isoformat(),
                          **optional(session_id=o.session_id)} for o in issue.opinions],
            "responses": [{"id": r.id, "body": r.body, "status": r.status,
                           "published_at": _local(r.published_at),  # type: ignore[arg-type]
                           **optional(department=r.department, session_id=r.session_id)}
                          for r in issue.published_responses],
        } for issue in issues],
    }


def csv_rows(issues: Sequence[Issue]) -> list[list[Any]]:
    """One row per opinion and per published response of each issue, in the page's order."""
    rows: list[list[Any]] = []
    for issue in issues:
        head = [issue.id, issue.title, issue.status or ""]
        for o in issue.opinions:
            rows.append([*head, "opinion", o.id, o.received_on.isoformat(), o.source, "", o.session_id or "", o.text])
        for r in issue.published_responses:
            day = _local(r.published_at)[:10]  # type: ignore[arg-type]
            rows.append([*head, "response", r.id, day, r.status, r.department, r.session_id or "", r.body])
    return rows


def atom_feed(theme: Theme, responses: Sequence[Any], *, base_url: str, org_name: str,
              gettext: Callable[[str], str]) -> bytes:
    """Atom (RFC 4287): an entry per published response, newest first; ElementTree escapes every text."""
    page = f"{base_url}/themes/{theme.slug}"
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")

    def child(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    updated = max((datetime.fromisoformat(r["published_at"]) for r in responses), default=theme.created_at)
    child(feed, "id", page)
    child(feed, "title", theme.title)
    child(feed, "subtitle", theme.description or gettext("Responses of the city"))
    child(feed, "updated", updated.isoformat())
    child(feed, "link", rel="alternate", type="text/html", href=page)
    child(feed, "link", rel="self", type="application/atom+xml", href=f"{page}/feed.atom")
    child(child(feed, "author"), "name", org_name)
    for r in responses:
        at = datetime.fromisoformat(r["published_at"]).isoformat()
        entry = child(feed, "entry")
        child(entry, "id", f"{page}#response-{r['id']}")
        label = STATUSES[r["status"]]
        child(entry, "title", f"{gettext(label)}: {r['issue_title']}")
        child(entry, "published", at)
        child(entry, "updated", at)
        child(entry, "link", rel="alternate", type="text/html", href=f"{page}#issue-{r['issue_id']}")
        lines = [r["body"]]
        if r["department"]:
            lines.append(f"{gettext('Responsible section')}: {r['department']}")
        child(entry, "content", "\n\n".join(lines), type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
