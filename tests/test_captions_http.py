"""Live captions over HTTP: switching them on and captioner links (API and organizer pages), who may do
what (the authorization matrix), the transcript as WebVTT (read back by webvtt-py) and text, correcting
and publishing it, /c/{code} without JavaScript, the captioner's plain forms, the captions band on the
board pages, and the online room of a registrant who joins online."""

from __future__ import annotations

import html as html_text
import io
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
import webvtt

from realtime import caption_store
from realtime.captions import Captioner
from realtime.missed import missed_messages
from server.auth import accounts
from tests.board_http import browser, join, new_board
from tests.harness import TOKYO, csrf_from, html, login, make_account, make_session, make_venue, read_db


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def api_token(db: Any, account: accounts.Account) -> str:
    async with db.transaction() as conn:
        return await accounts.create_api_token(conn, account.id)


def tokyo_now(minutes: int = 0) -> datetime:
    """Tokyo wall time (naive, as make_session takes it) some minutes from now."""
    return (datetime.now(TOKYO) + timedelta(minutes=minutes)).replace(tzinfo=None, microsecond=0)


async def world(db: Any, **session: Any) -> dict[str, Any]:
    """An organizer (with token) of kanazawa and a session; a facilitator of kanazawa; an organizer of sapporo."""
    owner = await make_account(db, "staff@kanazawa.example")
    venue = await make_venue(db, owner.org_id)
    session_id = await make_session(db, owner.org_id, venue, title="市民フォーラム", kind="forum", **session)
    facilitator = await make_account(db, "fac@kanazawa.example", role="facilitator")
    stranger = await make_account(db, "staff@sapporo.example", org="sapporo")
    return {"owner": owner, "session_id": session_id, "token": await api_token(db, owner),
            "facilitator": await api_token(db, facilitator), "stranger": await api_token(db, stranger)}


async def captions_on(client: Any, w: dict[str, Any]) -> dict[str, Any]:
    answer = await client.post(f"/api/sessions/{w['session_id']}/captions", json={}, headers=bearer(w["token"]))
    assert answer.status_code == 201, answer.text
    return answer.json()


async def commit(app: Any, code: str, text: str, speaker: str = "", sender: str = "c-test") -> dict[str, Any]:
    """A line committed through the same service the socket uses."""
    db = app.litestar.state.db
    stream = await caption_store.stream_by_code(db, code)
    answer = await app.litestar.state.caption_service.handle(
        stream, "caption:line", {"text": text, "speaker": speaker}, Captioner(id=sender), uuid.uuid4().hex)
    assert answer["ok"], answer
    return answer


# ---------------------------------------------------------------- the API

async def test_switching_captions_on_twice_gives_the_same_code_and_a_new_captioner_token(client, db):
    w = await world(db)
    first = await captions_on(client, w)
    second = await captions_on(client, w)
    assert first["code"] == second["code"] and first["code"].isdigit() and len(first["code"]) == 6
    assert first["captioner_token"] != second["captioner_token"] and first["captioner_token"].startswith("ct_")
    assert first["viewer_url"].endswith(f"/c/{first['code']}")
    described = await client.get(f"/api/sessions/{w['session_id']}/captions", headers=bearer(w["token"]))
    assert described.status_code == 200
    body = described.json()
    assert [c["revoked"] for c in body["captioners"]] == [False, False] and body["lines"] == []
    assert "ct_" not in described.text  # tokens are shown once, at creation
    stored = read_db(db.path or db.url, "select token_hash from caption_captioners")
    assert all(first["captioner_token"] not in row[0] for row in stored)  # only digests are kept


ROUTES = [
    ("post", "/api/sessions/{id}/captions", {}), ("get", "/api/sessions/{id}/captions", None),
    ("patch", "/api/sessions/{id}/captions", {"published": True}),
    ("delete", "/api/sessions/{id}/captions/captioners/{captioner}", None),
    ("patch", "/api/sessions/{id}/captions/lines/1", {"text": "直した"}),
]


