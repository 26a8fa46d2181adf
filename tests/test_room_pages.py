"""The room over HTTP: the projector's stage follows the board, the console's fragment follows it too,
joining from the room's QR code, what scales mean, facilitators reaching their boards, and the published
outcome as a closing report (date, attendance, what happens next, notes ranked by dots)."""

from __future__ import annotations

from realtime.board import Actor
from tests.board_http import PROMPTS, act, browser, join, new_board, organizer_board, signed_in_organizer
from tests.board_http import english  # noqa: F401 - fixtures, used by name
from tests.harness import csrf_from, html, make_account, make_session, make_venue

AIKO = Actor(id="p-aiko", name="あいこ", place="room")
BEN = Actor(id="p-ben", name="べん")


async def stage(client, board_id: int) -> tuple[str, object]:
    page = html(await client.get(f"/boards/{board_id}/present"))
    return page.select_one("#board-list")["data-stage"], page


async def test_projector_stage_follows_phase_reveal_poll_and_pinned_question(app, client, db):
    _account, board = await organizer_board(client, db)
    assert (await stage(client, board.id))[0] == "join"
    note = (await act(app, board.id, "note:add", AIKO, zone="z1", text="海が近い"))["note"]
    assert (await stage(client, board.id))[0] == "writing"
    await act(app, board.id, "phase:set", phase="group")
    assert (await stage(client, board.id))[0] == "grouping"
    await act(app, board.id, "phase:set", phase="vote")
    await act(app, board.id, "vote:cast", AIKO, note=note)
    name, page = await stage(client, board.id)
    assert name == "voting" and "海が近い" not in page.select_one("#board-list").get_text()  # nothing revealed
    await act(app, board.id, "votes:reveal", revealed=True)
    assert (await stage(client, board.id))[0] == "reveal"
    poll = (await act(app, board.id, "poll:create", type="fist_to_five", question="この案で進めますか", open=True))["id"]
    name, page = await stage(client, board.id)
    assert name == "poll" and page.select_one("h1").get_text(strip=True) == "この案で進めますか"
    options = [li.get_text(" ", strip=True) for li in page.select(".stage-options li")]
    assert options[0] == "0 — Against (I block it)" and options[-1] == "5 — Fully agree"
    await act(app, board.id, "poll:close", poll=poll)
    question = (await act(app, board.id, "question:ask", BEN, text="予算は？"))["id"]
    await act(app, board.id, "question:moderate", question=question, action="pin")
    name, page = await stage(client, board.id)
    assert name == "qa" and page.select_one(".stage-pinned").get_text(" ", strip=True) == "Now: 予算は？"
    await act(app, board.id, "board:joining", open=False)
    name, page = await stage(client, board.id)
    assert page.select_one(".stage-bar__join").get_text(strip=True) == "Joining is closed"
    await act(app, board.id, "phase:set", phase="closed")
    name, page = await stage(client, board.id)
    assert name == "closing" and page.select_one("h1").get_text(strip=True) == "Thank you for taking part"


async def test_reveal_counts_the_room_and_online_apart_and_together(app, client, db):
    _account, board = await organizer_board(client, db)
    note = (await act(app, board.id, "note:add", AIKO, zone="z1", text="温泉"))["note"]
    await act(app, board.id, "phase:set", phase="vote")
    await act(app, board.id, "vote:cast", AIKO, note=note)  # on a phone in the room
    await act(app, board.id, "vote:cast", BEN, note=note)   # online
    await act(app, board.id, "proxy:vote", note=note, count=3)  # paper dots in the room
    await act(app, board.id, "votes:reveal", revealed=True)
    _name, page = await stage(client, board.id)
    item = page.select_one(".ranking li")
    assert item.select_one(".ranking__numbers").get_text(strip=True) == "5 dots: 4 in the room, 1 online"
    bars = item.select("svg rect")
    assert [float(rect["width"]) for rect in bars] == [800.0, 200.0]


