"""Red-team findings on live boards (issue 20), written as regression tests of the intended behaviour.

- Finding 1: join codes leak to people who do not hold them; draft sessions' boards can be found by
  code; wrong codes can be guessed without limit (limit `join_lookup`).
- Finding 2: ballot stuffing: one client makes any number of participants (limit `join`), and the
  facilitator cannot close joining (socket event `board:joining`).
- Low items: Markdown export escaping, a named poll on an anonymous board, socket payloads nested
  500 deep.

Residents' side is tested black-box: HTTP through the app (Litestar's test client) or a real
`taiwa serve` process with real python-socketio clients. Limits are set the way an operator sets
them (TAIWA_LIMITS entries `name=count/seconds`, i.e. Settings.limits).
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.request import urlopen
from zoneinfo import ZoneInfo

import aiohttp  # noqa: F401 - python-socketio's AsyncClient needs it for its websocket transport
import httpx
import pytest
import socketio
from bs4 import BeautifulSoup
from litestar.testing import AsyncTestClient

from server.settings import Settings
from tests.conftest import csrf_from, free_port, html, login, make_account, make_session, post_form

ROOT = Path(__file__).resolve().parent.parent
NS = "/board"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
ORGANIZER = "organizer@kanazawa.example"
PASSWORD = "attack-tests-password-1"
TOKYO = ZoneInfo("Asia/Tokyo")


# ---------------------------------------------------------------- limits, the way TAIWA_LIMITS sets them

def with_limits(settings: Settings, **limits: tuple[int, float]) -> Settings:
    """Settings with these abuse limits, `name=(count, seconds)` (what `TAIWA_LIMITS="name=count/seconds"`
    gives). A limit this version of the app does not know yet is left out (the app would refuse to
    start): the test then shows the missing limit by its behaviour, not by a crash at start-up."""
    limit_type = type(next(iter(settings.limits.values())))
    table = dict(settings.limits)
    for name, (count, seconds) in limits.items():
        try:
            settings.limit(name)
        except KeyError:
            continue
        table[name] = limit_type(count, seconds)
    return dataclasses.replace(settings, limits=table)


def online_session(**values: Any) -> dict[str, Any]:
    """make_session() values for an online session (no venue needed)."""
    return {"format": "online", "capacity_in_person": 0, "capacity_online": 100,
            "online_url": "https://meet.example.jp/attack", **values}


async def organizer_session(client: AsyncTestClient, db: Any, **values: Any) -> int:
    """An organizer signed in on `client`, and one of their sessions."""
    account = await make_account(db, ORGANIZER)
    session_id = await make_session(db, account.org_id, **online_session(**values))
    signed_in = await login(client, ORGANIZER)
    assert signed_in.status_code == 200 and signed_in.url.path == "/organize", signed_in.text[:300]
    return session_id


async def board_through_the_page(client: AsyncTestClient, session_id: int, title: str, **fields: str) -> tuple[int, str]:
    """A board made on the organizer's page; returns (board id, join code as shown to the facilitator)."""
    page = await post_form(client, f"/organize/sessions/{session_id}/boards", None, {
        "title": title, "prompts": "地域の良いところ\n困っていること", "vote_budget": "5", "max_votes_per_note": "3",
        **fields})
    assert page.status_code == 200, page.text[:500]
    found = re.match(r"^/boards/(\d+)/facilitate$", page.url.path)
    assert found, page.url
    code = re.search(r"/j/(\d{6})", page.text)
    assert code, "the facilitator page shows the join link"
    return int(found.group(1)), code.group(1)


def wrong_codes(real: set[str]) -> Iterator[str]:
    """Six-digit codes that are no board's (real codes are 100000-999999)."""
    for n in range(1, 100_000):
        code = f"{n:06d}"
        if code not in real:
            yield code


def says_how_long_to_wait(text: str) -> bool:
    """A lockout message tells the reader to wait ("1分", "60秒", "数分待って", "Please wait 1 minute")."""
    return bool(re.search(r"\d+\s*(秒|分)|待って|待ち|しばらく|wait|minute|second", text, re.IGNORECASE))


# ---------------------------------------------------------------- finding 1: join codes

