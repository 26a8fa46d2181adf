"""Organizers' view of registrations: totals, what to arrange by when, roster with check-in,
staff entry, request answers, CSV export, and the cross-session "to arrange" list with its CSV.

The roster is made for a tablet at the door: a search by name or kana, the count of those checked
in, and a check-in that is undone only after a second, confirming press."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.di import NamedDependency

from server.auth.guards import managers
from server.core.errors import field_messages, form_with_errors
from server.core.spreadsheet import csv_bytes
from server.core.forms import MAX_CHILD_FIELDS, form_values, registration_input_from_form
from server.core.i18n import gettext as _, translate
from server.core.templating import age_text, label
from server.auth.guards import Db, CurrentAccount
from server.organize.flash import redirect_with_flash
from sessions import registration, store
from sessions import registration_store as rstore
from sessions.catalog import ACCOMMODATIONS
from sessions.models import Session
from sessions.registration_models import Registration
from sessions.registration_store import AGE_BANDS, age_band
from sessions.validation import InvalidInput, zone

ROSTER_TARGET = "roster-results"  # the element the roster search swaps (htmx)


def summary(session: Session, registrations: list[Registration], kept: dict[str, int]) -> dict[str, Any]:
    """Counts an organizer plans with: seats by mode and status, children by age band, requests by code."""
    seats = {mode: {status: 0 for status in ("confirmed", "waitlisted", "cancelled", "attended")}
             for mode in ("in_person", "online")}
    bands = {name: 0 for _low, _high, name in AGE_BANDS}
    children = {"confirmed": 0, "waitlisted": 0}
    requests: dict[str, dict[str, int]] = {}
    for entry in registrations:
        seats[entry.mode][entry.status] += 1
        if entry.status == "cancelled":
            continue
        for child in entry.children:
            if child.status in children:
                children[child.status] += 1
                bands[age_band(child.age_months)] += child.status == "confirmed"
        for request in entry.requests:
            counts = requests.setdefault(request.code, {"requested": 0, "confirmed": 0, "unavailable": 0})
            if request.status in counts:
                counts[request.status] += 1
    for item, count in kept.items():  # totals kept after sensitive details were purged
        kind, _sep, key = item.partition(":")
        if kind == "childcare":
            bands[key] = bands.get(key, 0) + count
            children["confirmed"] += count
        else:
            requests.setdefault(key, {"requested": 0, "confirmed": 0, "unavailable": 0})["confirmed"] += count
    return {"seats": seats, "bands": bands, "children": children, "requests": requests}


def searchable(text: str) -> str:
    """Text as the roster search compares it: width and case folded, no spaces, katakana as hiragana
    (タナカ, ﾀﾅｶ and たなか find each other; 田中 花子 and 田中花子 too)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in folded if not c.isspace())


def matching(entries: list[Registration], query: str) -> list[Registration]:
    """The registrations whose name or kana contains the query."""
    wanted = searchable(query)
    if not wanted:
        return entries
    return [e for e in entries if wanted in searchable(e.name) or wanted in searchable(e.name_kana)]


def door_counts(entries: list[Registration]) -> dict[str, int]:
    """受付済 3/5: in-person registrants checked in, of those expected (confirmed in person)."""
    present = [e for e in entries if e.mode == "in_person" and e.status in ("confirmed", "waitlisted", "attended")]
    return {"checked_in": sum(1 for e in present if e.checked_in_at),
            "expected": sum(1 for e in present if e.status in ("confirmed", "attended"))}


def days_left(deadline: datetime | None, tz_name: str) -> int | None:
    """Whole days from today until a deadline's day in the session's zone (0: today, negative: passed)."""
    if deadline is None:
        return None
    tz = zone(tz_name)
    return (deadline.astimezone(tz).date() - store.now_utc().astimezone(tz).date()).days


def _roster_context(session: Session, entries: list[Registration], query: str, undo: int | None) -> dict[str, Any]:
    return {"session": session, "shown": matching(entries, query), "total": len(entries), "q": query,
            "undo": undo, "counts": door_counts(entries), "session_zone": zone(session.timezone)}


