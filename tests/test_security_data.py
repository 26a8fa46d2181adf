"""Data protection through a real `taiwa serve` process and the real CLI: a backup taken while a workshop is
writing is a consistent copy; the retention purge (CLI and background) removes children's details and support
needs after the retention period and keeps anonymous totals; every page with personal data is `no-store`;
personal data never travels in URLs (only the registrant's token does); and none of it reaches the logs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp  # noqa: F401 - python-socketio's AsyncClient needs it for its websocket transport
import httpx
import pytest
import socketio
from bs4 import BeautifulSoup

from server.auth import accounts
from server.core.database import Database
from sessions.models import AccommodationOffer, ChildcareOffer
from tests.harness import (
    PASSWORD, ServerProcess, free_port, in_own_loop, make_account, make_session, make_venue, next_saturday, not_taiwa,
    open_database,
)
from tests.harness import read_db as read

ROOT = Path(__file__).resolve().parent.parent
NS = "/board"
SECRET = "data-protection-secret-0123456789abcdef"


# ---------------------------------------------------------------- real processes and the file

class Server(ServerProcess):
    """`python -m server.cli serve` with its stdout and stderr captured in files (the access log is on)."""

    def __init__(self, db_path: Path, folder: Path, **env: str) -> None:
        port = free_port()
        super().__init__(db_path, folder / f"stdout-{port}.log", stderr_path=folder / f"stderr-{port}.log", port=port,
                         secret=SECRET, env={"TAIWA_RATE_LIMITS": "off", "TAIWA_FORM_MIN_SECONDS": "0", **env},
                         ready="/api/orgs", inherit=not_taiwa)

    def logs(self) -> str:
        return self.log()


def taiwa(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TAIWA_")}
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**environment, **env})


in_thread = in_own_loop  # run an async seeding function on its own loop (away from the test's)


@dataclass
class Seeded:
    db_path: Path
    sessions: dict[str, int]
    api_token: str
    org_id: int = 0
    admin_id: int = 0


async def _seed(db_path: Path, titles: list[str]) -> Seeded:
    async with open_database(db_path) as db:
        account = await make_account(db, "organizer@kanazawa.example")
        admin = await make_account(db, "admin@taiwa.example", role="admin")
        venue = await make_venue(db, account.org_id)
        sessions = {}
        for week, title in enumerate(titles, start=3):
            sessions[title] = await make_session(
                db, account.org_id, venue, title=title, kind="workshop", starts_at=next_saturday(weeks=week),
                childcare=ChildcareOffer(places=10, min_age_months=6),
                accommodations=[AccommodationOffer(code="sign_language", mode="on_request"),
                                AccommodationOffer(code="wheelchair_space", mode="on_request")])
        async with db.transaction() as conn:
            token = await accounts.create_api_token(conn, account.id, "data tests")
    return Seeded(db_path, sessions, token, account.org_id, admin.id)


def seed(db_path: Path, titles: list[str]) -> Seeded:
    return in_thread(_seed(db_path, titles))


# ---------------------------------------------------------------- backup while a workshop writes

async def test_backup_while_a_workshop_adds_notes_is_a_consistent_prefix_of_the_log(tmp_path):
    seeded = await asyncio.to_thread(seed, tmp_path / "taiwa.sqlite3", ["停電に強いワークショップ"])
    server = await asyncio.to_thread(Server(seeded.db_path, tmp_path).start)
    organizer = {"Authorization": f"Bearer {seeded.api_token}"}
    acked: list[tuple[str, str, int, float]] = []  # (actor, op, seq, when acked)
    clients: list[socketio.AsyncClient] = []
    copies: list[tuple[Path, float, subprocess.CompletedProcess[str]]] = []
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
            board = (await http.post(f"/api/sessions/{seeded.sessions['停電に強いワークショップ']}/boards",
                                     headers=organizer, json={"title": "書く", "prompts": ["良いところ", "困りごと"]})).json()
            people = [(await http.post(f"/api/boards/{board['id']}/participants",
                                       json={"display_name": f"書く人{n}", "code": board["join_code"]})).json()
                      for n in range(4)]
        for person in people:
            sio = socketio.AsyncClient(reconnection=False)
            await sio.connect(server.base, namespaces=[NS], auth={"token": person["token"]}, transports=["websocket"],
                              wait_timeout=20)
            clients.append(sio)

        stop = asyncio.Event()  # cancelling alone can be lost on Python 3.11 (wait_for inside sio.call)

        async def write(sio: socketio.AsyncClient, actor: str) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                op = f"{actor}-{n}"
                answer = await sio.call("note:add", {"op": op, "zone": "z1", "text": f"{actor} のメモ {n}"},
                                        namespace=NS, timeout=30)
                assert answer["ok"], answer
                acked.append((actor, op, answer["seq"], time.monotonic()))

        writers = [asyncio.create_task(write(sio, p["participant"])) for sio, p in zip(clients, people)]
        await asyncio.sleep(0.5)
        for n in range(3):
            copy = tmp_path / f"backup-{n}.sqlite3"
            began = time.monotonic()
            result = await asyncio.to_thread(taiwa, "backup", str(copy), "--db", str(seeded.db_path))
            copies.append((copy, began, result))
            await asyncio.sleep(0.3)
        stop.set()
        for task in writers:
            assert not task.done(), task.exception()
            task.cancel()
        await asyncio.gather(*writers, return_exceptions=True)
    finally:
        for sio in clients:
            await sio.disconnect()
        await asyncio.to_thread(server.stop)

    live = {r["seq"]: (r["type"], r["data"], r["actor"])
            for r in read(seeded.db_path, "select * from board_events where board_id = ?", (board["id"],))}
    for copy, began, result in copies:
        assert result.returncode == 0, result.stderr
        assert "integrity: ok" in result.stdout
        assert read(copy, "pragma integrity_check")[0][0] == "ok"
        assert read(copy, "pragma foreign_key_check") == []
        events = {r["seq"]: (r["type"], r["data"], r["actor"])
                  for r in read(copy, "select * from board_events where board_id = ?", (board["id"],))}
        assert sorted(events) == list(range(1, len(events) + 1)), "the copy's log has a gap"
        assert all(live[seq] == event for seq, event in events.items()), "the copy is not a prefix of the log"
        assert len(events) < len(live), "the workshop was still writing after the backup"
        ops = {(r["actor"], r["op"]): json.loads(r["result"])["seq"]
               for r in read(copy, "select * from board_ops where board_id = ?", (board["id"],))}
        assert all(seq in events for seq in ops.values()), "an op in the copy points past its log"
        assert len(ops) == len(events)  # each note:add is one op and one event: no half of a write
        before = [(actor, op, seq) for actor, op, seq, when in acked if when < began]
        assert before and all(ops.get((actor, op)) == seq for actor, op, seq in before), \
            "a note acknowledged before the backup began is missing from it"
        # the copy opens as the app opens a database (migrations already applied)
        assert in_thread(_open_and_count(copy)) == len(events)
    print(f"\nbackup under load: {len(copies)} copies while {len(acked)} notes were acknowledged; copy logs "
          f"{[len(read(c, 'select seq from board_events')) for c, _b, _r in copies]} of {len(live)} events")


async def _open_and_count(path: Path) -> int:
    db = Database(path)
    await db.open()
    try:
        row = await db.fetch_one("select count(*) from board_events")
        return int(row[0])
    finally:
        await db.close()


# ---------------------------------------------------------------- retention purge

CHILD_NOTE = "そばとキウイのアレルギー（保存期間テスト）"
SUPPORT_NOTE = "左耳に補聴器、前方の席を希望（保存期間テスト）"


async def register_with_details(http: httpx.AsyncClient, session_id: int, n: int) -> dict[str, Any]:
    answer = await http.post(f"/api/sessions/{session_id}/registrations", json={
        "name": f"保存 太郎{n}", "email": f"retention{n}@example.jp", "mode": "in_person", "consent_sensitive": True,
        "children": [{"age_months": 30, "notes": f"{CHILD_NOTE}{n}"}, {"age_months": 60, "notes": f"{CHILD_NOTE}{n}"}],
        "accommodations": [{"code": "sign_language", "note": f"{SUPPORT_NOTE}{n}"}, {"code": "wheelchair_space"}]})
    assert answer.status_code == 201, answer.text
    return answer.json()


def move_session(db_path: Path, session_id: int, ended_days_ago: float) -> None:
    """Move a session into the past (as time passing would), straight in the file while no server runs."""
    end = datetime.now(timezone.utc) - timedelta(days=ended_days_ago)
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("update sessions set starts_at = ?, ends_at = ? where id = ?",
                     ((end - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                      session_id))
    conn.close()


def sensitive(db_path: Path, session_id: int) -> dict[str, Any]:
    """What the file still holds of a session's sensitive details, and its anonymous totals."""
    return {
        "children": read(db_path, "select count(*) from registration_children where session_id = ?", (session_id,))[0][0],
        "requests": read(db_path, "select count(*) from accommodation_requests where session_id = ?", (session_id,))[0][0],
        "mail with details": read(db_path, "select count(*) from outbox o join registrations r on r.id = o.registration_id "
                                           "where r.session_id = ? and o.body != ''", (session_id,))[0][0],
        "totals": {r["item"]: r["count"] for r in read(
            db_path, "select item, count from sensitive_totals where session_id = ?", (session_id,))},
        "registrations": read(db_path, "select count(*) from registrations where session_id = ?", (session_id,))[0][0],
    }