@pytest.mark.parametrize("method, path, body", ROUTES)
@pytest.mark.parametrize("who, expected", [("anonymous", 401), ("stranger", 404), ("facilitator", 403)])
async def test_only_the_sessions_organizers_manage_captions(client, db, app, method, path, body, who, expected):
    w = await world(db)
    link = await captions_on(client, w)
    await commit(app, link["code"], "最初の行")
    before = read_db(db.path or db.url, "select line, text from caption_lines")
    headers = bearer(w[who]) if who != "anonymous" else {}
    url = path.format(id=w["session_id"], captioner=link["captioner"])
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    answer = await client.request(method.upper(), url, **kwargs)
    assert answer.status_code == expected, answer.text
    assert answer.json()["error"]["message"]
    assert read_db(db.path or db.url, "select line, text from caption_lines") == before
    assert read_db(db.path or db.url, "select count(*) from caption_captioners where revoked_at is not null")[0][0] == 0
    assert read_db(db.path or db.url, "select published from caption_streams")[0][0] == 0


async def test_a_session_without_captions_or_another_organizations_is_404(client, db):
    w = await world(db)
    for path in ("/api/sessions/{id}/captions", "/api/sessions/{id}/captions.vtt", "/api/sessions/{id}/captions.txt"):
        answer = await client.get(path.format(id=w["session_id"]), headers=bearer(w["token"]))
        assert answer.status_code == 404, path
    assert (await client.post("/api/sessions/999999/captions", headers=bearer(w["token"]))).status_code == 404


async def test_the_transcript_is_for_organizers_until_published_with_the_outcome(client, db, app):
    w = await world(db)
    link = await captions_on(client, w)
    await commit(app, link["code"], "公開前の行")
    url = f"/api/sessions/{w['session_id']}/captions.txt"
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url, headers=bearer(w["stranger"]))).status_code == 404
    assert (await client.get(url, headers=bearer(w["facilitator"]))).status_code == 200
    assert "公開前の行" in (await client.get(url, headers=bearer(w["token"]))).text
    published = await client.patch(f"/api/sessions/{w['session_id']}/captions", json={"published": True},
                                   headers=bearer(w["token"]))
    assert published.status_code == 200 and published.json()["published"] is True
    anyone = await client.get(url)
    assert anyone.status_code == 200 and "公開前の行" in anyone.text
    assert anyone.headers["content-type"].startswith("text/plain")


async def test_webvtt_is_timed_from_the_session_start_and_reads_back_in_an_independent_parser(client, db, app):
    w = await world(db, starts_at=tokyo_now(-1), ends_at=tokyo_now(120))
    link = await captions_on(client, w)
    await commit(app, link["code"], "ただいまから市民フォーラムを始めます", "司会")
    await commit(app, link["code"], "市長の挨拶 <b>&</b> 質疑 --> 回答", "市長")
    await commit(app, link["code"], "バスの本数を増やしてほしい")
    answer = await client.get(f"/api/sessions/{w['session_id']}/captions.vtt", headers=bearer(w["token"]))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/vtt")
    parsed = webvtt.from_buffer(io.StringIO(answer.text))
    cues = list(parsed)
    # webvtt-py leaves character references as they are; a player shows them decoded
    assert [html_text.unescape(cue.text) for cue in cues] == ["ただいまから市民フォーラムを始めます", "市長の挨拶 <b>&</b> 質疑 → 回答",
                                         "バスの本数を増やしてほしい"]
    assert [cue.voice for cue in cues] == ["司会", "市長", None]
    starts = [cue.start_in_seconds for cue in cues]
    assert 55 <= starts[0] <= 75 and starts == sorted(starts)  # about a minute after the start
    assert all(cue.end_in_seconds > cue.start_in_seconds for cue in cues)


async def test_lines_before_the_start_are_at_zero(client, db, app):
    w = await world(db)  # next Saturday: everything typed now is before the start
    link = await captions_on(client, w)
    await commit(app, link["code"], "リハーサル")
    await commit(app, link["code"], "マイクテスト")
    answer = await client.get(f"/api/sessions/{w['session_id']}/captions.vtt", headers=bearer(w["token"]))
    cues = list(webvtt.from_buffer(io.StringIO(answer.text)))
    assert [cue.start for cue in cues] == ["00:00:00.000", "00:00:00.000"]


