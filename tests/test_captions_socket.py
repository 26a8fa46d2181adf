"""Live captions over the wire (a real `taiwa serve`, real python-socketio clients on /captions): two
typists relaying and a corrector reach 200 viewers in order, committed before acknowledged, op ids
applied once, reconnecting with `since`, who may write, revoking, and captioner tokens never leaking."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
import socketio

from tests.caption_clients import CaptionClient, organizer, switch_on
from server.auth import accounts
from tests.harness import fresh_database, TaiwaServer, in_own_loop, make_account, open_database, prepare_workshop, read_db
from tests.socket_clients import JAPANESE, op, until

pytestmark = pytest.mark.database  # its servers run on the run's engine (fresh_database)


def _server(tmp_path_factory: pytest.TempPathFactory, name: str, rate_limits: bool) -> Iterator[TaiwaServer]:
    folder = tmp_path_factory.mktemp(name)
    server = TaiwaServer(prepare_workshop(fresh_database(folder), title="市民フォーラム"), folder / "server.log",
                         rate_limits=rate_limits)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaiwaServer]:
    """As deployed: rate limits on."""
    yield from _server(tmp_path_factory, "captions", rate_limits=True)


@pytest.fixture(scope="module")
def crowd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaiwaServer]:
    """Rate limits off: 200 viewers from one test address."""
    yield from _server(tmp_path_factory, "captions-crowd", rate_limits=False)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., CaptionClient]]:
    made: list[CaptionClient] = []

    def make(label: str, transports: list[str] | None = None) -> CaptionClient:
        client = CaptionClient(label, transports)
        made.append(client)
        return client

    yield make
    # a long-polling client may wait for its poll to end before leaving: do not hold the next test for it
    await asyncio.gather(*(asyncio.wait_for(client.leave(), 3) for client in made), return_exceptions=True)


def stored_lines(server: TaiwaServer, code: str) -> list[tuple[int, str, str]]:
    rows = read_db(server.db_path, "select l.line, l.speaker, l.text from caption_lines l join caption_streams s "
                                   "on s.id = l.stream_id where s.code = ? order by l.line", (code,))
    return [(row["line"], row["speaker"], row["text"]) for row in rows]


# ---------------------------------------------------------------- the forum, end to end

async def test_two_typists_and_a_corrector_reach_200_viewers_in_order(crowd_server, http, clients):
    first = await switch_on(http, crowd_server, "typist A")
    second = await switch_on(http, crowd_server, "typist B")
    corrector_link = await switch_on(http, crowd_server, "corrector")
    code = first["code"]
    assert second["code"] == code and len({first["captioner_token"], second["captioner_token"]}) == 2

    viewers = [clients(f"viewer {n}") for n in range(200)]
    for batch in range(0, 200, 50):
        await asyncio.gather(*(v.join(crowd_server.base, {"code": code}) for v in viewers[batch:batch + 50]))
    typist_a = await clients("A").join(crowd_server.base, {"code": code, "token": first["captioner_token"]})
    typist_b = await clients("B").join(crowd_server.base, {"code": code, "token": second["captioner_token"]})
    corrector = await clients("C").join(crowd_server.base, {"code": code, "token": corrector_link["captioner_token"]})
    await until(lambda: all(v.snapshots for v in viewers), "every viewer has its snapshot")

    async def relay(typist: CaptionClient, speaker: str, turn: int) -> list[int]:
        numbers = []
        for n in range(15):
            answer = await typist.call("caption:line", {"op": op(), "text": f"{speaker}の発言 {turn}-{n}", "speaker": speaker})
            assert answer["ok"], answer
            # committed before acknowledged: the line is already in the database file
            assert (answer["line"], speaker, f"{speaker}の発言 {turn}-{n}") in stored_lines(crowd_server, code)
            numbers.append(answer["line"])
        return numbers

    async def correct() -> None:
        await until(lambda: len(corrector.lines) >= 5, "lines to correct")
        for number in sorted(corrector.lines)[:5]:
            answer = await corrector.call("caption:edit", {"op": op(), "line": number, "text": f"訂正済み {number}"})
            assert answer["ok"], answer

    lines_a, lines_b, _ = await asyncio.gather(relay(typist_a, "司会", 1), relay(typist_b, "市長", 2), correct())
    assert len(set(lines_a + lines_b)) == 30

    final = stored_lines(crowd_server, code)
    assert len(final) == 30 and sum(text.startswith("訂正済み") for _n, _s, text in final) == 5
    last_seq = read_db(crowd_server.db_path, "select seq from caption_streams where code = ?", (code,))[0]["seq"]
    assert last_seq == 35
    await until(lambda: all(v.seq == last_seq for v in viewers + [typist_a, typist_b, corrector]),
                "every screen has every change")
    for client in viewers + [typist_a, typist_b, corrector]:
        assert client.transcript() == final, client.label
        seqs = [message["seq"] for message in client.captions]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)), client.label  # in order, each once
    assert all(v.captions[-1]["type"] in ("line", "edit") for v in viewers)


async def test_a_line_reaches_viewers_over_long_polling_too(server, http, clients):
    """The fallback without WebSocket: Socket.IO's HTTP long polling."""
    link = await switch_on(http, server)
    viewer = await clients("polling viewer", ["polling"]).join(server.base, {"code": link["code"]})
    typist = await clients("typist").join(server.base, {"code": link["code"], "token": link["captioner_token"]})
    answer = await typist.call("caption:line", {"op": op(), "text": "ロングポーリングでも届きます"})
    await until(lambda: any(m["data"]["line"] == answer["line"] for m in viewer.captions), "the line over polling")
    assert viewer.sio.transport() == "polling"