@pytest.fixture
def past_sessions(tmp_path: Path) -> Seeded:
    """Three sessions with registrants who gave children's details and support needs: one ended 40 days ago,
    one 10 days ago, one still ahead."""
    seeded = seed(tmp_path / "taiwa.sqlite3", ["40日前の対話の場", "10日前の対話の場", "来月の対話の場"])
    server = Server(seeded.db_path, tmp_path).start()
    try:
        async def register_all() -> None:
            async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
                for session_id in seeded.sessions.values():
                    for n in range(3):
                        await register_with_details(http, session_id, n)
        in_thread(register_all())
    finally:
        server.stop()
    move_session(seeded.db_path, seeded.sessions["40日前の対話の場"], 40)
    move_session(seeded.db_path, seeded.sessions["10日前の対話の場"], 10)
    return seeded


EXPECTED_TOTALS = {"childcare:2-3": 3, "childcare:4-6": 3, "accommodation:sign_language": 3,
                   "accommodation:wheelchair_space": 3}


def test_purge_sensitive_removes_old_details_keeps_totals_and_spares_recent_sessions(past_sessions):
    old, recent, ahead = (past_sessions.sessions[t] for t in ("40日前の対話の場", "10日前の対話の場", "来月の対話の場"))
    before = {s: sensitive(past_sessions.db_path, s) for s in (old, recent, ahead)}
    assert all(b["children"] == 6 and b["requests"] == 6 and b["mail with details"] == 3 for b in before.values())

    result = taiwa("purge-sensitive", "--db", str(past_sessions.db_path), TAIWA_RETENTION_DAYS="30")

    assert result.returncode == 0, result.stderr
    assert "1 sessions" in result.stdout or " 1 " in result.stdout, result.stdout
    purged = sensitive(past_sessions.db_path, old)
    assert (purged["children"], purged["requests"], purged["mail with details"]) == (0, 0, 0)
    assert purged["totals"] == EXPECTED_TOTALS  # anonymous totals stay for the reports
    assert purged["registrations"] == 3  # seats are not sensitive: the count of who came stays
    assert read(past_sessions.db_path, "select count(*) from registrations where session_id = ? and purged_at is null",
                (old,))[0][0] == 0
    for kept in (recent, ahead):
        assert sensitive(past_sessions.db_path, kept) == before[kept]
    again = taiwa("purge-sensitive", "--db", str(past_sessions.db_path), "--days", "5")
    assert again.returncode == 0, again.stderr
    assert (sensitive(past_sessions.db_path, recent)["children"], sensitive(past_sessions.db_path, ahead)["children"]) \
        == (0, 6)
    assert sensitive(past_sessions.db_path, recent)["totals"] == EXPECTED_TOTALS
    assert sensitive(past_sessions.db_path, old)["totals"] == EXPECTED_TOTALS  # a second run does not erase totals