async def test_console_fragment_names_what_each_control_will_do_now(app, client, db):
    _account, board = await organizer_board(client, db)
    controls = html(await client.get(f"/boards/{board.id}/facilitate?fragment=1&js=1"))
    assert controls.select_one("#control-lock").get_text(strip=True) == "Pause the board"
    assert controls.select_one("#control-next-phase").get_text(strip=True) == "Go to the next phase: Group"
    assert "the join screen" in controls.select_one("#preview").get_text()
    await act(app, board.id, "board:lock", locked=True)
    await act(app, board.id, "votes:reveal", revealed=True)
    await act(app, board.id, "phase:set", phase="vote")
    controls = html(await client.get(f"/boards/{board.id}/facilitate?fragment=1&js=1"))
    assert controls.select_one("#control-lock").get_text(strip=True) == "Resume the board"
    assert controls.select_one("#control-reveal").get_text(strip=True) == "Hide results"
    assert controls.select_one("#control-next-phase").get_text(strip=True) == "Go to the next phase: Discuss"
    assert "the vote results" in controls.select_one("#preview").get_text()
    assert controls.select_one("#board-list") is not None  # the board itself comes in the same fragment


async def test_poll_buttons_say_what_they_do_and_a_poll_opens_on_creation(app, client, db):
    _account, board = await organizer_board(client, db)
    draft = (await act(app, board.id, "poll:create", type="single_choice", question="A or B", options=["A", "B"]))["id"]
    opened = (await act(app, board.id, "poll:create", type="scale", question="How much?", open=True))["id"]
    page = html(await client.get(f"/boards/{board.id}/facilitate"))
    assert page.select_one(f"#poll-status-{draft}").get_text(" ", strip=True).startswith("Start taking answers")
    assert page.select_one(f"#poll-status-{opened}").get_text(" ", strip=True).startswith("Stop taking answers")
    async with browser(app) as person:
        await join(person, board)
        form = html(await person.get(f"/boards/{board.id}/list")).select_one(f"#poll-{opened} form.poll__answer")
        labels = [label.get_text(strip=True) for label in form.select("label")]
        assert labels[0] == "1 — Not at all" and labels[-1] == "5 — Very much"


async def test_joining_from_the_room_qr_code_defaults_to_in_the_room(app, client, db):
    _account, board = await organizer_board(client, db)
    async with browser(app) as person:
        from_qr = html(await person.get(f"/j/{board.join_code}?via=room"))
        assert from_qr.select_one("#place-room").has_attr("checked") and not from_qr.select_one("#place-online").has_attr("checked")
        assert from_qr.select_one("#place-hint") is not None
        typed = html(await person.get(f"/j/{board.join_code}"))
        assert typed.select_one("#place-online").has_attr("checked") and typed.select_one("#place-hint") is None
        weird = html(await person.get(f"/j/{board.join_code}?via=%E3%81%82%0Aroom"))  # odd values: online
        assert weird.select_one("#place-online").has_attr("checked")
        page = await person.get(f"/j/{board.join_code}?via=room")
        await person.post(f"/j/{board.join_code}", data={"_csrf_token": csrf_from(page), "display_name": "さくら",
                                                        "place": "room"})
    _name, projector = await stage(client, board.id)
    assert projector.select_one("#stage-count").get_text(strip=True) == \
        "Joined: 1 in the room · 0 online · 1 in all"


async def test_a_facilitator_lists_and_runs_its_organizations_boards_but_does_not_create_them(app, client, db):
    account, session_id = await signed_in_organizer(client, db, email="fumi@kanazawa.example", role="facilitator")
    board = await new_board(db, session_id, account.org_id)
    page = await client.get(f"/organize/sessions/{session_id}/boards")
    assert page.status_code == 200
    links = {a["href"] for a in html(page).select("table a")}
    assert {f"/boards/{board.id}/facilitate", f"/boards/{board.id}/present"} <= links
    assert html(page).select_one("form[method=post]") is None or \
        html(page).select_one("form[method=post][action$='/boards']") is None
    assert (await client.get(f"/boards/{board.id}/facilitate")).status_code == 200
    session_page = html(await client.get(f"/organize/sessions/{session_id}"))
    assert session_page.select_one(f"a[href='/organize/sessions/{session_id}/boards']") is not None
    created = await client.post(f"/organize/sessions/{session_id}/boards",
                                data={"_csrf_token": csrf_from(page), "title": "x", "prompts": "a"})
    assert created.status_code == 403


