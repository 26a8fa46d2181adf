"""Web attacks: an XSS corpus in every user-controlled field, checked on every page, export and calendar
feed; CSRF on every unsafe form; session fixation and logout; socket handshakes from a foreign origin or
with a forged token; the Content-Security-Policy enforced by real Chromium; the security headers."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup
from icalendar import Calendar
from litestar.testing import AsyncTestClient

from realtime import store as board_store
from realtime.board import Actor
from server.auth import accounts
from server.app import create_app
from server.organize.boards import board_errors, create_board
from server.core.middleware import LOGIN_COOKIE
from server.settings import Settings
from sessions import registration, scheduling, store
from sessions.models import AccommodationOffer, ChildcareOffer, SessionInput, VenueInput
from sessions.registration_models import AccommodationRequestInput, ChildInput, RegistrationInput
from sessions.validation import InvalidInput
from tests.harness import (
    PASSWORD, chromium, csrf_from, html, login, make_account, next_saturday, running_demo_server,
)

ROOT = Path(__file__).resolve().parent.parent

# each payload goes into every field at once; short enough for the 40-character display name
PAYLOADS = {
    "script": "<script>alert(1)</script>",
    "attribute breakout": "\"><img src=x onerror=alert(1)>",
    "single quote breakout": "'><svg onload=alert(1)>",
    "javascript url": "javascript:alert(1)",
    "svg onload": "<svg/onload=alert(1)>",
    "textarea end": "</textarea><script>alert(1)</script>",
    "template injection": "{{7*7}}{% raw %}${7*7}",
    "unicode tricks": "\u202e<b>evil</b>\u200b\uff1cscript\uff1e\u2028",
    "nul byte": "nul\x00<script>alert(1)</script>",
    "ics injection": "a\r\nATTENDEE:mailto:evil@example.com",
}
ACTIVE = re.compile(r"<\s*(script|svg|img|iframe|object|embed|b)\b", re.I)
FACILITATOR = Actor(id="f0", name="進行役", facilitator=True)


def stored(payload: str) -> str:
    """What a field may keep of a payload: NUL bytes are dropped or the input refused."""
    return payload.replace("\x00", "")


def plain(text: str) -> str:
    """Text without control characters and line breaks, to compare what survived."""
    return re.sub(r"[\x00-\x1f\x7f\u2028]+", "", text)


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def html_problems(body: str, where: str) -> list[str]:
    """Markup that only an injection would produce: inline script, event handlers, javascript: links,
    elements the payloads carry (img src=x, svg with onload), and text that closes a textarea early."""
    problems = []
    soup = BeautifulSoup(body, "html.parser")
    for tag in soup.find_all(True):
        for name, value in tag.attrs.items():
            values = value if isinstance(value, list) else [value]
            if name.lower().startswith("on"):
                problems.append(f"{where}: event handler attribute {name} on <{tag.name}>")
            if name.lower() in ("href", "src", "action", "formaction", "xlink:href", "data"):
                for item in values:
                    if re.sub(r"[\s\x00-\x1f]", "", str(item)).lower().startswith(("javascript:", "vbscript:", "data:text")):
                        problems.append(f"{where}: {name}={item!r} on <{tag.name}>")
        if tag.name == "script" and (not tag.get("src") or tag.string):
            # data blocks are not run; their JSON must not be able to close the element
            if tag.get("type") != "application/json" or "<" in (tag.string or ""):
                problems.append(f"{where}: inline <script>")
        if tag.name == "img" and tag.get("src") == "x":
            problems.append(f"{where}: injected <img>")
        if tag.name == "b" and tag.get_text() == "evil":
            problems.append(f"{where}: injected <b>")
    if re.search(r"<script>alert\(1\)</script>", body):
        problems.append(f"{where}: raw <script>alert(1)</script> in the page")
    for area in soup.find_all("textarea"):
        if area.find(True):
            problems.append(f"{where}: markup inside a textarea")
    return problems


# ---------------------------------------------------------------- one world per payload

async def xss_world(app: Any, client: AsyncTestClient, index: int, payload: str) -> dict[str, Any]:
    """An organization, venue, session, registration, board (notes, cluster, question, polls) and
    participant, each with the payload in every text field."""
    state = app.litestar.state
    db = state.db
    slug = f"xss-{index}"
    async with db.transaction() as conn:
        org_id = await store.create_org(conn, slug=slug, name=f"{payload} 市", name_en=payload)
    venue_id = await scheduling.create_venue(db, org_id, VenueInput(
        name=payload, name_en=payload, address=payload, access_notes=payload, capacity=50))
    start = next_saturday(weeks=3)
    data = SessionInput(
        title=payload, title_en=payload, description=f"{payload}\n\n{payload}", description_en=payload,
        kind="workshop", format="hybrid", starts_at=start, ends_at=start.replace(hour=start.hour + 2),
        venue_id=venue_id, online_url="https://meet.example.jp/room", capacity_in_person=20, capacity_online=20,
        status="published", themes=[payload], facilitators=[payload], contact_name=payload,
        childcare=ChildcareOffer(places=3, note=payload),
        accommodations=[AccommodationOffer(code="sign_language", mode="on_request", note=payload)])
    session_id = (await scheduling.create_sessions(db, org_id, data))[0]
    person = RegistrationInput(name=payload, name_kana=payload, email=f"p{index}@example.jp", mode="in_person",
                               note=payload, consent_sensitive=True, children=[ChildInput(age_months=30, notes=payload)],
                               accommodations=[AccommodationRequestInput(code="sign_language", note=payload)])
    try:
        result = await registration.register(db, session_id, person, notify=state.notify,
                                             derive_token=state.derive_token)
    except InvalidInput:  # a refused value is fine; register the rest of the payload without NUL
        result = await registration.register(db, session_id, RegistrationInput(**{
            **{f: getattr(person, f) for f in person.__struct_fields__},
            "name": stored(payload), "name_kana": stored(payload), "note": stored(payload)}),
            notify=state.notify, derive_token=state.derive_token)
    change = await client.post(f"/r/{result.token}/change", data={
        "_csrf_token": csrf_from(await client.get(f"/r/{result.token}")), "message": payload})
    assert change.status_code in (200, 303, 422), change.text[:300]
    config, errors = board_errors({"title": payload, "prompts": [payload, "二つめ"]})
    assert not errors, errors
    board_id = await create_board(db, session_id, org_id, config)
    board = await board_store.get_board(db, board_id)
    service = state.board_service
    async with db.transaction() as conn:
        participant_id, participant_token = await board_store.add_participant(conn, board_id, payload[:40], "online")
    participant = Actor(id=participant_id, name=payload[:40])

    async def act(kind: str, actor: Actor = FACILITATOR, **fields: Any) -> dict[str, Any]:
        outcome = await service.handle(board_id, kind, fields, actor, uuid.uuid4().hex)
        return outcome.result

    note = await act("note:add", participant, zone="z1", text=payload)
    if not note.get("ok"):  # NUL refused: the rest of the payload
        note = await act("note:add", participant, zone="z1", text=stored(payload))
    assert note["ok"], note
    note_id = note["note"] if isinstance(note.get("note"), str) else note.get("id") or note["note"]["id"]
    await act("phase:set", phase="group")
    await act("group:set", note=note_id, group=None, title=stored(payload))
    await act("question:ask", participant, text=stored(payload))
    choice = await act("poll:create", type="single_choice", question=stored(payload), options=[stored(payload), "B"],
                       live_results=True, anonymous=False)
    assert choice["ok"], choice
    await act("poll:open", poll=choice["id"])
    words = await act("poll:create", type="text", question=stored(payload), live_results=True)
    await act("poll:open", poll=words["id"])
    await act("poll:answer", participant, poll=words["id"], text=stored(payload)[:40])
    await act("votes:reveal", revealed=True)
    async with db.transaction() as conn:
        await board_store.set_outcome(conn, board_id, True, True)
    await service.forget(board_id)
    return {"org": slug, "venue": venue_id, "session": session_id, "token": result.token, "board": board_id,
            "code": board.join_code, "participant": participant_token}


PUBLIC_PAGES = ["/", "/sessions", "/sessions?q={q}", "/sessions?from={q}", "/sessions/{session}",
                "/sessions/{session}/register", "/orgs/{org}", "/boards/{board}/outcome", "/j/{code}",
                "/organize/login?next={q}", "/lang/xx?next={q}"]
REGISTRANT_PAGES = ["/r/{token}", "/r/{token}/cancel", "/r/{token}/erase", "/r/{token}?new=1"]
PARTICIPANT_PAGES = ["/boards/{board}", "/boards/{board}/list", "/boards/{board}/list?msg={q}"]
STAFF_PAGES = ["/organize?org={org}", "/organize/sessions/{session}", "/organize/sessions/{session}/edit",
               "/organize/sessions/{session}/registrations", "/organize/sessions/{session}/registrations/new",
               "/organize/sessions/{session}/cancel", "/organize/sessions/{session}/move",
               "/organize/sessions/{session}/boards", "/organize/venues?org={org}", "/organize/venues/{venue}/edit",
               "/organize/arrange", "/organize/admin", "/organize/admin/outbox", "/boards/{board}/facilitate",
               "/boards/{board}/present", "/boards/{board}/list?back=facilitate"]


def csv_cells(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def ics_problems(body: bytes, payload: str, where: str) -> list[str]:
    """A feed must parse, and no payload may add a property or a component of its own."""
    problems = []
    calendar = Calendar.from_ical(body)
    for component in calendar.walk():
        if "ATTENDEE" in component:
            problems.append(f"{where}: an injected ATTENDEE")
    text = body.decode()
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text):
        problems.append(f"{where}: control characters in the file")
    if re.search(r"^ATTENDEE", text, re.M):
        problems.append(f"{where}: a line starting with ATTENDEE")
    summaries = [str(e.get("summary")) for e in calendar.walk("VEVENT")]
    if not any(plain(payload).strip() in plain(s) for s in summaries):
        problems.append(f"{where}: the title did not survive as text: {summaries[:2]}")
    return problems


async def test_xss_corpus_is_inert_in_every_page_export_and_feed(tmp_path):
    settings = Settings(db_path=tmp_path / "taiwa.sqlite3", secret="xss-secret-" + "x" * 20,
                        base_url="http://testserver.local", rate_limits=False, background=False)
    app = create_app(settings)
    started = time.monotonic()
    problems: list[str] = []
    checks = 0
    fields_seeded = 0
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        db = app.litestar.state.db
        admin = await make_account(db, "admin@taiwa.example", role="admin", org="taiwa-admin")
        async with db.transaction() as conn:
            admin_login = await accounts.start_login(conn, admin.id)
            api_token = await accounts.create_api_token(conn, admin.id)
        worlds = {}
        for index, (name, payload) in enumerate(PAYLOADS.items()):
            worlds[name] = await xss_world(app, client, index, payload)
        fields_seeded = 33  # the text fields xss_world fills (org, venue, session, registration, board)
        for name, payload in PAYLOADS.items():
            world = {**worlds[name], "q": payload}
            from urllib.parse import quote
            world["q"] = quote(payload)
            audiences = [(PUBLIC_PAGES, {}), (REGISTRANT_PAGES, {}),
                         (PARTICIPANT_PAGES, {f"taiwa_bp_{world['board']}": world["participant"]}),
                         (STAFF_PAGES, {LOGIN_COOKIE: admin_login})]
            for pages, cookies in audiences:
                for template in pages:
                    url = template.format(**world)
                    client.cookies.clear()
                    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
                    answer = await client.get(url, headers=headers, follow_redirects=False)
                    checks += 1
                    if answer.status_code >= 500 or answer.status_code in (401, 403):
                        problems.append(f"[{name}] {url}: {answer.status_code}")
                        continue
                    if answer.status_code in (301, 302, 303, 307, 308):
                        location = answer.headers.get("location", "")
                        if not location.startswith("/") or location.startswith("//"):
                            problems.append(f"[{name}] {url}: redirect off the site to {location!r}")
                        continue
                    problems += [f"[{name}] {p}" for p in html_problems(answer.text, url)]
            # exports: data round-trips exactly; nothing is served as HTML
            staff = {"Cookie": f"{LOGIN_COOKIE}={admin_login}"}
            for url in (f"/organize/sessions/{world['session']}/registrations.csv", f"/boards/{world['board']}/export.csv",
                        f"/boards/{world['board']}/polls.csv"):
                client.cookies.clear()
                answer = await client.get(url, headers=staff)
                checks += 1
                assert answer.status_code == 200, (url, answer.status_code)
                assert answer.headers["content-type"].startswith("text/csv"), url
                assert answer.headers["content-disposition"].startswith("attachment"), url
                cells = [cell for line in csv_cells(answer.content) for cell in line]
                clean = plain(payload).strip()
                if not any(clean in plain(cell) for cell in cells):
                    problems.append(f"[{name}] {url}: the value did not survive as one cell")
                if any(cell[:1] in ("=", "+", "-", "@") and len(cell) > 1 and not cell[1:].replace(".", "").isdigit()
                       for cell in cells):
                    problems.append(f"[{name}] {url}: a cell that spreadsheets run as a formula")
            for url, headers in ((f"/boards/{world['board']}/export.json", staff),
                                 (f"/api/sessions/{world['session']}", {"Authorization": f"Bearer {api_token}"})):
                client.cookies.clear()
                answer = await client.get(url, headers=headers)
                checks += 1
                assert answer.status_code == 200, (url, answer.status_code)
                assert answer.headers["content-type"].startswith("application/json"), url
                if not any(plain(payload).strip() in plain(text) for text in strings(answer.json())):
                    problems.append(f"[{name}] {url}: the value is not in the JSON")
            client.cookies.clear()
            answer = await client.get(f"/boards/{world['board']}/export.md", headers=staff)
            checks += 1
            assert answer.headers["content-type"].startswith("text/markdown")
            assert answer.headers["content-disposition"].startswith("attachment")
            for url in ("/calendar.ics", f"/sessions/{world['session']}.ics", f"/orgs/{world['org']}/calendar.ics",
                        f"/r/{world['token']}/calendar.ics"):
                client.cookies.clear()
                answer = await client.get(url)
                checks += 1
                assert answer.status_code == 200, (url, answer.status_code)
                assert answer.headers["content-type"].startswith("text/calendar"), url
                if url != "/calendar.ics":
                    problems += [f"[{name}] {p}" for p in ics_problems(answer.content, payload, url)]
                elif re.search(rb"^ATTENDEE", answer.content, re.M):
                    problems.append(f"[{name}] /calendar.ics: an injected ATTENDEE line")
    print(f"\n[web] XSS: {len(PAYLOADS)} payloads x {fields_seeded} fields, {checks} responses checked "
          f"({len(PUBLIC_PAGES) + len(REGISTRANT_PAGES) + len(PARTICIPANT_PAGES) + len(STAFF_PAGES)} pages, "
          f"3 CSV, 2 JSON, 1 Markdown, 4 feeds per payload) in {time.monotonic() - started:.1f} s")
    assert not problems, "\n".join(problems[:60])


# ---------------------------------------------------------------- imported calendars and links

def ics_with(payload: str) -> bytes:
    escaped = payload.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n")
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//\r\nBEGIN:VEVENT\r\nUID:x1@example\r\n"
            "DTSTART:20310510T010000Z\r\nDTEND:20310510T030000Z\r\n"
            f"SUMMARY:{escaped}\r\nDESCRIPTION:{escaped}\r\nLOCATION:{escaped}\r\nURL:javascript:alert(1)\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n").encode()


@pytest.mark.parametrize("name", ["script", "attribute breakout", "javascript url", "textarea end", "unicode tricks"])
async def test_imported_calendar_text_is_inert_in_the_preview_and_the_drafts(client, db, name):
    payload = PAYLOADS[name]
    await make_account(db, "staff@kanazawa.example")
    await login(client, "staff@kanazawa.example")
    form = await client.get("/organize/import")
    preview = await client.post("/organize/import", data={"_csrf_token": csrf_from(form)},
                                files={"file": (f"{payload}.ics", ics_with(payload), "text/calendar")})
    assert preview.status_code == 200, preview.text[:500]
    assert html_problems(preview.text, "import preview") == []
    assert plain(payload) in plain(html(preview).get_text())
    done = await client.post("/organize/import/confirm", data={"_csrf_token": csrf_from(preview),
                                                               "content": html(preview).find("input", attrs={"name": "content"})["value"]},
                             follow_redirects=False)
    assert done.status_code == 303
    draft = (await db.fetch_one("select id from sessions order by id desc limit 1"))[0]
    for url in ("/organize", f"/organize/sessions/{draft}", f"/organize/sessions/{draft}/edit"):
        page = await client.get(url)
        assert page.status_code == 200, url
        assert html_problems(page.text, url) == []


async def test_javascript_urls_are_refused_where_a_link_is_made(client, db):
    """The online link (shown to registrants as a button) and an organization's website are links."""
    admin = await make_account(db, "admin@taiwa.example", role="admin", org="taiwa-admin")
    async with db.transaction() as conn:
        token = await accounts.create_api_token(conn, admin.id)
    for url in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "data:text/html,<script>"):
        answer = await client.post("/api/sessions", headers={"Authorization": f"Bearer {token}"}, json={
            "title": "リンク", "format": "online", "starts_at": "2031-05-10T10:00:00+09:00",
            "ends_at": "2031-05-10T12:00:00+09:00", "capacity_online": 5, "online_url": url})
        assert answer.status_code == 422, (url, answer.text)
    await login(client, "admin@taiwa.example")
    form = await client.get("/organize/admin/orgs/new")
    answer = await client.post("/organize/admin/orgs/new", data={
        "_csrf_token": csrf_from(form), "slug": "evil-org", "name": "x", "website": "javascript:alert(1)"})
    assert answer.status_code == 422
    assert await store.get_org_by_slug(db, "evil-org") is None