def test_purged_details_are_not_left_readable_in_the_database_file(past_sessions, tmp_path):
    """Deleted rows stay in SQLite's free space unless it is overwritten: a copy of the file would still hold
    the children's allergies. After the purge the file itself must not contain them."""
    old = past_sessions.sessions["40日前の対話の場"]
    other = [s for s in past_sessions.sessions.values() if s != old]
    conn = sqlite3.connect(past_sessions.db_path)
    with conn:  # keep only the old session's details, so any copy of the note left in the file is a leftover
        for table in ("registration_children", "accommodation_requests"):
            conn.execute(f"delete from {table} where session_id in ({','.join('?' * len(other))})", other)
        conn.execute("update outbox set body = '', ics = null")
    conn.execute("vacuum")  # start from a file with no free space holding earlier copies
    conn.close()
    assert CHILD_NOTE.encode() in past_sessions.db_path.read_bytes()
    # the check can fail: a plain delete (secure_delete off, the default of SQLite's own builds; Debian's
    # build turns it on) leaves the text in the file
    control = tmp_path / "control.sqlite3"
    control.write_bytes(past_sessions.db_path.read_bytes())
    conn = sqlite3.connect(control)
    conn.execute("pragma secure_delete = off")
    with conn:
        conn.execute("delete from registration_children")
    conn.close()
    assert read(control, "select count(*) from registration_children")[0][0] == 0
    assert CHILD_NOTE.encode() in control.read_bytes()

    result = taiwa("purge-sensitive", "--db", str(past_sessions.db_path), "--days", "30")

    assert result.returncode == 0, result.stderr
    assert not Path(str(past_sessions.db_path) + "-wal").exists() or \
        Path(str(past_sessions.db_path) + "-wal").stat().st_size == 0
    raw = past_sessions.db_path.read_bytes()
    assert CHILD_NOTE.encode() not in raw, "a purged child's allergy note is still in the database file"
    assert SUPPORT_NOTE.encode() not in raw, "a purged support need is still in the database file"