async def test_a_repeated_op_is_applied_once(server, http, clients):
    link = await switch_on(http, server)
    typist = await clients("typist").join(server.base, {"code": link["code"], "token": link["captioner_token"]})
    same = op()
    first = await typist.call("caption:line", {"op": same, "text": "一度だけ"})
    again = await typist.call("caption:line", {"op": same, "text": "一度だけ"})
    assert first["ok"] and again == first
    assert [text for _n, _s, text in stored_lines(server, link["code"])].count("一度だけ") == 1
    edit_op = op()
    assert (await typist.call("caption:edit", {"op": edit_op, "line": first["line"], "text": "一度だけ直す"}))["ok"]
    seq = read_db(server.db_path, "select seq from caption_streams where code = ?", (link["code"],))[0]["seq"]
    assert (await typist.call("caption:edit", {"op": edit_op, "line": first["line"], "text": "一度だけ直す"}))["ok"]
    assert read_db(server.db_path, "select seq from caption_streams where code = ?", (link["code"],))[0]["seq"] == seq


async def test_reconnecting_with_since_gets_exactly_the_lines_added_or_edited_after_it(server, http, clients):
    link = await switch_on(http, server)
    code = link["code"]
    typist = await clients("typist").join(server.base, {"code": code, "token": link["captioner_token"]})
    early = [(await typist.call("caption:line", {"op": op(), "text": f"前半 {n}"}))["line"] for n in range(4)]
    viewer = await clients("viewer").join(server.base, {"code": code})
    await until(lambda: viewer.snapshots, "snapshot")
    had = viewer.seq
    await viewer.leave()

    edited = await typist.call("caption:edit", {"op": op(), "line": early[1], "text": "前半 1(訂正)"})
    later = [(await typist.call("caption:line", {"op": op(), "text": f"後半 {n}", "speaker": "参加者"}))["line"]
             for n in range(3)]
    assert edited["ok"]

    back = await clients("viewer again").join(server.base, {"code": code, "since": had})
    await until(lambda: back.snapshots, "snapshot after reconnecting")
    snapshot = back.snapshots[0]
    assert snapshot["since"] == had
    assert [line["line"] for line in snapshot["lines"]] == [early[1], *later]
    assert snapshot["lines"][0]["text"] == "前半 1(訂正)"
    assert snapshot["lines"][1]["speaker"] == "参加者"

    # a `since` the stream never had (ahead of it, negative, not a number) gets the whole transcript
    for since in (10**6, -1, "3", True, None):
        fresh = await clients(f"since {since!r}").join(server.base, {"code": code, "since": since})
        await until(lambda: fresh.snapshots, "snapshot")
        assert "since" not in fresh.snapshots[0]
        assert [line["line"] for line in fresh.snapshots[0]["lines"]] == [n for n, _s, _t in stored_lines(server, code)]


# ---------------------------------------------------------------- who may write