async def test_correcting_a_line_through_the_api_changes_it_for_everyone(client, db, app):
    w = await world(db)
    link = await captions_on(client, w)
    line = (await commit(app, link["code"], "しみんきょうどう", "司会"))["line"]
    answer = await client.patch(f"/api/sessions/{w['session_id']}/captions/lines/{line}",
                                json={"text": "市民協働", "speaker": "市長"}, headers=bearer(w["token"]))
    assert answer.status_code == 200, answer.text
    assert answer.json()["text"] == "市民協働" and answer.json()["speaker"] == "市長" and answer.json()["edited"]
    text = (await client.get(f"/api/sessions/{w['session_id']}/captions.txt", headers=bearer(w["token"]))).text
    assert "市長: 市民協働" in text and "しみんきょうどう" not in text
    for body, status in (({"text": ""}, 422), ({"text": "x" * 501}, 422), ({"text": 3}, 422)):
        bad = await client.patch(f"/api/sessions/{w['session_id']}/captions/lines/{line}", json=body,
                                 headers=bearer(w["token"]))
        assert bad.status_code == status, (body, bad.text)
    missing = await client.patch(f"/api/sessions/{w['session_id']}/captions/lines/999", json={"text": "x"},
                                 headers=bearer(w["token"]))
    assert missing.status_code == 404


async def edit(app: Any, code: str, line: int, text: str) -> dict[str, Any]:
    db = app.litestar.state.db
    stream = await caption_store.stream_by_code(db, code)
    answer = await app.litestar.state.caption_service.handle(
        stream, "caption:edit", {"line": line, "text": text}, Captioner(id="c-test"), uuid.uuid4().hex)
    assert answer["ok"], answer
    return answer


async def test_what_a_caption_room_missed_is_read_back_as_messages_that_chain_without_a_gap(client, db, app):
    """What a process that lost caption messages on their way through Redis sends its viewers instead
    (realtime/missed.py): a line edited again keeps only its latest seq, so each message covers from..seq."""
    w = await world(db)
    link = await captions_on(client, w)
    first = await commit(app, link["code"], "一行目", "司会")            # seq 1
    second = await commit(app, link["code"], "二行目")                  # seq 2
    await edit(app, link["code"], first["line"], "一行目(訂正)")       # seq 3
    third = await commit(app, link["code"], "三行目", "市長")           # seq 4
    await edit(app, link["code"], second["line"], "二行目(訂正)")      # seq 5
    stream = await caption_store.stream_by_code(db, link["code"])
    room = f"captions:{stream.id}"
    found = await missed_messages(app.litestar.state.board_service, room, 0)
    assert [(m["from"], m["seq"], m["type"], m["data"]["line"], m["data"]["text"]) for m in found] == [
        (1, 3, "edit", first["line"], "一行目(訂正)"), (4, 4, "line", third["line"], "三行目"),
        (5, 5, "edit", second["line"], "二行目(訂正)")]
    assert found[0]["data"]["speaker"] == "司会" and found[0]["data"]["edited"] is True
    later = await missed_messages(app.litestar.state.board_service, room, 3)
    assert [(m["from"], m["seq"]) for m in later] == [(4, 4), (5, 5)]
    assert await missed_messages(app.litestar.state.board_service, room, 5) == []
    # rooms that are not a stream's (made up, another number, odd text) read back nothing
    for odd in (f"captions:{stream.id + 100}", f"captions:{stream.id}:x", "captions:", "captions:１", "captions:-1",
                f"captions:{stream.id}\n"):
        assert await missed_messages(app.litestar.state.board_service, odd, 0) == [], odd


# ---------------------------------------------------------------- the organizer's page