@get("/organize/sessions/{session_id:int}/registrations", include_in_schema=False)
async def registrations_page(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Template:
    """The roster first (search, counts, check-in), then totals, what to arrange, requests and changes.

    `q` filters the roster by name or kana (htmx asks for the roster alone); `undo` names the row
    whose check-in is asked to be undone (the confirming step without JavaScript)."""
    entries = await rstore.session_registrations(db, session_id)
    undo = request.query_params.get("undo", "")
    roster = _roster_context(session, entries, request.query_params.get("q", "")[:100],
                             int(undo) if undo.isdigit() else None)
    if request.htmx and request.htmx.target == ROSTER_TARGET:
        return Template("partials/_roster_results.html", context=roster)
    deadlines = {offer.code: days_left(offer.deadline, session.timezone) for offer in session.accommodations}
    if session.childcare:
        deadlines["childcare"] = days_left(session.childcare.deadline, session.timezone)
    return Template("pages/organize/registrations.html", context={
        **roster, "registrations": entries, "deadlines": deadlines,
        "summary": summary(session, entries, await rstore.totals(db, session_id)),
        "change_requests": await rstore.change_requests(db, session_id)})


async def _session_registration(db: Any, session_id: int, registration_id: int) -> Registration:
    """A registration of this session; one of another session (a guessed id) is 404."""
    entry = await rstore.get_registration(db, registration_id)
    if entry is None or entry.session_id != session_id:
        raise NotFoundException()
    return entry


@post("/organize/sessions/{session_id:int}/registrations/{registration_id:int}/check-in", include_in_schema=False)
async def check_in(request: Request, session_id: FromPath[int], registration_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Template | Redirect:
    """Check in or out at the door; htmx swaps the roster row (and the count), a plain post comes back.

    The buttons say what they mean (`to`: in, ask, out, keep), so two tablets at one door cannot undo
    each other; `ask` shows the confirming step before `out`. A post without `to` toggles. Online
    registrants are not checked in."""
    entry = await _session_registration(db, session_id, registration_id)
    to = form_values(await request.form()).get("to", "")
    wanted = {"in": True, "out": False, "": not entry.checked_in_at}.get(to)
    if wanted is not None and entry.mode == "in_person" and entry.status in ("confirmed", "waitlisted"):
        async with db.transaction() as conn:
            await rstore.set_checked_in(conn, registration_id, (entry.checked_in_at or store.now_utc()) if wanted else None)
    asking = to == "ask" and bool(entry.checked_in_at)
    if request.htmx:
        entries = await rstore.session_registrations(db, session_id)
        return Template("partials/_roster_row.html", context={
            "session": session, "entry": next(e for e in entries if e.id == registration_id),
            "undo": registration_id if asking else None, "counts": door_counts(entries), "swap_count": True,
            "session_zone": zone(session.timezone)})
    # back to the search for the next person, or to the row that asks to confirm
    where = f"?{urlencode({'undo': registration_id})}#roster-{registration_id}" if asking else "#roster"
    return Redirect(path=f"/organize/sessions/{session_id}/registrations{where}", status_code=303)


@post("/organize/sessions/{session_id:int}/registrations/{registration_id:int}/cancel", include_in_schema=False)
async def cancel_for_registrant(request: Request, session_id: FromPath[int],
                                registration_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Redirect:
    entry = await _session_registration(db, session_id, registration_id)
    await registration.cancel_registration(db, entry, notify=request.app.state.notify)
    return redirect_with_flash(request, f"/organize/sessions/{session_id}/registrations",
                               "notified" if entry.email else "saved")


@get("/organize/sessions/{session_id:int}/registrations/new", include_in_schema=False)
async def staff_entry_form(request: Request, session_id: FromPath[int], session: NamedDependency[Session]) -> Template:
    return Template("pages/organize/staff_entry.html", context={
        "session": session, "values": {"mode": "online" if session.format == "online" else "in_person"},
        "errors": {}, "child_fields": range(1, MAX_CHILD_FIELDS + 1), "now": store.now_utc()})


@post("/organize/sessions/{session_id:int}/registrations/new", include_in_schema=False)
async def staff_entry(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Template | Redirect:
    """A phone, paper or walk-in registration entered by staff: same rules, marked staff-entered."""
    values = form_values(await request.form())
    data, unreadable = registration_input_from_form(values, session, values.get("locale", "ja"))
    try:
        if unreadable:
            raise InvalidInput(unreadable)
        await registration.register(db, session_id, data, notify=request.app.state.notify,
                                    derive_token=request.app.state.derive_token, staff=True,
                                    same_email_ok=bool(values.get("same_email_ok")), seen=session)
    except InvalidInput as invalid:
        errors = field_messages(invalid.errors)
    except registration.AlreadyRegistered:
        errors = {"email": _("This email address is already registered for this session. To register a family "
                             "member who shares it, tick the box below the address.")}
    except registration.RegistrationClosed as closed:
        errors = {"form": translate(closed.message)}
    else:
        return redirect_with_flash(request, f"/organize/sessions/{session_id}/registrations#roster", "added")
    return form_with_errors(request, "pages/organize/staff_entry.html", {
        "session": session, "values": values, "errors": errors, "child_fields": range(1, MAX_CHILD_FIELDS + 1),
        "now": store.now_utc()})


@post("/organize/requests/{request_id:int}", include_in_schema=False)
async def answer_request(request: Request, request_id: FromPath[int], support_request: NamedDependency[Any], db: Db) -> Redirect:
    """Set an accommodation request to arranged / could not be arranged, with a message for the registrant."""
    row = support_request
    values = form_values(await request.form())
    await registration.set_request_status(db, request_id, values.get("status", ""), values.get("message", ""),
                                          notify=request.app.state.notify)
    registrant = await rstore.get_registration(db, row["registration_id"])
    return redirect_with_flash(request, f"/organize/sessions/{row['session_id']}/registrations#requests",
                               "notified" if registrant and registrant.email else "saved")


@get("/organize/sessions/{session_id:int}/registrations.csv", include_in_schema=False)
async def roster_csv(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Response[bytes]:
    """The roster as UTF-8 CSV with a BOM (Excel in Japan opens it); sensitive columns for organizers only."""
    entries = await rstore.session_registrations(db, session_id)
    headers = [_("No."), _("Status"), _("How they take part"), _("Name"), _("Name in kana"), _("Email address"),
               _("Phone"), _("Registered at"), _("Checked in"), _("Entered by staff"), _("Childcare"),
               _("Support requested"), _("Notes")]
    rows = []
    for number, entry in enumerate(entries, start=1):
        rows.append([
            number, label("registration_statuses", entry.status), label("registration_modes", entry.mode),
            entry.name, entry.name_kana, entry.email, entry.phone,
            entry.created_at.astimezone(zone(session.timezone)).strftime("%Y-%m-%d %H:%M"),
            _("Yes") if entry.checked_in_at else "", _("Yes") if entry.staff_entered else "",
            "; ".join(f"{age_text(c.age_months)} {label('registration_statuses', c.status)} {c.notes}".strip()
                      for c in entry.children),
            "; ".join(f"{label('accommodations', r.code)} {label('request_statuses', r.status)} {r.note}".strip()
                      for r in entry.requests),
            entry.note,
        ])
    return Response(csv_bytes(headers, rows), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="roster-{session_id}.csv"', "Cache-Control": "no-store"})


@get("/organize/arrange", include_in_schema=False, guards=[managers])  # support needs: not for facilitators
async def to_arrange(account: CurrentAccount, db: Db) -> Template:
    """Every open childcare and accommodation request of the organization, soonest deadline first,
    with the days left until each deadline."""
    rows = await rstore.pending_requests(db, None if account.is_admin else account.org_id)
    items = [{**dict(row), "days_left": days_left(store.from_db(row["deadline"]), row["timezone"])} for row in rows]
    return Template("pages/organize/arrange.html", context={
        "rows": items, "codes": sorted({row["code"] or "childcare" for row in rows}, key=_catalog_order)})


def _catalog_order(code: str) -> int:
    return list(ACCOMMODATIONS).index(code) if code in ACCOMMODATIONS else len(ACCOMMODATIONS)


@get("/organize/arrange.csv", include_in_schema=False, guards=[managers])
async def to_arrange_csv(request: Request, account: CurrentAccount, db: Db) -> Response[bytes]:
    """The open requests one per row, as UTF-8 CSV with a BOM, to send to the interpreters', captioners'
    or childcare helpers' association (`code` narrows to one kind, `session` to one session).

    Sensitive (names and needs): organizers only, never cached, and nothing of it is logged."""
    code = request.query_params.get("code")
    code = code if code in ACCOMMODATIONS or code == "childcare" else None
    session = request.query_params.get("session", "")
    rows = await rstore.requests_to_arrange(db, None if account.is_admin else account.org_id, code=code,
                                            session_id=int(session) if session.isdigit() else None)
    headers = [_("Request deadline"), _("Days left"), _("Support"), _("Session"), _("Date and time"), _("Venue"),
               _("Address"), _("Name"), _("Name in kana"), _("Status"), _("How they take part"), _("Notes"),
               _("Registered at")]
    table = []
    for row in rows:
        tz = zone(row["timezone"])
        deadline = store.from_db(row["deadline"])
        support = (f"{_('Childcare')} {age_text(row['age_months'])}" if row["item"] == "childcare"
                   else " ".join(filter(None, (label("accommodations", row["code"]), row["language"]))))
        table.append([
            deadline.astimezone(tz).strftime("%Y-%m-%d") if deadline else "", days_left(deadline, row["timezone"]),
            support, row["title"], store.from_db(row["starts_at"]).astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            row["venue"] or "", row["address"] or "", row["name"], row["name_kana"],
            label("registration_statuses", row["status"]), label("registration_modes", row["mode"]),
            " ".join(filter(None, (row["note"], _("requested after the deadline") if row["late"] else ""))),
            store.from_db(row["created_at"]).astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        ])
    name = "to-arrange" + (f"-{code}" if code else "") + (f"-session-{int(session)}" if session.isdigit() else "")
    return Response(csv_bytes(headers, table), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}.csv"', "Cache-Control": "no-store"})


ROUTES = [registrations_page, check_in, cancel_for_registrant, staff_entry_form, staff_entry, answer_request,
          roster_csv, to_arrange, to_arrange_csv]