async def test_board_pages_never_show_the_join_code_to_someone_without_it(client, db):
    """Finding 1: `GET /boards/{id}` and `/boards/{id}/list` answered a stranger (or a participant of
    another board) with `303 Location: /j/<the real code>`. Nothing answered to someone who does not
    hold the code may contain it: not a header, not a body, not along a redirect."""
    session_id = await organizer_session(client, db, title="駅前広場の未来")
    board_a, code_a = await board_through_the_page(client, session_id, "ボードA")
    board_b, code_b = await board_through_the_page(client, session_id, "ボードB")
    client.cookies.clear()  # the organizer signs out: from here on, a stranger

    # a participant of board B (joined with B's code), who then tries board A with B's cookie renamed
    csrf = csrf_from(await client.get(f"/j/{code_b}"))
    joined = await client.post(f"/j/{code_b}", data={"_csrf_token": csrf, "display_name": "花子", "place": "online"},
                               follow_redirects=False)
    assert joined.status_code == 303, joined.text[:300]
    cookie = joined.headers["set-cookie"].split(";", 1)[0]
    name, value = cookie.split("=", 1)
    swapped = {"cookie": f"{name.replace(str(board_b), str(board_a))}={value}"}

    paths = [f"/boards/{board_a}", f"/boards/{board_a}/list", f"/boards/{board_a}/list?js=1",
             f"/boards/{board_a}/present", f"/boards/{board_a}/facilitate", f"/boards/{board_a}/outcome"]
    leaks = []
    for who, headers in (("stranger", {}), ("participant of another board", swapped)):
        for path in paths:
            client.cookies.clear()
            answer = await client.get(path, headers=headers, follow_redirects=False)
            chain = [answer]
            if answer.status_code in (301, 302, 303, 307, 308):
                chain.append(await client.get(answer.headers["location"], headers=headers))
            for step in chain:
                shown = " ".join(f"{k}: {v}" for k, v in step.headers.items()) + "\n" + step.text
                if code_a in shown:
                    leaks.append(f"{who}: GET {path} -> {step.url.path} {step.status_code} "
                                 f"{step.headers.get('location', '')!s} (code {code_a} in the answer)")
    assert not leaks, "the join code reached someone who does not hold it:\n" + "\n".join(leaks)


async def test_the_join_page_of_a_draft_sessions_board_is_not_found_and_names_nothing(client, db):
    """Finding 1: `/j/{code}` of a board whose session is still a draft showed the board's and the
    session's titles. Intended: 404, with neither title anywhere in the answer."""
    session_id = await organizer_session(client, db, title="非公開の再開発説明会", status="draft")
    _board, code = await board_through_the_page(client, session_id, "用地買収の進め方")
    client.cookies.clear()

    answer = await client.get(f"/j/{code}")
    assert answer.status_code == 404, f"GET /j/<draft board code> answered {answer.status_code}"
    assert "非公開の再開発説明会" not in answer.text and "用地買収の進め方" not in answer.text


@pytest.fixture
def settings(db_target: Path | str, request: pytest.FixtureRequest) -> Settings:
    """The app's settings, with the abuse limits a test asks for (indirect parametrization)."""
    base = Settings(db_path=db_target, secret="test-secret-" + "x" * 20,
                    base_url="http://testserver.local", background=False)
    return with_limits(base, **getattr(request, "param", {}))


@pytest.mark.parametrize("settings", [{"join_lookup": (3, 60), "join": (1000, 60)}], indirect=True,
                         ids=["join_lookup=3/60"])
async def test_wrong_join_codes_are_limited_per_client_in_the_users_language(client, db):
    """Finding 1: wrong-code lookups (`GET /j/{code}`, `POST /j/{code}`, `POST
    /api/boards/{id}/participants` with a wrong code) were unlimited, so the six-digit codes could be
    swept. Intended: limit `join_lookup` per client (here 3 per 60 s), then 429 with a message in the
    user's language. Right codes are not wrong lookups (a class behind one address joins freely)."""
    session_id = await organizer_session(client, db, title="まちづくり会議")
    board_id, code = await board_through_the_page(client, session_id, "公開ボード")
    client.cookies.clear()
    csrf = csrf_from(await client.get("/organize/login"))
    guesses = wrong_codes({code})

    for n in range(5):  # the right code, many times, is never "guessing"
        assert (await client.get(f"/j/{code}")).status_code == 200
        right = await client.post(f"/api/boards/{board_id}/participants", json={"display_name": f"p{n}", "code": code})
        assert right.status_code == 201, right.text

    # three wrong lookups, one through each door
    first = await client.get(f"/j/{next(guesses)}")
    assert first.status_code != 429
    second = await client.post(f"/j/{next(guesses)}", data={"_csrf_token": csrf, "display_name": "x"})
    assert second.status_code != 429
    third = await client.post(f"/api/boards/{board_id}/participants", json={"display_name": "x", "code": next(guesses)})
    assert third.status_code == 404

    page = await client.get(f"/j/{next(guesses)}")
    assert page.status_code == 429, f"a 4th wrong code from the same client answered {page.status_code}, not 429"
    text = html(page).get_text(" ", strip=True)
    assert JAPANESE.search(text) and says_how_long_to_wait(text), text[:300]
    english = await client.get(f"/j/{next(guesses)}?lang=en")
    assert english.status_code == 429
    assert says_how_long_to_wait(html(english).get_text(" ", strip=True))
    form = await client.post(f"/j/{next(guesses)}", data={"_csrf_token": csrf, "display_name": "x"})
    assert form.status_code == 429
    api = await client.post(f"/api/boards/{board_id}/participants", json={"display_name": "x", "code": next(guesses)},
                            headers={"Accept-Language": "ja"})
    assert api.status_code == 429
    assert api.json()["error"]["code"] == "rate_limited" and JAPANESE.search(api.json()["error"]["message"])
    api_en = await client.post(f"/api/boards/{board_id}/participants", json={"display_name": "x", "code": next(guesses)},
                               headers={"Accept-Language": "en"})
    assert api_en.status_code == 429 and not JAPANESE.search(api_en.json()["error"]["message"])