async def test_organizer_page_hands_out_a_link_once_revokes_corrects_and_publishes(client, db, app):
    w = await world(db)
    await login(client, "staff@kanazawa.example")
    page = await client.get(f"/organize/sessions/{w['session_id']}/captions")
    assert page.status_code == 200
    made = await client.post(f"/organize/sessions/{w['session_id']}/captions",
                             data={"_csrf_token": csrf_from(page), "label": "入力者1"})
    assert made.status_code == 200
    link = html(made).select_one("#new-captioner-link")["href"]
    assert "/captioner/ct_" in link
    again = await client.get(f"/organize/sessions/{w['session_id']}/captions")
    assert "ct_" not in again.text and "入力者1" in again.text  # shown once

    code = link.split("/c/")[1].split("/")[0]
    line = (await commit(app, code, "誤変換の行"))["line"]
    page = await client.get(f"/organize/sessions/{w['session_id']}/captions")
    fixed = await client.post(f"/organize/sessions/{w['session_id']}/captions/lines/{line}",
                              data={"_csrf_token": csrf_from(page), "text": "正しい行", "speaker": "司会"})
    assert fixed.status_code == 200 and "保存しました" in fixed.text or "Saved" in fixed.text
    assert read_db(db.path or db.url, "select text, speaker from caption_lines")[0][:] == ("正しい行", "司会")

    published = await client.post(f"/organize/sessions/{w['session_id']}/captions/publish",
                                  data={"_csrf_token": csrf_from(page), "publish": "1"})
    assert published.status_code == 200
    assert read_db(db.path or db.url, "select published from caption_streams")[0][0] == 1
    vtt = await client.get(f"/organize/sessions/{w['session_id']}/captions.vtt")
    assert vtt.status_code == 200 and "<v 司会>正しい行" in vtt.text

    captioner = read_db(db.path or db.url, "select id from caption_captioners")[0][0]
    revoked = await client.post(f"/organize/sessions/{w['session_id']}/captions/captioners/{captioner}/revoke",
                                data={"_csrf_token": csrf_from(page)})
    assert revoked.status_code == 200
    assert (await client.get(link.replace("http://testserver.local", ""))).status_code == 404


async def test_another_organizations_organizer_cannot_reach_the_captions_page(client, db):
    w = await world(db)
    await captions_on(client, w)
    await login(client, "staff@sapporo.example")
    for path in ("/organize/sessions/{id}/captions", "/organize/sessions/{id}/captions.vtt"):
        assert (await client.get(path.format(id=w["session_id"]))).status_code == 404
    page = await client.get("/organize")
    answer = await client.post(f"/organize/sessions/{w['session_id']}/captions/publish",
                               data={"_csrf_token": csrf_from(page), "publish": "1"})
    assert answer.status_code == 404
    assert read_db(db.path or db.url, "select published from caption_streams")[0][0] == 0


# ---------------------------------------------------------------- /c/{code} and the captioner's forms

async def test_viewer_page_lists_the_transcript_without_javascript_and_keeps_the_viewers_choices(client, db, app):
    w = await world(db)
    link = await captions_on(client, w)
    for n in range(6):
        await commit(app, link["code"], f"行 {n}", "司会" if n == 0 else "")
    page = await client.get(f"/c/{link['code']}")
    assert page.status_code == 200
    doc = html(page)
    assert [li.get_text(" ", strip=True) for li in doc.select("#caption-lines li")][:2] == ["司会 行 0", "行 1"]
    assert doc.select_one("noscript") is not None and 'http-equiv="refresh"' in page.text
    assert doc.select_one("[role=log]")["aria-live"] == "polite"
    chosen = html(await client.get(f"/c/{link['code']}?lines=3&size=xxl&theme=yellow&announce=0"))
    assert [li.get_text(strip=True) for li in chosen.select("#caption-lines li")] == ["行 3", "行 4", "行 5"]
    view = chosen.select_one("#captions-view")
    assert "captions-size-xxl" in view["class"] and "captions-theme-yellow" in view["class"]
    assert chosen.select_one("[role=log]")["aria-live"] == "off"
    odd = await client.get(f"/c/{link['code']}?lines=-5&size=<script>&theme=%00")
    assert odd.status_code == 200 and "<script>" not in html(odd).select_one("#captions-view")["class"]
    fragment = await client.get(f"/c/{link['code']}?lines=2", headers={"HX-Request": "true"})
    assert fragment.text.strip().startswith("<ol") and "行 5" in fragment.text
    assert "ct_" not in page.text + fragment.text


