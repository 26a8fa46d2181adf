"""Organizers import an existing event calendar (.ics) as draft sessions: upload, preview, confirm."""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect, Template
from litestar.di import NamedDependency

from server.core.errors import field_messages, form_with_errors
from server.core.i18n import gettext as _, translate
from server.auth.guards import Db
from sessions import scheduling, store
from sessions.ics_import import MAX_BYTES, Problem, read_calendar
from sessions.validation import InvalidInput, normalise_session, session_errors


async def _preview(raw: bytes, db: Any = None, org_id: int | None = None) -> dict[str, Any]:
    """What will be created or updated, and what cannot be read (each with its line number).

    Reading a large file takes seconds: it runs in a worker thread, so every other request goes on.
    An event imported before (the same UID) updates its draft; one whose session has been published
    since is left alone, and said so.
    """
    preview = await asyncio.to_thread(_read, raw)  # the thread keeps the reader's language (a copied context)
    if db is not None and org_id is not None and preview["events"]:
        earlier = await store.imported_sessions(db, org_id, [e.uid for e in preview["events"]])
        events, updates = [], set()
        for event in preview["events"]:
            found = earlier.get(event.uid) if event.uid else None
            if found is not None and found[1] != "draft":
                preview["problems"].append((event.line, _(
                    "This event was imported before and its session is no longer a draft; it is not changed: "
                    "%(title)s.") % {"title": event.data.title}))
                continue
            if found is not None:
                updates.add(event.line)
            events.append(event)
        preview["problems"].sort(key=lambda problem: problem[0])
        preview.update(events=events, updates=updates)
    return preview


def _read(raw: bytes) -> dict[str, Any]:
    preview = read_calendar(raw)
    events, problems = [], list(preview.problems)
    for item in preview.events:
        errors = session_errors(normalise_session(item.data), venue_ids=set())
        if errors:
            problems.append(Problem(item.line, errors[0].message, errors[0].params))
        else:
            events.append(item)
    problems.sort(key=lambda problem: problem.line)
    return {"fatal": translate(preview.fatal) if preview.fatal else None, "events": events,
            "problems": [(p.line, translate(p.message, p.params)) for p in problems], "updates": set()}


@get("/organize/import", include_in_schema=False)
async def import_form(request: Request, acting_org: NamedDependency[int]) -> Template:
    return Template("pages/organize/import.html", context={"stage": "upload", "error": None})


@post("/organize/import", include_in_schema=False, request_max_body_size=MAX_BYTES + 64 * 1024)
async def import_preview(request: Request, acting_org: NamedDependency[int]) -> Template:
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return form_with_errors(request, "pages/organize/import.html",
                                {"stage": "upload", "error": _("Choose an .ics file to import.")})
    raw = await upload.read(MAX_BYTES + 1)
    preview = await _preview(raw, request.app.state.db, acting_org)
    if preview["fatal"]:
        return form_with_errors(request, "pages/organize/import.html", {"stage": "upload", "error": preview["fatal"]})
    return Template("pages/organize/import.html", context={
        "stage": "preview", "error": None, **preview, "content": base64.b64encode(raw).decode(),
        "filename": upload.filename})


@post("/organize/import/confirm", include_in_schema=False, request_max_body_size=3 * MAX_BYTES)
async def import_confirm(request: Request, acting_org: NamedDependency[int], db: Db) -> Template | Redirect:
    """Create the readable events as drafts, all in one transaction."""
    form = await request.form()
    try:
        raw = base64.b64decode(str(form.get("content", "")), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    preview = await _preview(raw, db, acting_org)
    if preview["fatal"] or not preview["events"]:
        return form_with_errors(request, "pages/organize/import.html", {
            "stage": "upload", "error": preview["fatal"] or _("There is nothing to import.")})
    try:
        created, updated = await scheduling.import_drafts(db, acting_org, [(e.uid, e.data) for e in preview["events"]])
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/organize/import.html", {
            "stage": "upload", "error": "; ".join(field_messages(invalid.errors).values())})
    return Redirect(path="/organize", query_params={"imported": str(created + updated)}, status_code=303)


ROUTES = [import_form, import_preview, import_confirm]