# ---------------------------------------------------------------- finding 2: ballot stuffing

@pytest.mark.parametrize("settings", [{"join": (3, 60), "join_lookup": (1000, 60)}], indirect=True,
                         ids=["join=3/60"])
async def test_joins_are_limited_per_client_and_board(client, db):
    """Finding 2: one client made 60 participants on one board (and cast 60 poll answers). Intended:
    limit `join` per client and board (here 3 per 60 s): the next join, through the API or the join
    form, is 429 with a message in the user's language; another board is not affected."""
    session_id = await organizer_session(client, db, title="市民フォーラム")
    board_id, code = await board_through_the_page(client, session_id, "アンケート付きボード")
    other_id, other_code = await board_through_the_page(client, session_id, "別のボード")
    client.cookies.clear()

    for n in range(3):
        joined = await client.post(f"/api/boards/{board_id}/participants", json={"display_name": f"票{n}", "code": code})
        assert joined.status_code == 201, joined.text
    fourth = await client.post(f"/api/boards/{board_id}/participants", json={"display_name": "票3", "code": code},
                               headers={"Accept-Language": "ja"})
    assert fourth.status_code == 429, f"the 4th participant from one client answered {fourth.status_code}"
    assert JAPANESE.search(fourth.json()["error"]["message"])
    csrf = csrf_from(await client.get("/organize/login"))
    form = await client.post(f"/j/{code}", data={"_csrf_token": csrf, "display_name": "票4", "place": "online"},
                             follow_redirects=False)
    assert form.status_code == 429, f"the join form let a 5th participant in ({form.status_code})"
    assert JAPANESE.search(html(form).get_text())
    elsewhere = await client.post(f"/api/boards/{other_id}/participants", json={"display_name": "花子", "code": other_code})
    assert elsewhere.status_code == 201


# ---------------------------------------------------------------- a real server, for the socket findings

def taiwa(*args: str, db: Path) -> str:
    """The `taiwa` command, as an operator runs it (create-user, create-token, backup)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAIWA_")}
    done = subprocess.run([sys.executable, "-m", "server.cli", *args, "--db", str(db)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


@dataclasses.dataclass
class Live:
    base: str
    token: str  # the organizer's API token
    session_id: int
    db_path: Path
    log_path: Path

    @property
    def organizer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """`taiwa serve` on a fresh file with one organizer (made with `taiwa create-user`) and one of
    their sessions (made through the API)."""
    folder = tmp_path_factory.mktemp("attack-boards")
    db_path = folder / "taiwa.sqlite3"
    taiwa("create-user", "--email", ORGANIZER, "--password", PASSWORD, "--role", "organizer", "--org", "kanazawa",
          db=db_path)
    token = taiwa("create-token", "--email", ORGANIZER, db=db_path).splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAIWA_")}
    env.update(TAIWA_BASE_URL=base, TAIWA_SECRET="attack-boards-secret-0123456789abcdef")
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--db", str(db_path), "--port", str(port)],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urlopen(base + "/", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the server did not start:\n{log_path.read_text(errors='replace')}")
                time.sleep(0.1)
        start = (datetime.now(TOKYO) + timedelta(days=14)).replace(hour=19, minute=0, second=0, microsecond=0)
        made = httpx.post(base + "/api/sessions", headers={"Authorization": f"Bearer {token}"}, timeout=30, json={
            "title": "オンライン意見交換会", "kind": "forum", "format": "online", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(), "online_url": "https://meet.example.jp/abc",
            "capacity_online": 100, "status": "published"})
        assert made.status_code == 201, made.text
        yield Live(base=base, token=token, session_id=made.json()["id"], db_path=db_path, log_path=log_path)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
async def http(live: Live) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.base, timeout=30) as client:
        yield client


class Member:
    """One socket.io client on /board."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)

    async def join(self, live: Live, auth: dict[str, Any]) -> Member:
        await self.sio.connect(live.base, namespaces=[NS], auth=auth, transports=["websocket"], wait_timeout=15)
        return self

    @property
    def connected(self) -> bool:
        return self.sio.connected and NS in self.sio.namespaces

    async def call(self, event: str, data: Any = None, timeout: float = 15) -> dict[str, Any]:
        return await self.sio.call(event, data, namespace=NS, timeout=timeout)