@pytest.mark.parametrize("path", ["/c/000000", "/c/abc", "/c/" + "9" * 300])
async def test_unknown_codes_are_404(client, db, path):
    await world(db)
    assert (await client.get(path)).status_code == 404


async def test_captions_of_a_draft_or_long_finished_unpublished_session_are_not_shown(client, db, app):
    draft = await world(db, status="draft")
    link = await captions_on(client, draft)
    assert (await client.get(f"/c/{link['code']}")).status_code == 404
    old = await make_session(db, draft["owner"].org_id, None, title="昨年のフォーラム", format="online", capacity_online=10,
                             starts_at=tokyo_now(-60 * 24 * 3), ends_at=tokyo_now(-60 * 24 * 3 + 120),
                             online_url="https://meet.example/old")
    made = await client.post(f"/api/sessions/{old}/captions", headers=bearer(draft["token"]))
    code = made.json()["code"]
    assert (await client.get(f"/c/{code}")).status_code == 404
    await client.patch(f"/api/sessions/{old}/captions", json={"published": True}, headers=bearer(draft["token"]))
    assert (await client.get(f"/c/{code}")).status_code == 200


async def test_captioner_forms_commit_and_correct_lines_without_javascript(client, db):
    w = await world(db)
    link = await captions_on(client, w)
    url = f"/c/{link['code']}/captioner/{link['captioner_token']}"
    page = await client.get(url)
    assert page.status_code == 200 and "no-store" in page.headers["cache-control"]
    doc = html(page)
    assert doc.select_one("#caption-input") is not None
    assert [radio["value"] for radio in doc.select("input[name=speaker]")] == ["", "司会", "市長", "参加者"]
    op = doc.select_one("#captioner-form input[name=op]")["value"]
    sent = await client.post(f"{url}/lines", data={"_csrf_token": csrf_from(page), "op": op, "text": "手で送った行",
                                                     "speaker": "市長"})
    assert sent.status_code == 200
    again = await client.post(f"{url}/lines", data={"_csrf_token": csrf_from(page), "op": op, "text": "手で送った行"})
    assert again.status_code == 200
    assert [tuple(row) for row in read_db(db.path or db.url, "select line, speaker, text from caption_lines")] == [
        (1, "市長", "手で送った行")]
    page = await client.get(url)
    edit_op = html(page).select_one("#line-1 input[name=op]")["value"]
    await client.post(f"{url}/lines/1", data={"_csrf_token": csrf_from(page), "op": edit_op, "text": "直した行",
                                               "speaker": "市長"})
    assert read_db(db.path or db.url, "select text from caption_lines")[0][0] == "直した行"
    empty = await client.post(f"{url}/lines", data={"_csrf_token": csrf_from(page), "op": "x1", "text": " "})
    assert "先に字幕を入力してください" in empty.text or "Type the caption first." in empty.text
    other_code = await client.get(f"/c/123456/captioner/{link['captioner_token']}")
    assert other_code.status_code == 404
    assert (await client.get(f"/c/{link['code']}/captioner/ct_forged")).status_code == 404


# ---------------------------------------------------------------- the band on the board pages

async def test_board_pages_carry_the_captions_band_with_the_code_only(client, db, app):
    w = await world(db)
    link = await captions_on(client, w)
    await commit(app, link["code"], "ボードでも見える字幕")
    board = await new_board(db, w["session_id"], w["owner"].org_id)
    async with browser(app) as person:
        await join(person, board)
        for path in (f"/boards/{board.id}", f"/boards/{board.id}/list"):
            page = await person.get(path)
            band = html(page).select_one("#captions-band")
            assert band is not None and band["data-captions-code"] == link["code"], path
            assert "ボードでも見える字幕" in band.get_text() and "ct_" not in page.text
    await login(client, "staff@kanazawa.example")
    present = await client.get(f"/boards/{board.id}/present")
    assert html(present).select_one("#captions-band")["data-captions-code"] == link["code"]