async def test_a_facilitator_of_another_organization_gets_404_for_its_boards(app, client, db):
    other = await make_account(db, "other@yokohama.example", role="organizer", org="yokohama")
    venue = await make_venue(db, other.org_id, name="横浜会場")
    session_id = await make_session(db, other.org_id, venue, title="よそのワークショップ")
    board = await new_board(db, session_id, other.org_id)
    await signed_in_organizer(client, db, email="fumi@kanazawa.example", role="facilitator")
    assert (await client.get(f"/organize/sessions/{session_id}/boards")).status_code == 404
    assert (await client.get(f"/boards/{board.id}/present")).status_code == 404
    page = await client.get("/organize")
    answer = await client.post(f"/boards/{board.id}/next-steps", data={"_csrf_token": csrf_from(page),
                                                                       "next_steps": "乗っ取り"})
    assert answer.status_code == 404


async def test_outcome_is_a_closing_report_with_date_attendance_next_steps_and_notes_by_dots(app, client, db):
    _account, board = await organizer_board(client, db)
    few = (await act(app, board.id, "note:add", AIKO, zone="z1", text="少ない票"))["note"]
    many = (await act(app, board.id, "note:add", BEN, zone="z1", text="多い票"))["note"]
    await act(app, board.id, "phase:set", phase="vote")
    await act(app, board.id, "vote:cast", AIKO, note=many)
    await act(app, board.id, "vote:cast", BEN, note=many)
    await act(app, board.id, "vote:cast", BEN, note=few)
    async with browser(app) as person:
        await join(person, board, place="room")
    page = await client.get(f"/boards/{board.id}/facilitate")
    saved = await client.post(f"/boards/{board.id}/next-steps", data={
        "_csrf_token": csrf_from(page), "next_steps": "3月に市の考え方を公表します。\n次回は4月です。\x07"})
    assert saved.status_code == 200 and saved.url.path == f"/boards/{board.id}/facilitate"
    too_long = await client.post(f"/boards/{board.id}/next-steps", data={"_csrf_token": csrf_from(page),
                                                                         "next_steps": "あ" * 5001})
    assert too_long.status_code == 422 and "5000" in html(too_long).get_text()
    await client.post(f"/boards/{board.id}/outcome", data={"_csrf_token": csrf_from(page), "publish": "1"})
    async with browser(app) as public:
        outcome = html(await public.get(f"/boards/{board.id}/outcome"))
    facts = {dt.get_text(strip=True): dt.find_next("dd").get_text(" ", strip=True) for dt in outcome.select("dl dt")}
    assert facts["Session"] == "まちづくり対話" and facts["Date"]
    assert facts["Took part on the board"] == "1 in the room, 0 online, 1 in all"
    assert outcome.select_one(".outcome__next-text").get_text() == "3月に市の考え方を公表します。\n次回は4月です。"
    ranked = [li.contents[0].strip() for li in outcome.select_one("#oz-z1").find_next("ol").find_all("li", recursive=False)]
    assert ranked == ["多い票", "少ない票"]
    assert outcome.select_one("link[rel=stylesheet][media=print]")["href"] == "/static/css/print.css"
    assert PROMPTS[0] == outcome.select_one("#oz-z1").get_text(strip=True)


def test_the_consoles_preview_styles_are_made_from_the_projectors():
    """static/css/stage-preview.css is stage.css scoped to the preview box: regenerate it after changing stage.css."""
    from pathlib import Path

    from server.public.stage_preview_css import CSS, scoped
    made = (CSS / "stage-preview.css").read_text(encoding="utf-8")
    assert made == scoped((CSS / "stage.css").read_text(encoding="utf-8")), \
        "run: python -m server.public.stage_preview_css"
    assert made.count("@scope (.stage-preview__screen)") == 1 and "rem" not in made.replace("remote", "")
    assert Path(CSS / "taiwa.css").read_text(encoding="utf-8").count(".stage-preview__screen {") == 2  # the box, and the box on a phone