async def test_viewers_get_an_error_ack_and_change_nothing(server, http, clients):
    link = await switch_on(http, server)
    typist = await clients("typist").join(server.base, {"code": link["code"], "token": link["captioner_token"]})
    line = (await typist.call("caption:line", {"op": op(), "text": "正しい行"}))["line"]
    viewer = await clients("viewer").join(server.base, {"code": link["code"], "lang": "ja"})
    before = stored_lines(server, link["code"])
    for event, data in [("caption:line", {"op": op(), "text": "なりすまし"}),
                        ("caption:edit", {"op": op(), "line": line, "text": "改ざん"}),
                        ("board:snapshot", {}), ("note:add", {"op": op(), "zone": "z1", "text": "x"})]:
        answer = await viewer.call(event, data)
        assert answer["ok"] is False and answer["error"]["code"] in ("forbidden", "unknown_event"), (event, answer)
        assert JAPANESE.search(answer["error"]["message"]), answer
    assert stored_lines(server, link["code"]) == before
    assert viewer.captions == []


@pytest.mark.parametrize("auth", [
    {"code": "000000"}, {"code": ""}, {}, {"code": 123456}, {"code": "1" * 5000},
    {"code": "CODE", "token": "ct_not-a-real-token"}, {"code": "CODE", "token": "tw_not-a-real-token"},
    {"code": "CODE", "token": "bp_board-participant"}, {"code": "CODE", "token": 42},
])
async def test_wrong_codes_and_tokens_are_refused(server, http, clients, auth):
    link = await switch_on(http, server)
    auth = {key: (link["code"] if value == "CODE" else value) for key, value in auth.items()}
    with pytest.raises(socketio.exceptions.ConnectionError):
        await clients("stranger").join(server.base, auth)


async def test_another_streams_token_is_refused_not_made_a_viewer(server, http, clients, tmp_path):
    link = await switch_on(http, server)
    # another session of the same organization, with its own captions
    answer = await http.post(f"{server.base}/api/sessions", headers=organizer(server), json={
        "title": "別の対話の場", "kind": "dialogue", "format": "online", "starts_at": "2030-05-11T10:00:00+09:00",
        "ends_at": "2030-05-11T12:00:00+09:00", "capacity_online": 20, "online_url": "https://meet.example/x",
        "status": "published"})
    assert answer.status_code == 201, answer.text
    other = await http.post(f"{server.base}/api/sessions/{answer.json()['id']}/captions", headers=organizer(server))
    assert other.status_code == 201 and other.json()["code"] != link["code"]
    with pytest.raises(socketio.exceptions.ConnectionError):
        await clients("cross").join(server.base, {"code": link["code"], "token": other.json()["captioner_token"]})


async def test_revoking_a_link_disconnects_it_and_refuses_it_from_then_on(server, http, clients):
    link = await switch_on(http, server, "to revoke")
    keep = await switch_on(http, server, "to keep")
    typist = await clients("revoked").join(server.base, {"code": link["code"], "token": link["captioner_token"]})
    other = await clients("kept").join(server.base, {"code": keep["code"], "token": keep["captioner_token"]})
    assert (await typist.call("caption:line", {"op": op(), "text": "取り消し前"}))["ok"]

    gone = await http.delete(f"{server.base}/api/sessions/{server.workshop.session_id}/captions/captioners/"
                             f"{link['captioner']}", headers=organizer(server))
    assert gone.status_code == 204
    await until(lambda: not typist.connected, "the revoked captioner is disconnected")
    assert other.connected and (await other.call("caption:line", {"op": op(), "text": "残った方"}))["ok"]
    with pytest.raises(socketio.exceptions.ConnectionError):
        await clients("revoked again").join(server.base, {"code": link["code"], "token": link["captioner_token"]})
    again = await http.delete(f"{server.base}/api/sessions/{server.workshop.session_id}/captions/captioners/"
                              f"{link['captioner']}", headers=organizer(server))
    assert again.status_code == 404
    page = await http.get(f"{server.base}/c/{link['code']}/captioner/{link['captioner_token']}")
    assert page.status_code == 404


async def test_captioner_tokens_never_reach_viewers(server, http, clients):
    link = await switch_on(http, server)
    code, token = link["code"], link["captioner_token"]
    typist = await clients("typist").join(server.base, {"code": code, "token": token})
    viewer = await clients("viewer").join(server.base, {"code": code})
    await typist.call("caption:line", {"op": op(), "text": token[:10] and "トークンは見せない", "speaker": "司会"})
    await typist.call("caption:line", {"op": op(), "text": "x" * 10_000})  # refused, too long
    await until(lambda: viewer.captions, "a caption")
    assert "ct_" not in viewer.wire() and token not in typist.wire()
    for path in (f"/c/{code}", f"/c/{code}?lines=3", "/c"):
        page = await http.get(server.base + path)
        assert page.status_code == 200 and "ct_" not in page.text, path


