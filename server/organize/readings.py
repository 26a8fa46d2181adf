"""Staff pages for reading aids: the organization's dictionary of local names (/organize/readings)
and a session's やさしい日本語 summary with the guideline's checks (/organize/sessions/{id}/easy)."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from readings import easy, store
from readings.ruby import ruby_html
from server.auth.guards import Db
from server.core.forms import form_values
from server.core.i18n import gettext as _
from server.organize.flash import redirect_with_flash
from sessions.catalog import N_
from sessions.models import Session

FLAG_TITLES = {
    "long_sentence": N_("Long sentence (over {n} characters): split it into short sentences."),
    "double_negative": N_("Double negative: say it the positive way."),
    "rare_kanji": N_("Kanji outside the 常用漢字 list: write it in kana or add a reading."),
}


def _books(request: Request) -> None:
    books = getattr(request.app.state, "name_books", None)
    if books:
        books.expire()


async def _dictionary_page(db: Db, org_id: int, values: dict[str, str] | None = None,
                           errors: dict[str, str] | None = None) -> Template:
    return Template("pages/organize/readings.html", context={
        "entries": await store.names(db, org_id), "values": values or {}, "errors": errors or {}},
        status_code=422 if errors else 200)


@get("/organize/readings", include_in_schema=False)
async def dictionary(db: Db, acting_org: NamedDependency[int]) -> Template:
    """The organization's names and terms with their readings, and the form to add one."""
    return await _dictionary_page(db, acting_org)


@post("/organize/readings", include_in_schema=False)
async def add_name(request: Request, db: Db, acting_org: NamedDependency[int]) -> Template | Redirect:
    """Add an entry (or change the reading of one already there); a bad entry is shown again with why."""
    values = form_values(await request.form())
    try:
        surface, reading = store.clean_entry(str(values.get("surface", "")), str(values.get("reading", "")))
    except store.InvalidName as invalid:
        return await _dictionary_page(db, acting_org, values, {invalid.field: _(invalid.message)})
    async with db.transaction() as conn:
        await store.save_name(conn, acting_org, surface, reading)
    _books(request)
    return redirect_with_flash(request, "/organize/readings", "saved")


@post("/organize/readings/{entry_id:int}/delete", include_in_schema=False)
async def delete_name(request: Request, db: Db, acting_org: NamedDependency[int], entry_id: FromPath[int]) -> Redirect:
    """Remove one of the organization's entries (another organization's is 404)."""
    async with db.transaction() as conn:
        removed = await store.delete_name(conn, acting_org, entry_id)
    if not removed:
        raise NotFoundException()
    _books(request)
    return redirect_with_flash(request, "/organize/readings", "saved")


def _flags(text: str) -> list[dict[str, str]]:
    return [{"kind": flag.kind, "text": flag.text,
             "title": _(FLAG_TITLES[flag.kind]).format(n=easy.LONG_SENTENCE)} for flag in easy.check(text)]


@get("/organize/sessions/{session_id:int}/easy", include_in_schema=False)
async def easy_summary(request: Request, session_id: FromPath[int], session: NamedDependency[Session],
                       db: Db) -> Template:
    """The summary in easy Japanese, what the guideline would change in it, and how it reads with ふりがな
    (with the organization's dictionary of local names)."""
    body = await store.easy_summary(db, session_id)
    books = getattr(request.app.state, "name_books", None)
    preview = ruby_html(body, await books.current(session.org.slug)) if books else ruby_html(body)
    return Template("pages/organize/easy_summary.html", context={
        "session": session, "body": body, "flags": _flags(body), "preview": preview, "errors": {}})


@post("/organize/sessions/{session_id:int}/easy", include_in_schema=False)
async def save_easy_summary(request: Request, session_id: FromPath[int], session: NamedDependency[Session],
                            db: Db) -> Template | Redirect:
    """Keep the summary (empty removes it) and come back to its checks."""
    body = str(form_values(await request.form()).get("body", "")).replace("\r\n", "\n").strip()
    if len(body) > store.MAX_SUMMARY:
        return Template("pages/organize/easy_summary.html", status_code=422, context={
            "session": session, "body": body, "flags": [], "preview": "",
            "errors": {"body": _("The summary is too long (at most {max} characters).").format(max=store.MAX_SUMMARY)}})
    async with db.transaction() as conn:
        await store.save_easy_summary(conn, session_id, body)
    return redirect_with_flash(request, f"/organize/sessions/{session_id}/easy", "saved")


ROUTES = [dictionary, add_name, delete_name, easy_summary, save_easy_summary]