@pytest.fixture
async def members() -> AsyncIterator[list[Member]]:
    made: list[Member] = []
    yield made
    for member in made:
        if member.sio.connected:
            await member.sio.disconnect()


_ops = iter(range(1, 10**9))


def op() -> str:
    return f"attack-{os.getpid()}-{next(_ops)}"


async def new_board(http: httpx.AsyncClient, live: Live, title: str, **values: Any) -> dict[str, Any]:
    made = await http.post(f"/api/sessions/{live.session_id}/boards", headers=live.organizer,
                           json={"title": title, "prompts": ["地域の良いところ", "困っていること"], **values})
    assert made.status_code == 201, made.text
    return made.json()


async def participant(http: httpx.AsyncClient, live: Live, members: list[Member], board: dict[str, Any],
                      name: str) -> Member:
    joined = await http.post(f"/api/boards/{board['id']}/participants",
                             json={"display_name": name, "code": board["join_code"]})
    assert joined.status_code == 201, joined.text
    member = Member()
    members.append(member)
    return await member.join(live, {"token": joined.json()["token"]})


async def facilitator(live: Live, members: list[Member], board: dict[str, Any]) -> Member:
    member = Member()
    members.append(member)
    return await member.join(live, {"token": live.token, "board": board["id"]})


async def test_the_facilitator_closes_joining_and_those_already_in_keep_working(live, http, members):
    """Finding 2: the facilitator could not stop new participants. Intended: a board setting, socket
    event `board:joining` `{op, open}` (facilitator only) acked `{ok: true}`; while closed, new joins
    (API and join form) are refused with a 4xx and a message saying joining is closed (not "wrong
    code"); participants already in keep working; reopening lets people in again."""
    board = await new_board(http, live, "途中参加の締切")
    hanako = await participant(http, live, members, board, "花子")
    organizer = await facilitator(live, members, board)

    refused = await hanako.call("board:joining", {"op": op(), "open": False})
    assert refused["ok"] is False, "a participant must not close joining"
    closed = await organizer.call("board:joining", {"op": op(), "open": False})
    assert closed.get("ok") is True, f"board:joining was not accepted: {closed}"

    wrong = await http.post(f"/api/boards/{board['id']}/participants", json={"display_name": "x", "code": "000000"})
    late = await http.post(f"/api/boards/{board['id']}/participants",
                           json={"display_name": "遅刻者", "code": board["join_code"]})
    assert 400 <= late.status_code < 500 and late.status_code != 429, late.text
    message = late.json()["error"]["message"]
    assert message and message != wrong.json()["error"]["message"], "the refusal must say joining is closed"
    csrf = csrf_from(await http.get("/organize/login"))
    form = await http.post(f"/j/{board['join_code']}", data={"_csrf_token": csrf, "display_name": "遅刻者"})
    assert 400 <= form.status_code < 500, f"the join form let someone in after closing ({form.status_code})"

    assert (await hanako.call("note:add", {"op": op(), "zone": "z1", "text": "締切後も書ける"}))["ok"]
    assert hanako.connected

    reopened = await organizer.call("board:joining", {"op": op(), "open": True})
    assert reopened.get("ok") is True, reopened
    again = await http.post(f"/api/boards/{board['id']}/participants",
                            json={"display_name": "再開後", "code": board["join_code"]})
    assert again.status_code == 201, again.text