# ---------------------------------------------------------------- CSRF, session fixation, logout

async def test_every_unsafe_form_is_refused_without_a_valid_csrf_token(app, client, db):
    admin = await make_account(db, "admin@taiwa.example", role="admin", org="kanazawa")
    async with db.transaction() as conn:
        admin_login = await accounts.start_login(conn, admin.id)
    other = await client.get("/organize/login")  # a token from another browser's session
    foreign = csrf_from(other)
    routes = sorted({route.path for route in app.litestar.routes
                     for method in getattr(route, "methods", set())
                     if method in ("POST", "PUT", "PATCH", "DELETE") and not route.path.startswith("/api")})
    # the one exception: mail programs unsubscribe from a theme with a bare POST (RFC 8058); its secret
    # token is the proof (tests/test_ledger_follow.py)
    routes.remove("/themes/{slug:str}/unsubscribe/{token:str}")
    assert len(routes) >= 29, routes
    before = await db.fetch_all("select count(*) from sessions union all select count(*) from registrations "
                                "union all select count(*) from organizations union all select count(*) from accounts")
    checked = 0
    for path in routes:
        url = re.sub(r"\{[a-z_]+:int\}", "1", path).replace("{code:str}", "123456").replace("{token:str}", "tok")
        for label, cookie, data in (
            ("no token", f"{LOGIN_COOKIE}={admin_login}", {"name": "x", "title": "x"}),
            ("token from another session", f"{LOGIN_COOKIE}={admin_login}; taiwa_csrf=forged-cookie-value",
             {"_csrf_token": foreign, "name": "x"}),
            ("token without its cookie", f"{LOGIN_COOKIE}={admin_login}", {"_csrf_token": foreign, "name": "x"}),
        ):
            client.cookies.clear()
            answer = await client.post(url, data=data, headers={"Cookie": cookie}, follow_redirects=False)
            checked += 1
            assert answer.status_code == 403, (url, label, answer.status_code)
    after = await db.fetch_all("select count(*) from sessions union all select count(*) from registrations "
                               "union all select count(*) from organizations union all select count(*) from accounts")
    assert [tuple(r) for r in before] == [tuple(r) for r in after]
    print(f"\n[web] CSRF: {len(routes)} unsafe form routes x 3 = {checked} refusals")