def test_the_running_server_purges_in_the_background_after_the_retention_period(past_sessions, tmp_path):
    old, recent, ahead = (past_sessions.sessions[t] for t in ("40日前の対話の場", "10日前の対話の場", "来月の対話の場"))
    server = Server(past_sessions.db_path, tmp_path, TAIWA_RETENTION_DAYS="7").start()
    try:
        deadline = time.monotonic() + 30
        while sensitive(past_sessions.db_path, recent)["children"] and time.monotonic() < deadline:
            time.sleep(0.2)
        for purged in (old, recent):
            state = sensitive(past_sessions.db_path, purged)
            assert (state["children"], state["requests"], state["mail with details"]) == (0, 0, 0), purged
            assert state["totals"] == EXPECTED_TOTALS
        kept = sensitive(past_sessions.db_path, ahead)
        assert (kept["children"], kept["requests"]) == (6, 6)
        # the organizer still sees the anonymous totals of the purged session, and no details
        roster = httpx.get(f"{server.base}/api/sessions/{recent}/registrations",
                           headers={"Authorization": f"Bearer {past_sessions.api_token}"})
        assert roster.status_code == 200
        assert CHILD_NOTE not in roster.text and SUPPORT_NOTE not in roster.text
    finally:
        server.stop()


# ---------------------------------------------------------------- personal data: caching, URLs and logs