async def test_no_named_poll_can_be_opened_on_an_anonymous_board(live, http, members):
    """Low item: on a board promised anonymous, the facilitator could open a poll that records who
    answered what. Intended: refused, 4xx through the API and an error ack on the socket (at
    creation or at opening); anonymous polls still work."""
    board = await new_board(http, live, "匿名のボード", anonymous=True)
    api = await http.post(f"/api/boards/{board['id']}/polls", headers=live.organizer, json={
        "type": "single_choice", "question": "賛成ですか", "options": ["はい", "いいえ"], "anonymous": False,
        "open": True})
    assert 400 <= api.status_code < 500, f"a named poll on an anonymous board: {api.status_code} {api.text[:200]}"

    organizer = await facilitator(live, members, board)
    created = await organizer.call("poll:create", {"op": op(), "type": "single_choice", "question": "記名で聞きます",
                                                   "options": ["A", "B"], "anonymous": False})
    if created.get("ok"):
        opened = await organizer.call("poll:open", {"op": op(), "poll": created["id"]})
        assert opened.get("ok") is False, "a named poll was opened on an anonymous board"

    fine = await organizer.call("poll:create", {"op": op(), "type": "single_choice", "question": "匿名で聞きます",
                                                "options": ["A", "B"]})
    assert fine.get("ok"), fine
    assert (await organizer.call("poll:open", {"op": op(), "poll": fine["id"]})).get("ok")


async def test_a_socket_payload_nested_500_deep_gets_an_error_ack(live, http, members):
    """Low item: a command whose data is nested 500 deep got no answer at all (the handler crashed
    before acking). Intended: an error ack `{ok: false, error}`, and the connection stays usable."""
    board = await new_board(http, live, "深い入れ子")
    hanako = await participant(http, live, members, board, "花子")
    nested: Any = "x"
    for depth in range(500):
        nested = {"a": nested} if depth % 2 else [nested]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))  # the python client walks the payload recursively itself
    try:
        for event, data in (("note:add", {"op": op(), "zone": "z1", "text": nested}),
                            ("note:add", {"op": op(), "zone": "z1", "text": "ok", "color": nested}),
                            ("vote:cast", {"op": op(), "note": nested})):
            try:
                answer = await hanako.call(event, data, timeout=4)
            except socketio.exceptions.TimeoutError:
                pytest.fail(f"{event} with data nested 500 deep: no ack within 4 s (silence)")
            assert answer.get("ok") is False and answer.get("error", {}).get("message"), answer
    finally:
        sys.setrecursionlimit(limit)
    assert hanako.connected
    assert (await hanako.call("note:add", {"op": op(), "zone": "z1", "text": "まだ使える"}))["ok"]


# ---------------------------------------------------------------- the Markdown export

def rendered(markdown: str) -> BeautifulSoup:
    """The export as a Markdown viewer with raw HTML on and no link filter would show it."""
    from markdown_it import MarkdownIt

    renderer = MarkdownIt("commonmark", {"html": True})
    renderer.validateLink = lambda url: True  # type: ignore[method-assign]  # a lax viewer keeps every link
    return BeautifulSoup(renderer.render(markdown), "html.parser")


async def test_the_markdown_export_escapes_what_participants_wrote(live, http, members):
    """Low item: `GET /api/boards/{id}/export.md` copied note text and names as they were, so a note
    became an `<img onerror>`, a `javascript:` link, or a heading of its own (a line break before
    `#`). Intended: the export shows each note's text, but no HTML, no script link, no heading."""
    board = await new_board(http, live, "書き出しの確認")
    writer = await participant(http, live, members, board, '<img src=x onerror="alert(2)">')
    notes = ['<img src=x onerror="alert(1)">', "[詳しくはこちら](javascript:alert(document.cookie))",
             "まちの課題\r# 偽の見出しその一", "前置き\n## 偽の見出しその二", "<script>alert(3)</script>"]
    for text in notes:
        added = await writer.call("note:add", {"op": op(), "zone": "z1", "text": text})
        assert added["ok"], added

    export = await http.get(f"/api/boards/{board['id']}/export.md", headers=live.organizer)
    assert export.status_code == 200, export.text
    page = rendered(export.text)
    problems = []
    if page.find(["img", "script"]):
        problems.append(f"raw HTML elements: {[str(t) for t in page.find_all(['img', 'script'])]}")
    if page.find(attrs={"onerror": True}):
        problems.append("an onerror attribute")
    links = [a.get("href", "") for a in page.find_all("a")]
    if any(href.strip().lower().startswith("javascript:") for href in links):
        problems.append(f"javascript: links {links}")
    headings = [h.get_text() for h in page.find_all(re.compile(r"^h[1-6]$"))]
    if any("偽の見出し" in h for h in headings):
        problems.append(f"headings made by note text: {headings}")
    assert not problems, "the Markdown export lets note text through as markup:\n" + "\n".join(problems) + \
        "\n---\n" + export.text
    text = page.get_text(" ")
    for visible in ("詳しくはこちら", "偽の見出しその一", "偽の見出しその二", "まちの課題", "onerror"):
        assert visible in text, f"the export must still show what was written ({visible!r})"