async def test_the_facilitators_console_carries_the_band_with_the_viewers_controls(client, db, app):
    w = await world(db)
    board = await new_board(db, w["session_id"], w["owner"].org_id)
    await login(client, "staff@kanazawa.example")
    console = f"/boards/{board.id}/facilitate"
    assert html(await client.get(console)).select_one("#captions-band") is None  # captions are off
    link = await captions_on(client, w)
    await commit(app, link["code"], "進行役にも見える字幕", speaker="司会")
    page = await client.get(console)
    doc = html(page)
    band = doc.select_one("#captions-band")
    assert band is not None and band["data-captions-code"] == link["code"]
    assert [li.get_text(" ", strip=True) for li in band.select(".caption-lines li")] == ["司会 進行役にも見える字幕"]
    assert band.select_one("[role=log]")["aria-live"] == "off"  # announcing is the viewer's choice
    assert band.select_one("[data-announce-toggle]")["aria-pressed"] == "false"
    assert band.select_one(f"a[href='/c/{link['code']}']") is not None  # full screen, size and colours
    assert doc.select_one("#board-controls").find_previous(id="captions-band") is band  # above the controls
    assert "ct_" not in page.text
    assert len(doc.select("#captions-band")) == 1  # the stage preview does not repeat it
    fragment = await client.get(f"{console}?fragment=1&js=1", headers={"HX-Request": "true"})
    assert html(fragment).select_one("#captions-band") is None  # the live fragment leaves the band alone


async def test_board_pages_have_no_band_without_captions(client, db, app):
    w = await world(db)
    board = await new_board(db, w["session_id"], w["owner"].org_id)
    async with browser(app) as person:
        await join(person, board)
        assert html(await person.get(f"/boards/{board.id}")).select_one("#captions-band") is None


# ---------------------------------------------------------------- the online room

async def register_online(client: Any, session_id: int, name: str = "オンライン参加者") -> str:
    answer = await client.post(f"/api/sessions/{session_id}/registrations",
                               json={"name": name, "email": "online@example.jp", "mode": "online"})
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


async def test_online_room_has_the_meeting_link_captions_and_the_same_board(client, db, app):
    w = await world(db, format="hybrid", capacity_online=20, online_url="https://meet.example/forum",
                    starts_at=tokyo_now(10), ends_at=tokyo_now(130))
    link = await captions_on(client, w)
    await commit(app, link["code"], "オンラインにも届く字幕", "司会")
    board = await new_board(db, w["session_id"], w["owner"].org_id)
    token = await register_online(client, w["session_id"])
    assert f"/r/{token}/room" in (await client.get(f"/r/{token}")).text
    async with browser(app) as person:
        room = await person.get(f"/r/{token}/room")
        assert room.status_code == 200
        doc = html(room)
        assert doc.select_one('a[href="https://meet.example/forum"]') is not None
        assert doc.select_one("#captions-band")["data-captions-code"] == link["code"]
        assert "オンラインにも届く字幕" in doc.select_one("#captions-band").get_text()
        assert doc.select_one("#board-app")["data-board"] == str(board.id)
        assert doc.select_one("#board-list") is not None
        assert "ct_" not in room.text
        # the same participant on every visit, anonymous, online; the board's own pages know them
        await person.get(f"/r/{token}/room")
        rows = read_db(db.path or db.url, "select display_name, place from board_participants where board_id = ?", (board.id,))
        assert len(rows) == 1 and rows[0]["place"] == "online" and "オンライン参加者" not in rows[0]["display_name"]
        assert (await person.get(f"/boards/{board.id}/list")).status_code == 200


async def test_online_room_opens_only_in_its_window_and_only_for_online_registrants(client, db):
    w = await world(db, format="hybrid", capacity_online=20, online_url="https://meet.example/later")
    token = await register_online(client, w["session_id"])
    later = await client.get(f"/r/{token}/room")
    assert later.status_code == 200 and "meet.example" not in later.text and html(later).select_one("#board-app") is None
    in_person = await client.post(f"/api/sessions/{w['session_id']}/registrations",
                                  json={"name": "会場参加者", "email": "room@example.jp", "mode": "in_person"})
    page = await client.get(f"/r/{in_person.json()['token']}/room")
    assert page.status_code == 200 and "meet.example" not in page.text
    assert (await client.get("/r/not-a-token/room")).status_code == 404