async def test_login_issues_a_new_session_cookie_and_logout_invalidates_the_old_one(client, db):
    await make_account(db, "staff@kanazawa.example")
    planted = "attacker-chosen-session-id"
    client.cookies.set(LOGIN_COOKIE, planted)
    page = await client.get("/organize/login")
    answer = await client.post("/organize/login", data={"_csrf_token": csrf_from(page),
                                                        "email": "staff@kanazawa.example", "password": PASSWORD},
                               follow_redirects=False)
    assert answer.status_code == 303
    issued = answer.cookies.get(LOGIN_COOKIE)
    assert issued and issued != planted
    set_cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    client.cookies.clear()
    assert (await client.get("/organize", headers={"Cookie": f"{LOGIN_COOKIE}={planted}"},
                             follow_redirects=False)).status_code == 303
    # a second login from the same browser ends the first session
    client.cookies.set(LOGIN_COOKIE, issued)
    page = await client.get("/organize/login")
    again = await client.post("/organize/login", data={"_csrf_token": csrf_from(page),
                                                       "email": "staff@kanazawa.example", "password": PASSWORD},
                              follow_redirects=False)
    second = again.cookies.get(LOGIN_COOKIE)
    assert second and second != issued
    client.cookies.clear()
    assert (await client.get("/organize", headers={"Cookie": f"{LOGIN_COOKIE}={issued}"},
                             follow_redirects=False)).status_code == 303
    client.cookies.set(LOGIN_COOKIE, second)
    assert (await client.get("/organize", follow_redirects=False)).status_code == 200
    page = await client.get("/organize")
    out = await client.post("/organize/logout", data={"_csrf_token": csrf_from(page)}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.clear()
    stale = await client.get("/organize", headers={"Cookie": f"{LOGIN_COOKIE}={second}"}, follow_redirects=False)
    assert stale.status_code == 303 and stale.headers["location"].startswith("/organize/login")


# ---------------------------------------------------------------- headers

async def test_every_kind_of_answer_carries_the_security_headers(client, db):
    await make_account(db, "staff@kanazawa.example")
    for url in ("/", "/sessions", "/organize/login", "/no-such-page", "/api/sessions", "/calendar.ics",
                "/static/js/board.js", "/schema/openapi.json"):
        answer = await client.get(url)
        csp = answer.headers.get("content-security-policy", "")
        directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
        assert directives.get("script-src") == ["'self'"], (url, csp)
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, url
        assert directives.get("object-src") == ["'none'"] and directives.get("frame-ancestors") == ["'none'"], url
        assert directives.get("base-uri") == ["'self'"], url
        assert answer.headers.get("x-content-type-options") == "nosniff", url
        assert answer.headers.get("x-frame-options") == "DENY", url
        assert answer.headers.get("referrer-policy") in ("strict-origin-when-cross-origin", "no-referrer",
                                                         "same-origin"), url
    private = await client.get("/organize/login")
    assert "no-store" in private.headers.get("cache-control", "")


# ---------------------------------------------------------------- sockets and the browser

from tests.authz_world import connect, socket_server  # noqa: E402,F401 - the real server fixture


async def test_socket_handshake_from_a_foreign_origin_or_with_a_forged_token_is_refused(socket_server):  # noqa: F811
    base, world = socket_server
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        made = await http.post(f"/api/sessions/{world.session}/boards", json={"title": "起点", "prompts": ["a"]},
                               headers={"Authorization": f"Bearer {world.api_tokens['organizer']}"})
        board = made.json()
        joined = await http.post(f"/api/boards/{board['id']}/participants", json={"code": board["join_code"]})
        token = joined.json()["token"]
    for origin in ("https://evil.example", "null", base.replace("127.0.0.1", "localhost")):
        assert await connect(base, {"token": token}, {"Origin": origin}) is None, origin
    assert await connect(base, {"token": token[:-2] + "xx"}, {"Origin": base}) is None
    assert await connect(base, {"token": "tw_forged", "board": board["id"]}, {"Origin": base}) is None
    client = await connect(base, {"token": token}, {"Origin": base})
    assert client is not None  # the same token from the site's own origin is let in
    await client.disconnect()


@pytest.mark.browser
async def test_csp_stops_inline_script_in_chromium(tmp_path):
    with running_demo_server(tmp_path / "taiwa.sqlite3") as base:
        token = subprocess.run([sys.executable, "-m", "server.cli", "create-token", "--email",
                                "organizer@kanazawa.example"], cwd=ROOT, capture_output=True, text=True,
                               env={**os.environ, "TAIWA_DB": str(tmp_path / "taiwa.sqlite3")}, check=True).stdout.strip()
        payload = "<script>window.__xss=1</script><img src=x onerror=window.__xss=2>"
        async with httpx.AsyncClient(base_url=base) as http:
            made = await http.post("/api/sessions", headers={"Authorization": f"Bearer {token}"}, json={
                "title": payload, "description": payload, "status": "published", "format": "online",
                "online_url": "https://meet.example.jp/x", "capacity_online": 10,
                "starts_at": "2031-05-10T10:00:00+09:00", "ends_at": "2031-05-10T12:00:00+09:00"})
            assert made.status_code == 201, made.text
        session_url = f"{base}/sessions/{made.json()['id']}"
        async with chromium() as browser:
            context = await browser.new_context()
            # injected through DevTools (not the page), so it sees violations without being one
            await context.add_init_script("window.__violations = []; document.addEventListener("
                                          "'securitypolicyviolation', e => window.__violations.push(e.violatedDirective));")
            page = await context.new_page()
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            await page.goto(session_url)
            assert await page.evaluate("window.__xss") is None
            assert payload in await page.locator("h1").inner_text()

            # the same page with a real inline script added to the server's answer (its headers kept)
            async def inject(route: Any) -> None:
                response = await route.fetch()
                body = (await response.text()).replace("</body>", "<script>window.__xss = 'ran'</script></body>")
                await route.fulfill(response=response, body=body)

            await page.route(session_url, inject)
            await page.goto(session_url)
            await page.wait_for_timeout(300)
            assert await page.evaluate("window.__xss") is None
            violations = await page.evaluate("window.__violations")
            assert any(v.startswith("script-src") for v in violations), violations
            assert any("Content Security Policy" in text for text in console), console
            await browser.close()