RESIDENT = {"name": "綿貫 蒼一郎", "name_kana": "ワタヌキ ソウイチロウ", "email": "soichiro.watanuki.7731@example.jp",
            "phone": "090-7731-4428", "child_notes": "ピーナッツ除去食7731", "support_note": "補聴器の電池予備7731",
            "note": "車で送迎7731", "change": "駐輪場の場所7731を知りたい"}
API_RESIDENT = {"name": "鰐淵 美空", "email": "misora.wanibuchi.5512@example.jp", "phone": "080-5512-9034",
                "child_notes": "喘息の吸入器5512", "support_note": "手話は日本手話5512"}
TYPO_RESIDENT = {"email": "kotone.hisakado.3390@example.jp", "phone": "070-3390-1186", "child_notes": "乳製品不可3390"}
DISPLAY_NAME = "ボード参加者 轟木3377"


@dataclass
class Visit:
    method: str
    url: str
    status: int
    headers: httpx.Headers
    text: str


@dataclass
class Tour:
    """Everything a resident, an organizer and an admin did against one real server, and what it wrote."""

    server: Server
    visits: list[Visit] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # raw tokens and the password
    personal: list[str] = field(default_factory=list)
    ids: dict[str, Any] = field(default_factory=dict)

    def visit(self, response: httpx.Response) -> httpx.Response:
        self.visits.append(Visit(response.request.method, str(response.request.url), response.status_code,
                                 response.headers, response.text))
        return response

    def page(self, path_suffix: str) -> Visit:
        return next(v for v in self.visits if v.method == "GET" and urlsplit(v.url).path + (
            "?" + urlsplit(v.url).query if urlsplit(v.url).query else "") == path_suffix)


def form_fields(html: str, action_part: str = "") -> dict[str, str]:
    """The values a browser would send from the page's first POST form (hidden fields included)."""
    soup = BeautifulSoup(html, "html.parser")
    form = next(f for f in soup.find_all("form") if (f.get("method") or "get").lower() == "post"
                and action_part in (f.get("action") or ""))
    values = {}
    for field_ in form.find_all(["input", "select", "textarea"]):
        name = field_.get("name")
        if name and field_.get("type") not in ("checkbox", "radio", "submit"):
            values[name] = field_.get("value") or ""
    return values