# ---------------------------------------------------------------- odd input

@pytest.mark.parametrize("data, code", [
    ({"text": ""}, "invalid"), ({"text": "   \n\t "}, "invalid"), ({"text": 42}, "invalid"),
    ({"text": "あ" * 501}, "too_long"), ({"text": "ok", "speaker": "長" * 21}, "too_long"),
    ({"text": "ok", "speaker": ["司会"]}, "invalid"), ({"text": None}, "invalid"),
])
async def test_bad_lines_get_a_clear_error_ack(server, http, clients, data, code):
    link = await switch_on(http, server)
    typist = await clients("typist").join(server.base, {"code": link["code"], "token": link["captioner_token"],
                                                         "lang": "ja"})
    answer = await typist.call("caption:line", {"op": op(), **data})
    assert answer["ok"] is False and answer["error"]["code"] == code
    assert JAPANESE.search(answer["error"]["message"])


async def test_line_breaks_controls_and_odd_unicode_become_one_clean_line(server, http, clients):
    link = await switch_on(http, server)
    typist = await clients("typist").join(server.base, {"code": link["code"], "token": link["captioner_token"]})
    viewer = await clients("viewer").join(server.base, {"code": link["code"]})
    answer = await typist.call("caption:line", {"op": op(), "text": "一行目\r\n二行目\u2028三\x00行目 --> <b>&amp;</b> 🎌",
                                                "speaker": "市長\n"})
    assert answer["ok"], answer
    await until(lambda: viewer.captions, "the line")
    assert viewer.captions[0]["data"] == {"line": answer["line"], "text": "一行目 二行目 三行目 --> <b>&amp;</b> 🎌",
                                          "speaker": "市長", "at": viewer.captions[0]["data"]["at"]}
    for payload in (None, [], "text", {"op": op(), "line": True, "text": "x"}, {"op": op(), "line": 10**9, "text": "x"},
                    {"op": "", "text": "x"}, {"text": "no op"}, {"op": "x" * 101, "text": "x"},
                    {"op": op(), "text": "lone \ud800 surrogate"}, {"op": "\ud800", "text": "x"},
                    {"op": op(), "text": "x", "speaker": "\udfff"}):
        event = "caption:edit" if isinstance(payload, dict) and "line" in payload else "caption:line"
        answer = await typist.call(event, payload)
        assert answer["ok"] is False, (payload, answer)
    assert typist.connected


async def test_a_viewer_flood_does_not_slow_the_typists(server, http, clients):
    link = await switch_on(http, server)
    typist = await clients("typist").join(server.base, {"code": link["code"], "token": link["captioner_token"]})
    flooder = await clients("flooder").join(server.base, {"code": link["code"]})
    flood = asyncio.gather(*(flooder.sio.emit("caption:line", {"op": op(), "text": "spam"}, namespace="/captions")
                             for _ in range(2000)))
    started = time.monotonic()
    for n in range(10):
        assert (await typist.call("caption:line", {"op": op(), "text": f"通常の行 {n}"}))["ok"]
    await flood
    assert time.monotonic() - started < 15
    assert "spam" not in [text for _n, _s, text in stored_lines(server, link["code"])]


async def test_organizers_correct_by_api_token_and_other_tokens_are_refused(server, http, clients):
    link = await switch_on(http, server)
    typist = await clients("typist").join(server.base, {"code": link["code"], "token": link["captioner_token"]})
    line = (await typist.call("caption:line", {"op": op(), "text": "主催者が直す行"}))["line"]
    corrector = await clients("organizer").join(server.base, {"code": link["code"], "token": server.workshop.api_token})
    assert (await corrector.call("caption:edit", {"op": op(), "line": line, "text": "主催者が直した行"}))["ok"]
    await until(lambda: typist.lines.get(line, {}).get("text") == "主催者が直した行", "the typist sees the fix")
    outsiders = in_own_loop(_outsider_tokens(server.db_path))
    for token in outsiders:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await clients("outsider").join(server.base, {"code": link["code"], "token": token})


