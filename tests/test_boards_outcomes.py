"""Workshop boards over HTTP: the projector, the exports (Markdown, CSV, JSON; by login or API token) and
the published outcome."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import segno
from bs4 import BeautifulSoup

from realtime import store as board_store
from realtime.board import Actor
from tests.board_http import (
    PROMPTS, act, api_token, bearer, browser, join, new_board, note_texts, organizer_board, signed_in_organizer,
    zone_notes,
)
from tests.board_http import english  # noqa: F401 - fixtures, used by name
from tests.harness import html, make_account, post_form


# ---------------------------------------------------------------- the projector

def html_fragment(markup: str) -> BeautifulSoup:
    return BeautifulSoup(markup, "html.parser")


async def test_projector_requires_the_organizer_login(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as anonymous:
        response = await anonymous.get(f"/boards/{board.id}/present", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/organize/login")
        await join(anonymous, board)  # a participant is not the projector either
        assert (await anonymous.get(f"/boards/{board.id}/present")).url.path == "/organize/login"


async def test_projector_shows_the_join_code_and_an_inline_svg_qr_code(client, db):
    _account, board = await organizer_board(client, db)
    page = html(await client.get(f"/boards/{board.id}/present"))
    assert page.select_one(".stage-join .join-code").get_text(strip=True) == board.join_code
    svg = page.select_one(".stage-join svg")
    assert svg is not None and "qr" in svg.get("class", [])
    # the QR code in the room says "in the room" (?via=room); the address people type does not
    room_qr = segno.make(f"http://testserver.local/j/{board.join_code}?via=room", error="m")
    buffer = io.BytesIO()
    room_qr.save(buffer, kind="svg", border=2, xmldecl=False, svgns=True, lineclass=None)
    drawn = html_fragment(buffer.getvalue().decode()).select_one("path")["d"]
    assert svg.select_one("path")["d"] == drawn
    assert f"http://testserver.local/j/{board.join_code}" in page.select_one("#stage-join-overlay").get_text()
    assert "http://testserver.local/j" in page.select_one(".stage-join").get_text()
    assert page.select_one(".site-header") is None and page.select_one("form") is None  # no site chrome


async def test_projector_shows_notes_by_zone_and_cluster(app, client, db):
    _account, board = await organizer_board(client, db)
    first = (await act(app, board.id, "note:add", zone="z1", text="海が近い"))["note"]
    await act(app, board.id, "note:add", zone="z3", text="朝市をやりたい")
    await act(app, board.id, "group:set", note=first, title="自然")
    page = await client.get(f"/boards/{board.id}/present")
    assert zone_notes(page, "地域の良いところ") == ["海が近い"]
    assert zone_notes(page, "やってみたいこと") == ["朝市をやりたい"]
    assert zone_notes(page, "困っていること") == []
    cluster = html(page).select_one("#zone-z1 .cluster")
    assert cluster.find("h3").get_text(strip=True) == "自然" and "海が近い" in cluster.get_text()
    assert html(page).select_one("#board-list form") is None  # a projector shows, it does not act


async def test_projector_never_shows_hidden_notes(app, client, db):
    _account, board = await organizer_board(client, db)
    await act(app, board.id, "note:add", zone="z1", text="映すメモ")
    rude = (await act(app, board.id, "note:add", zone="z1", text="映さないメモ"))["note"]
    await act(app, board.id, "note:hide", note=rude, hidden=True)
    assert note_texts(await client.get(f"/boards/{board.id}/present")) == ["映すメモ"]


async def test_projector_shows_results_only_after_reveal(app, client, db):
    _account, board = await organizer_board(client, db)
    note = (await act(app, board.id, "note:add", zone="z1", text="温泉"))["note"]
    await act(app, board.id, "phase:set", phase="vote")
    await act(app, board.id, "vote:cast", Actor(id="p1", name="p1"), note=note)
    before = html(await client.get(f"/boards/{board.id}/present"))
    assert before.select_one(".ranking") is None and "温泉" not in before.get_text()
    assert "1 of 0 have voted" in before.select_one("#stage-voted").get_text(" ", strip=True)
    await act(app, board.id, "votes:reveal", revealed=True)
    after = html(await client.get(f"/boards/{board.id}/present"))
    first = after.select_one(".ranking li")
    assert first.select_one(".ranking__title").get_text(strip=True) == "温泉"
    assert "1 dots: 0 in the room, 1 online" in first.get_text(" ", strip=True)


# ---------------------------------------------------------------- exports

async def workshop(app: Any, board: board_store.Board) -> dict[str, str]:
    """Notes in two zones, a cluster, online and proxy dots, and one hidden note."""
    author = Actor(id="p-hana", name="山田花子")
    ids = {
        "bus": (await act(app, board.id, "note:add", author, zone="z2", text="バスが少ない"))["note"],
        "taxi": (await act(app, board.id, "note:add", author, zone="z2", text="タクシーが高い"))["note"],
        "park": (await act(app, board.id, "note:add", author, zone="z1", text="公園が広い"))["note"],
        "rude": (await act(app, board.id, "note:add", author, zone="z1", text="非表示のメモ"))["note"],
    }
    await act(app, board.id, "group:set", note=ids["bus"], title="交通")
    await act(app, board.id, "note:hide", note=ids["rude"], hidden=True)
    await act(app, board.id, "phase:set", phase="vote")
    await act(app, board.id, "vote:cast", Actor(id="p-voter", name="voter"), note=ids["bus"])
    await act(app, board.id, "proxy:vote", note=ids["bus"], count=4)
    return ids


async def test_markdown_export_has_zone_and_cluster_headings_and_notes(app, client, db):
    _account, board = await organizer_board(client, db)
    await workshop(app, board)
    response = await client.get(f"/boards/{board.id}/export.md")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/markdown")
    lines = response.text.splitlines()
    assert lines[0] == "# 地域の未来ワークショップ"
    assert {"## 地域の良いところ", "## 困っていること", "## やってみたいこと", "### 交通"} <= set(lines)
    assert lines.index("## 困っていること") < lines.index("### 交通") < lines.index("- バスが少ない — 山田花子 (5)")
    assert "- タクシーが高い — 山田花子" in lines and "- 公園が広い — 山田花子" in lines


async def test_csv_export_has_a_bom_a_header_and_one_row_per_visible_note(app, client, db):
    _account, board = await organizer_board(client, db)
    await workshop(app, board)
    response = await client.get(f"/boards/{board.id}/export.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {"zone", "cluster", "note", "dots_online", "dots_proxy"} <= set(rows[0])
    assert sorted(r["note"] for r in rows if r["kind"] == "note") == sorted(["バスが少ない", "タクシーが高い", "公園が広い"])
    bus = next(r for r in rows if r["note"] == "バスが少ない")
    assert (bus["zone"], bus["cluster"], bus["dots_online"], bus["dots_proxy"]) == ("困っていること", "交通", "1", "4")


async def test_csv_export_counts_the_dots_placed_on_a_cluster_itself(app, client, db):
    _account, board = await organizer_board(client, db)
    await workshop(app, board)
    cluster = next(iter((await app.litestar.state.board_service.state(board.id)).groups))
    await act(app, board.id, "vote:cast", Actor(id="p-other", name="other"), group=cluster)
    await act(app, board.id, "proxy:vote", group=cluster, count=2)
    response = await client.get(f"/boards/{board.id}/export.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["kind"] for r in rows].count("cluster") == 1
    own = next(r for r in rows if r["kind"] == "cluster")
    assert (own["zone"], own["cluster"], own["note"], own["dots_online"], own["dots_proxy"]) == ("困っていること", "交通", "", "1", "2")
    assert rows.index(own) < next(i for i, r in enumerate(rows) if r["note"] == "バスが少ない")  # before its notes
    assert {r["kind"] for r in rows if r["note"]} == {"note"}
    # every dot the results count is in the CSV, as in the JSON
    total = sum(int(r["dots_online"]) + int(r["dots_proxy"]) for r in rows)
    data = json.loads((await client.get(f"/boards/{board.id}/export.json")).content)
    assert total == sum(item["total"] for item in data["results"]) == 8
    group = data["groups"][0]
    assert (group["title"], group["dots_online"], group["dots_proxy"]) == ("交通", 1, 2)


async def test_json_export_has_zones_notes_and_results(app, client, db):
    _account, board = await organizer_board(client, db)
    await workshop(app, board)
    response = await client.get(f"/boards/{board.id}/export.json")
    assert response.status_code == 200
    data = json.loads(response.content)
    assert [z["title"] for z in data["zones"]] == PROMPTS
    assert {n["note"] for n in data["notes"]} == {"バスが少ない", "タクシーが高い", "公園が広い"}
    top = data["results"][0]
    assert (top["title"], top["online"], top["proxy"], top["total"]) == ("交通", 1, 4, 5)


async def test_exports_leave_out_hidden_notes(app, client, db):
    _account, board = await organizer_board(client, db)
    await workshop(app, board)
    for fmt in ("md", "csv", "json"):
        response = await client.get(f"/boards/{board.id}/export.{fmt}")
        assert response.status_code == 200
        assert "非表示のメモ" not in response.content.decode("utf-8-sig"), fmt


async def test_api_export_works_with_a_bearer_token(app, client, db):
    account, board = await organizer_board(client, db)
    await workshop(app, board)
    token = await api_token(db, account)
    async with browser(app) as integrator:
        csv_answer = await integrator.get(f"/api/boards/{board.id}/export.csv", headers=bearer(token))
        assert csv_answer.status_code == 200 and csv_answer.content.startswith(b"\xef\xbb\xbf")
        data = (await integrator.get(f"/api/boards/{board.id}/export.json", headers=bearer(token))).json()
        assert len(data["notes"]) == 3 and data["results"]
        markdown = await integrator.get(f"/api/boards/{board.id}/export.md", headers=bearer(token))
        assert "### 交通" in markdown.text.splitlines()


async def test_unknown_export_format_is_not_found(app, client, db):
    account, board = await organizer_board(client, db)
    token = await api_token(db, account)
    assert (await client.get(f"/boards/{board.id}/export.xlsx")).status_code == 404
    async with browser(app) as integrator:
        answer = await integrator.get(f"/api/boards/{board.id}/export.xlsx", headers=bearer(token))
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


async def test_exports_need_a_login_or_a_token(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as anonymous:
        page = await anonymous.get(f"/boards/{board.id}/export.csv", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/organize/login")
        api = await anonymous.get(f"/api/boards/{board.id}/export.csv")
        assert api.status_code == 401 and api.json()["error"]["code"] == "unauthorized"


async def test_another_organizations_token_cannot_export(app, client, db):
    _account, board = await organizer_board(client, db)
    stranger = await make_account(db, "staff@toyama.example", org="toyama")
    token = await api_token(db, stranger)
    async with browser(app) as integrator:
        assert (await integrator.get(f"/api/boards/{board.id}/export.json", headers=bearer(token))).status_code == 404


# ---------------------------------------------------------------- the published outcome

async def publish(client: Any, board_id: int, **fields: str) -> Any:
    return await post_form(client, f"/boards/{board_id}/facilitate", f"/boards/{board_id}/outcome", fields)


async def test_outcome_is_not_public_before_it_is_published(app, client, db):
    _account, board = await organizer_board(client, db)
    await workshop(app, board)
    async with browser(app) as public:
        assert (await public.get(f"/boards/{board.id}/outcome")).status_code == 404


async def test_published_outcome_is_public_and_without_names_by_default(app, client, db):
    _account, board = await organizer_board(client, db)
    await workshop(app, board)
    response = await publish(client, board.id, publish="1")
    assert response.url.path == f"/boards/{board.id}/facilitate"
    async with browser(app) as public:
        page = await public.get(f"/boards/{board.id}/outcome")
        assert page.status_code == 200
        text = html(page).get_text()
        assert "バスが少ない" in text and "公園が広い" in text
        assert "山田花子" not in page.text and "非表示のメモ" not in page.text
        assert "交通 — 5 dots" in html(page).select_one("#ranked-title").find_next("ol").get_text(" ", strip=True)


async def test_published_outcome_with_names_shows_the_authors(app, client, db):
    _account, board = await organizer_board(client, db)
    await workshop(app, board)
    await publish(client, board.id, publish="1", names="1")
    async with browser(app) as public:
        page = await public.get(f"/boards/{board.id}/outcome")
        items = [li.get_text(" ", strip=True) for li in html(page).select("section[aria-labelledby^=oz-] li")]
        assert "バスが少ない — 山田花子" in items  # under its cluster, "交通 (5 dots)", first in its prompt
        cluster = html(page).select_one("#oz-z2").find_next("ol").find("li")
        assert cluster.find("strong").get_text(strip=True) == "交通" and "5 dots" in cluster.get_text()


async def test_anonymous_boards_outcome_never_shows_names(app, client, db):
    _account, board = await organizer_board(client, db, anonymous=True)
    await workshop(app, board)
    await publish(client, board.id, publish="1", names="1")
    async with browser(app) as public:
        page = await public.get(f"/boards/{board.id}/outcome")
        assert page.status_code == 200 and "バスが少ない" in page.text and "山田花子" not in page.text


async def test_withdrawn_outcome_is_not_found_again(app, client, db):
    _account, board = await organizer_board(client, db)
    await publish(client, board.id, publish="1")
    await publish(client, board.id, publish="0")
    async with browser(app) as public:
        assert (await public.get(f"/boards/{board.id}/outcome")).status_code == 404


async def test_session_page_links_the_published_outcome(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    await publish(client, board.id, publish="1")
    async with browser(app) as public:
        page = html(await public.get(f"/sessions/{session_id}"))
        assert page.select_one(f"a[href='/boards/{board.id}/outcome']") is not None