async def walk(client: httpx.AsyncClient, tour: Tour, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """A request, and the redirects after it, each recorded (so every Location is seen)."""
    response = tour.visit(await client.request(method, url, **kwargs))
    while response.status_code in (301, 302, 303, 307, 308):
        response = tour.visit(await client.get(urljoin(url, response.headers["location"])))
    return response


async def take_the_tour(tour: Tour, seeded: Seeded) -> None:
    base, session_id = tour.server.base, seeded.sessions["個人情報の対話の場"]
    organizer = {"Authorization": f"Bearer {seeded.api_token}"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as resident:
        form = await walk(resident, tour, "GET", f"/sessions/{session_id}/register")
        fields = {**form_fields(form.text, "/register"), "name": RESIDENT["name"], "name_kana": RESIDENT["name_kana"],
                  "email": RESIDENT["email"], "phone": RESIDENT["phone"], "mode": "in_person",
                  "child_1_years": "2", "child_1_months": "6", "child_1_notes": RESIDENT["child_notes"],
                  "acc_sign_language": "1", "acc_sign_language_note": RESIDENT["support_note"],
                  "consent_sensitive": "1", "note": RESIDENT["note"]}
        first = tour.visit(await resident.post(f"/sessions/{session_id}/register", data=fields))
        assert first.status_code == 303, first.text[:2000]
        token = re.match(r"^/r/([^/?]+)", first.headers["location"]).group(1)
        tour.secrets["registrant token (form)"] = token
        await walk(resident, tour, "GET", first.headers["location"])
        # a typo: the form comes back with what was typed, children's notes included
        typo = {**fields, "name": "", "email": TYPO_RESIDENT["email"], "phone": TYPO_RESIDENT["phone"],
                "child_1_notes": TYPO_RESIDENT["child_notes"]}
        again = tour.visit(await resident.post(f"/sessions/{session_id}/register", data=typo))
        assert again.status_code == 422 and TYPO_RESIDENT["email"] in again.text
        tour.ids["typo page"] = len(tour.visits) - 1
        for path in (f"/r/{token}", f"/r/{token}/calendar.ics", f"/r/{token}/cancel", f"/r/{token}/erase",
                     f"/api/registrations/{token}"):
            assert (await walk(resident, tour, "GET", path)).status_code == 200, path
        page = await resident.get(f"/r/{token}")
        switch = next(a["href"] for a in BeautifulSoup(page.text, "html.parser").find_all("a", href=True)
                      if a["href"].startswith("/lang/"))
        await walk(resident, tour, "GET", switch)  # the language switch comes back to /r/{token}
        change = await walk(resident, tour, "POST", f"/r/{token}/change",
                            data={**form_fields(page.text, "/change"), "message": RESIDENT["change"]})
        assert change.status_code == 200

        answer = tour.visit(await resident.post(f"/api/sessions/{session_id}/registrations", json={
            "name": API_RESIDENT["name"], "email": API_RESIDENT["email"], "phone": API_RESIDENT["phone"],
            "mode": "in_person", "consent_sensitive": True,
            "children": [{"age_months": 40, "notes": API_RESIDENT["child_notes"]}],
            "accommodations": [{"code": "sign_language", "note": API_RESIDENT["support_note"]}]}))
        assert answer.status_code == 201, answer.text
        tour.secrets["registrant token (API)"] = answer.json()["token"]

        board = (await resident.post(f"/api/sessions/{session_id}/boards", headers=organizer,
                                     json={"title": "意見を書く", "prompts": ["良いところ"]})).json()
        joined = (await resident.post(f"/api/boards/{board['id']}/participants",
                                      json={"display_name": DISPLAY_NAME, "code": board["join_code"]})).json()
        tour.secrets["participant token"] = joined["token"]
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(base, namespaces=[NS], auth={"token": joined["token"]}, transports=["websocket"],
                          wait_timeout=20)
        assert (await sio.call("note:add", {"op": "1", "zone": "z1", "text": "公園"}, namespace=NS, timeout=30))["ok"]
        await sio.disconnect()
        tour.ids["board"] = board["id"]

    async with httpx.AsyncClient(base_url=base, timeout=30) as staff:
        login = await walk(staff, tour, "GET", "/organize/login")
        signed_in = await walk(staff, tour, "POST", "/organize/login", data={
            **form_fields(login.text, "/organize/login"), "email": "organizer@kanazawa.example", "password": PASSWORD})
        assert signed_in.status_code == 200 and "/organize/login" not in str(signed_in.url)
        b = board["id"]
        for path in ("/organize", f"/organize/sessions/{session_id}", f"/organize/sessions/{session_id}/registrations",
                     f"/organize/sessions/{session_id}/registrations.csv",
                     f"/organize/sessions/{session_id}/registrations/new", "/organize/arrange",
                     f"/organize/sessions/{session_id}/boards", f"/boards/{b}/facilitate", f"/boards/{b}/export.csv",
                     f"/boards/{b}/export.json", f"/boards/{b}/export.md", f"/boards/{b}/polls.csv"):
            assert (await walk(staff, tour, "GET", path)).status_code == 200, path
        for path in (f"/api/sessions/{session_id}/registrations", f"/api/boards/{b}/export.json",
                     f"/api/boards/{b}/export.csv", f"/api/boards/{b}/export.md"):
            assert (await walk(staff, tour, "GET", path, headers=organizer)).status_code == 200, path

    async with httpx.AsyncClient(base_url=base, timeout=30) as admin:
        login = await walk(admin, tour, "GET", "/organize/login")
        await walk(admin, tour, "POST", "/organize/login", data={
            **form_fields(login.text, "/organize/login"), "email": "admin@taiwa.example", "password": PASSWORD})
        organizer_id = read(seeded.db_path, "select id from accounts where email = 'organizer@kanazawa.example'")[0][0]
        for path in ("/organize/admin", "/organize/admin/outbox", f"/organize/admin/accounts/{organizer_id}/edit",
                     "/organize/admin/accounts/new"):
            assert (await walk(admin, tour, "GET", path)).status_code == 200, path

    async with httpx.AsyncClient(base_url=base, timeout=30) as resident:
        cancelled = tour.visit(await resident.delete(f"/api/registrations/{tour.secrets['registrant token (API)']}"))
        assert cancelled.status_code == 200


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tour]:
    """One real server (access log on, mail server unreachable so delivery fails and is logged) and the tour."""
    folder = tmp_path_factory.mktemp("personal-data")
    seeded = seed(folder / "taiwa.sqlite3", ["個人情報の対話の場"])
    server = Server(seeded.db_path, folder, TAIWA_SMTP_URL=f"smtp://127.0.0.1:{free_port()}").start()
    walked = Tour(server)
    walked.secrets.update({"API token": seeded.api_token, "password": PASSWORD})
    walked.personal = [*RESIDENT.values(), *API_RESIDENT.values(), *TYPO_RESIDENT.values(), DISPLAY_NAME]
    try:
        in_thread(take_the_tour(walked, seeded))
        deadline = time.monotonic() + 15  # the background loop tries the (unreachable) mail server every 5 s
        while not read(seeded.db_path, "select count(*) from outbox where attempts > 0")[0][0]:
            assert time.monotonic() < deadline, "no mail delivery was attempted"
            time.sleep(0.2)
    finally:
        server.stop()
    yield walked


PERSONAL_PAGES = [
    "/r/{token}?new=1", "/r/{token}", "/r/{token}/calendar.ics", "/r/{token}/cancel", "/r/{token}/erase",
    "/api/registrations/{token}", "/organize", "/organize/sessions/{session}",
    "/organize/sessions/{session}/registrations", "/organize/sessions/{session}/registrations.csv",
    "/organize/sessions/{session}/registrations/new", "/organize/arrange", "/organize/sessions/{session}/boards",
    "/boards/{board}/facilitate", "/boards/{board}/export.csv", "/boards/{board}/export.json",
    "/boards/{board}/export.md", "/boards/{board}/polls.csv", "/api/sessions/{session}/registrations",
    "/api/boards/{board}/export.json", "/api/boards/{board}/export.csv", "/api/boards/{board}/export.md",
    "/organize/admin", "/organize/admin/outbox", "/organize/admin/accounts/{organizer}/edit",
    "/organize/admin/accounts/new",
]


def test_every_page_with_personal_data_says_no_store(tour):
    token = tour.secrets["registrant token (form)"]
    session = re.search(r"/organize/sessions/(\d+)/registrations$", next(
        v.url for v in tour.visits if v.url.endswith("/registrations") and "/organize/" in v.url)).group(1)
    organizer = re.search(r"/accounts/(\d+)/edit", next(v.url for v in tour.visits if "/edit" in v.url)).group(1)
    checked, showing = [], 0
    for pattern in PERSONAL_PAGES:
        path = pattern.format(token=token, session=session, board=tour.ids["board"], organizer=organizer)
        visit = tour.page(path)
        assert visit.status == 200, path
        assert "no-store" in visit.headers.get("cache-control", ""), f"{pattern} may be cached: " \
                                                                      f"{visit.headers.get('cache-control')!r}"
        showing += any(value in visit.text for value in tour.personal)
        checked.append(pattern)
    print(f"\nno-store: {len(checked)} pages with personal data checked ({showing} of them show a resident's "
          f"name, contact or needs)")
    assert showing >= 10


def test_the_registration_form_shown_again_with_a_residents_entries_says_no_store(tour):
    visit = tour.visits[tour.ids["typo page"]]
    assert TYPO_RESIDENT["child_notes"] in visit.text
    assert "no-store" in visit.headers.get("cache-control", "")


def urls_in(visit: Visit) -> list[str]:
    """Every address a page or answer sends the browser to, and GET forms with their field names and values."""
    found = [visit.headers["location"]] if "location" in visit.headers else []
    if "html" in visit.headers.get("content-type", ""):
        soup = BeautifulSoup(visit.text, "html.parser")
        for tag, attribute in (("a", "href"), ("link", "href"), ("script", "src"), ("img", "src"),
                               ("iframe", "src"), ("form", "action"), ("button", "formaction")):
            found += [str(t[attribute]) for t in soup.find_all(tag) if t.get(attribute)]
        for form in soup.find_all("form"):
            if (form.get("method") or "get").lower() == "get":
                found += [f"{form.get('action', '')}?{f.get('name')}={f.get('value') or f.get_text()}"
                          for f in form.find_all(["input", "select", "textarea"]) if f.get("name")]
    return found


def test_no_personal_data_travels_in_urls_only_the_registrants_token(tour):
    tokens = [tour.secrets["registrant token (form)"], tour.secrets["registrant token (API)"]]
    urls = [url for visit in tour.visits for url in urls_in(visit)]
    urls += [visit.url for visit in tour.visits]
    assert len(urls) > 100
    for url in urls:
        plain = unquote(unquote(url)).replace("+", " ")
        for value in tour.personal:
            assert value not in plain, f"{value!r} travels in {url}"
        for token in tokens:  # the registrant's own address, on our own site only (never to another site)
            if token in plain:
                own = urlsplit(tour.server.base).netloc
                assert urlsplit(plain).netloc in ("", own), f"the token is sent to another site: {url}"
                assert f"/r/{token}" in plain or f"/api/registrations/{token}" in plain, url
        for name in ("participant token", "API token", "password"):
            assert tour.secrets[name] not in plain, f"the {name} travels in {url}"
    # the forms that take personal data are sent with POST (never in the address)
    for visit in tour.visits:
        if "html" in visit.headers.get("content-type", ""):
            for form in BeautifulSoup(visit.text, "html.parser").find_all("form"):
                names = {f.get("name") for f in form.find_all(["input", "textarea", "select"])}
                if names & {"name", "email", "phone", "password", "message"}:
                    assert (form.get("method") or "get").lower() == "post", (visit.url, form.get("action"))
    print(f"\nURLs: {len(urls)} addresses (links, forms, redirects, requests) carry no personal data")


def test_no_personal_data_or_secret_reaches_the_server_logs(tour):
    logs = tour.server.logs()
    lines = logs.splitlines()
    assert sum(1 for line in lines if '"GET /r/***' in line) >= 4, "the access log was not on"
    assert any("not delivered" in line for line in lines), "mail delivery did not fail (nothing logged)"
    leaks = []
    from urllib.parse import quote, quote_plus
    for value in [*tour.personal, *tour.secrets.values()]:
        for form in {value, quote(value), quote_plus(value), json.dumps(value)[1:-1]}:
            leaks += [(value, line) for line in lines if form in line]
    assert not leaks, f"personal data or secrets in the logs: {leaks[:5]}"
    print(f"\nlogs: {len(lines)} lines of stdout/stderr grepped for {len(tour.personal)} personal values and "
          f"{len(tour.secrets)} secrets: none found")