async def _outsider_tokens(db_path) -> list[str]:
    """API tokens of a facilitator of the same organization and an organizer of another one."""
    async with open_database(db_path) as db:
        facilitator = await make_account(db, f"fac-{uuid.uuid4().hex[:6]}@kanazawa.example", role="facilitator")
        stranger = await make_account(db, f"staff-{uuid.uuid4().hex[:6]}@toyama.example", org="toyama")
        async with db.transaction() as conn:
            return [await accounts.create_api_token(conn, facilitator.id),
                    await accounts.create_api_token(conn, stranger.id)]


# ---------------------------------------------------------------- a viewer that never reads

@pytest.fixture(scope="module")
def small_backlog_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaiwaServer]:
    """As deployed, with a small per-client backlog (what a client may have waiting before it is dropped)."""
    folder = tmp_path_factory.mktemp("captions-backlog")
    server = TaiwaServer(prepare_workshop(fresh_database(folder)), folder / "server.log",
                         env={"TAIWA_SOCKET_BACKLOG_PACKETS": "200", "TAIWA_SOCKET_BACKLOG_BYTES": "100000"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


DROPPED = "dropped a socket client that fell behind"  # realtime/backlog.py's warning
MOST_LINES = 8000  # about 12 MB: far more than the kernel's buffers (up to 4 MB here) and the backlog take
LONG = "要約筆記の長い行。" * 54  # with its number, nearly 500 characters: about 1.5 kB on the wire


async def test_a_viewer_that_never_reads_is_dropped_and_typists_and_other_viewers_keep_their_pace(
        small_backlog_server, http, clients):
    from tests.test_attack_sockets import RawSocket

    server = small_backlog_server
    link = await switch_on(http, server)
    typist = await clients("typist").join(server.base, {"code": link["code"], "token": link["captioner_token"]})
    viewers = [await clients(f"reading viewer {n}").join(server.base, {"code": link["code"]}) for n in range(3)]
    start = viewers[0].snapshots[0]["seq"]
    reader = await RawSocket.open(server.port, receive_buffer=4096)  # a small window, soon full
    reader.send('40/captions,{"code": "%s"}' % link["code"])
    await reader.until(lambda: any(t.startswith('42/captions,["snapshot"') for t in reader.texts), 10)
    dropped_before = server.log().count(DROPPED)

    acks: list[float] = []

    async def line(n: int) -> None:
        started = time.monotonic()
        assert (await typist.call("caption:line", {"op": op(), "text": f"{n} {LONG}"}))["ok"]
        acks.append(time.monotonic() - started)

    # the typist floods long lines until the server gives up on the viewer that does not read, then types on
    typed = 0
    while server.log().count(DROPPED) == dropped_before:
        assert typed < MOST_LINES, "the viewer that never reads was never dropped"
        await asyncio.gather(*(line(n) for n in range(typed, typed + 50)))
        typed += 50
    for n in range(typed, typed + 100):
        await line(n)
    typed += 100
    print(f"\n[captions] the non-reading viewer was dropped after about {typed - 100} lines; typist's acks: median "
          f"{statistics.median(acks) * 1000:.1f} ms, slowest {max(acks) * 1000:.0f} ms")
    await until(lambda: all(len(viewer.captions) == typed for viewer in viewers), "the reading viewers have every line")
    assert max(acks) < 3  # the typist was never held up by the viewer that does not read
    for viewer in viewers:  # every line, once, in order
        assert [message["seq"] for message in viewer.captions] == list(range(start + 1, start + typed + 1))
        assert viewer.connected

    # reading again, the dropped viewer finds only the start of the lines, then the end of its connection
    await reader.until(lambda: False, 15)
    got = [json.loads(text.split(",", 1)[1])[1]["seq"] for text in reader.texts
           if text.startswith('42/captions,["caption"')]
    assert reader.closed and len(got) < typed - 100, len(got)
    assert got == list(range(start + 1, start + len(got) + 1))  # what it did get was in order, up to the drop
    # and it comes back like after any lost connection, asking for what it missed
    since = got[-1] if got else start
    back = await clients("back again").join(server.base, {"code": link["code"], "since": since})
    await until(lambda: back.snapshots, "snapshot")
    assert len(back.snapshots[0]["lines"]) == start + typed - since
    assert back.transcript()[-1][2] == f"{typed - 1} {LONG}"
