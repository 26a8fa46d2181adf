"""Organizers' view of registrations: totals, what to arrange by when, roster with check-in,
staff entry, request answers, CSV export, and the cross-session "to arrange" list."""

from __future__ import annotations

from typing import Any

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
from sessions import registration, store
from sessions import registration_store as rstore
from sessions.models import Session
from sessions.registration_models import Registration
from sessions.registration_store import AGE_BANDS, age_band
from sessions.validation import InvalidInput, zone


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


@get("/organize/sessions/{session_id:int}/registrations", include_in_schema=False)
async def registrations_page(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Template:
    entries = await rstore.session_registrations(db, session_id)
    return Template("pages/organize/registrations.html", context={
        "session": session, "registrations": entries, "summary": summary(session, entries, await rstore.totals(db, session_id)),
        "change_requests": await rstore.change_requests(db, session_id)})


@post("/organize/sessions/{session_id:int}/registrations/{registration_id:int}/check-in", include_in_schema=False)
async def check_in(request: Request, session_id: FromPath[int], registration_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Template | Redirect:
    """Toggle attendance; htmx swaps the roster row, a plain form post comes back to the roster."""
    entry = await rstore.get_registration(db, registration_id)
    if entry is None or entry.session_id != session_id:
        raise NotFoundException()
    if entry.status in ("confirmed", "waitlisted"):
        async with db.transaction() as conn:
            await rstore.set_checked_in(conn, registration_id, None if entry.checked_in_at else store.now_utc())
    if request.htmx:
        return Template("partials/_roster_row.html", context={
            "session": session, "entry": await rstore.get_registration(db, registration_id)})
    return Redirect(path=f"/organize/sessions/{session_id}/registrations#roster", status_code=303)


@post("/organize/sessions/{session_id:int}/registrations/{registration_id:int}/cancel", include_in_schema=False)
async def cancel_for_registrant(request: Request, session_id: FromPath[int],
                                registration_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Redirect:
    entry = await rstore.get_registration(db, registration_id)
    if entry is None or entry.session_id != session_id:
        raise NotFoundException()
    await registration.cancel_registration(db, entry, notify=request.app.state.notify)
    return Redirect(path=f"/organize/sessions/{session_id}/registrations", status_code=303)


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
                                    derive_token=request.app.state.derive_token, staff=True)
    except InvalidInput as invalid:
        errors = field_messages(invalid.errors)
    except registration.RegistrationClosed as closed:
        errors = {"form": translate(closed.message)}
    else:
        return Redirect(path=f"/organize/sessions/{session_id}/registrations", status_code=303)
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
    return Redirect(path=f"/organize/sessions/{row['session_id']}/registrations#requests", status_code=303)


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
    """Every open childcare and accommodation request of the organization, soonest deadline first."""
    rows = await rstore.pending_requests(db, None if account.is_admin else account.org_id)
    return Template("pages/organize/arrange.html", context={"rows": rows})


ROUTES = [registrations_page, check_in, cancel_for_registrant, staff_entry_form, staff_entry, answer_request,
          roster_csv, to_arrange]
