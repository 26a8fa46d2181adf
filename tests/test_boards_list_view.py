"""Workshop boards over HTTP: the list view's plain forms (notes, ops sent twice, CSRF, htmx fragments), the
facilitator's commands (phases, timer, pause, notes from the room, reveal, proxy votes), and what each
viewer sees (hidden notes, anonymous and named boards, private writing)."""

from __future__ import annotations

import time
import uuid

from realtime.board import Actor
from tests.board_http import (
    act, browser, command, join, new_board, note_texts, notice, organizer_board, phase_shown, signed_in_organizer,
    zone_notes,
)
from tests.board_http import english  # noqa: F401 - fixtures, used by name
from tests.harness import csrf_from, html


# ---------------------------------------------------------------- the list view (plain forms)

async def test_list_view_adds_a_note_and_says_saved(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        await join(person, board, view="list")
        response = await command(person, board.id, "note:add", zone="z2", text="バスが少ない", color="pink")
        assert response.status_code == 200 and response.url.path == f"/boards/{board.id}/list"
        assert response.history[0].status_code == 303
        assert notice(response) == "Saved."
        assert zone_notes(response, "困っていること") == ["バスが少ない"]
        note = html(response).select_one("#board-list .note")
        assert "note--pink" in note["class"] and "your note" in note.get_text()


async def test_resubmitting_the_same_op_does_not_add_a_second_note(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        await join(person, board, view="list")
        op = uuid.uuid4().hex
        await command(person, board.id, "note:add", op=op, zone="z1", text="公園がきれい")
        again = await command(person, board.id, "note:add", op=op, zone="z1", text="公園がきれい")
        assert notice(again) == "Already saved."
        assert note_texts(again) == ["公園がきれい"]


async def test_empty_note_is_refused_with_a_message_and_nothing_changes(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        await join(person, board, view="list")
        response = await command(person, board.id, "note:add", zone="z1", text="   ")
        assert notice(response) == "note cannot be empty."
        assert note_texts(response) == []
    assert (await app.litestar.state.board_service.state(board.id)).seq == 0


async def test_voting_during_the_writing_phase_is_refused(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    note = (await act(app, board.id, "note:add", zone="z1", text="商店街"))["note"]
    async with browser(app) as person:
        await join(person, board, view="list")
        response = await command(person, board.id, "vote:cast", note=note)
        assert notice(response) == "This is not possible in the current phase."
    state = await app.litestar.state.board_service.state(board.id)
    assert state.tally(note) == 0 and state.votes == {}


async def test_command_without_the_csrf_token_is_forbidden(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        await join(person, board, view="list")
        response = await person.post(f"/boards/{board.id}/commands", data={
            "type": "note:add", "zone": "z1", "text": "CSRF なし", "op": uuid.uuid4().hex, "back": "list"})
        assert response.status_code == 403
        assert note_texts(await person.get(f"/boards/{board.id}/list")) == []


async def test_participant_cannot_use_facilitator_commands(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        await join(person, board, view="list")
        response = await command(person, board.id, "phase:set", phase="vote")
        assert notice(response) == "Only the facilitator can do this."
        assert phase_shown(response) == "Write"
    assert (await app.litestar.state.board_service.state(board.id)).phase == "write"


async def test_htmx_list_requests_answer_only_the_board_list_fragment(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        await join(person, board, view="list")
        fragment_headers = {"HX-Request": "true", "HX-Target": "board-list"}
        posted = await command(person, board.id, "note:add", headers=fragment_headers, zone="z3", text="祭りをしたい")
        assert posted.status_code == 200 and not posted.history
        fragment = html(posted)
        assert fragment.find("html") is None and fragment.find("h1") is None
        assert [div["id"] for div in fragment.find_all("div", recursive=False)] == ["board-list"]
        assert notice(posted) == "Saved." and note_texts(posted) == ["祭りをしたい"]
        fetched = await person.get(f"/boards/{board.id}/list", headers=fragment_headers)
        assert html(fetched).find("html") is None and note_texts(fetched) == ["祭りをしたい"]


# ---------------------------------------------------------------- the facilitator over HTTP

async def test_facilitator_moves_the_board_to_grouping_and_voting(app, client, db):
    _account, board = await organizer_board(client, db)
    async with browser(app) as person:
        await join(person, board, view="list")
        response = await command(client, board.id, "phase:set", back="facilitate", phase="group")
        assert response.url.path == f"/boards/{board.id}/facilitate" and notice(response) == "Saved."
        assert phase_shown(await person.get(f"/boards/{board.id}/list")) == "Group"
        await command(client, board.id, "phase:set", back="facilitate", phase="vote")
        seen = await person.get(f"/boards/{board.id}/list")
        assert phase_shown(seen) == "Vote"
        assert "5 of 5 left" in html(seen).select_one(".votes-left").get_text(" ", strip=True)


async def test_timer_in_minutes_shows_its_end_time(client, db):
    _account, board = await organizer_board(client, db)
    before = int(time.time() * 1000)
    response = await command(client, board.id, "timer:start", back="facilitate", unit="minutes", seconds="3")
    timer = html(response).select_one("#board-list .timer")
    assert timer is not None and timer.select_one(".timer__left").get_text(strip=True) == "3:00"
    assert before + 180_000 <= int(timer["data-ends-at"]) <= int(time.time() * 1000) + 180_000


async def test_paused_board_refuses_participants_notes(app, client, db):
    _account, board = await organizer_board(client, db)
    async with browser(app) as person:
        opened_before_the_pause = await join(person, board, view="list")
        await command(client, board.id, "board:lock", back="facilitate", locked="1")
        page = await person.get(f"/boards/{board.id}/list")
        assert "Paused by the facilitator" in html(page).select_one(".board-bar").get_text()
        assert html(page).select_one("form.add-note") is None
        response = await command(person, board.id, "note:add", csrf=csrf_from(opened_before_the_pause), zone="z1",
                                 text="止まっている？")
        assert notice(response) == "The facilitator has paused the board."
        assert note_texts(response) == []


async def test_facilitator_adds_a_note_for_someone_in_the_room(app, client, db):
    _account, board = await organizer_board(client, db)
    response = await command(client, board.id, "note:add", back="facilitate", zone="z1", text="紙に書かれた意見")
    assert zone_notes(response, "地域の良いところ") == ["紙に書かれた意見"]
    async with browser(app) as person:
        await join(person, board, view="list")
        meta = html(await person.get(f"/boards/{board.id}/list")).select_one(".note__meta").get_text()
        assert "entered by the facilitator" in meta


async def test_revealing_votes_shows_the_results(app, client, db):
    _account, board = await organizer_board(client, db)
    note = (await act(app, board.id, "note:add", zone="z1", text="図書館が静か"))["note"]
    await act(app, board.id, "phase:set", phase="vote")
    async with browser(app) as person:
        await join(person, board, view="list")
        voted = await command(person, board.id, "vote:cast", note=note)
        assert html(voted).select_one("#board-list .results") is None
        assert html(voted).select_one(f"#vote-{note}")["aria-pressed"] == "true"
        await command(client, board.id, "votes:reveal", back="facilitate", revealed="1")
        results = html(await person.get(f"/boards/{board.id}/list")).select_one("#board-list .results")
        assert results is not None
        assert results.select_one("li").get_text(" ", strip=True).startswith("図書館が静か — 1 dots (online 1")


async def test_proxy_votes_from_the_room_are_counted_apart_from_online_dots(app, client, db):
    _account, board = await organizer_board(client, db)
    note = (await act(app, board.id, "note:add", zone="z1", text="子ども食堂"))["note"]
    await act(app, board.id, "phase:set", phase="vote")
    await act(app, board.id, "vote:cast", Actor(id="p-online", name="online"), note=note)
    response = await command(client, board.id, "proxy:vote", back="facilitate", note=note, count="7")
    tally = html(response).select_one(f"#note-{note} .note__tally").get_text(" ", strip=True)
    assert tally == "8 dots (online 1, in the room 7)"
    assert html(response).select_one(f"#proxy-{note}")["value"] == "7"


# ---------------------------------------------------------------- what each viewer sees

async def test_hidden_note_disappears_for_participants_and_is_marked_for_the_facilitator(app, client, db):
    _account, board = await organizer_board(client, db)
    await act(app, board.id, "note:add", zone="z1", text="残すメモ")
    rude = (await act(app, board.id, "note:add", zone="z1", text="不適切なメモ"))["note"]
    response = await command(client, board.id, "note:hide", back="facilitate", note=rude, hidden="1")
    marked = html(response).select_one(f"#note-{rude}")
    assert "note--hidden" in marked["class"] and "hidden from participants" in marked.get_text()
    async with browser(app) as person:
        await join(person, board, view="list")
        assert note_texts(await person.get(f"/boards/{board.id}/list")) == ["残すメモ"]


async def test_anonymous_board_never_shows_author_names_to_participants(app, client, db):
    _account, board = await organizer_board(client, db, anonymous=True)
    async with browser(app) as author, browser(app) as reader:
        await join(author, board, name="山田花子", view="list")
        await command(author, board.id, "note:add", zone="z1", text="川がきれい")
        await join(reader, board, name="佐藤", view="list")
        for page in (await reader.get(f"/boards/{board.id}/list"), await reader.get(f"/boards/{board.id}"),
                     await author.get(f"/boards/{board.id}/list")):
            assert "川がきれい" in page.text
            assert "山田花子" not in page.text


async def test_named_board_shows_the_author_to_other_participants(app, client, db):
    _account, board = await organizer_board(client, db)
    async with browser(app) as author, browser(app) as reader:
        await join(author, board, name="山田花子", view="list")
        await command(author, board.id, "note:add", zone="z1", text="川がきれい")
        await join(reader, board, name="佐藤", view="list")
        meta = html(await reader.get(f"/boards/{board.id}/list")).select_one(".note__meta").get_text()
        assert "山田花子" in meta


async def test_private_writing_hides_others_notes_until_the_grouping_phase(app, client, db):
    _account, board = await organizer_board(client, db, private_writing=True)
    async with browser(app) as writer_a, browser(app) as writer_b:
        await join(writer_a, board, name="A", view="list")
        await join(writer_b, board, name="B", view="list")
        await command(writer_a, board.id, "note:add", zone="z2", text="Aの秘密のメモ")
        await command(writer_b, board.id, "note:add", zone="z2", text="Bのメモ")
        during = await writer_b.get(f"/boards/{board.id}/list")
        assert "Aの秘密のメモ" not in during.text
        assert zone_notes(during, "困っていること") == ["Bのメモ"]
        hint = html(during).select_one("#zone-z2 .hint").get_text(strip=True)
        assert hint.startswith("1 note by others")
        await command(client, board.id, "phase:set", back="facilitate", phase="group")
        after = await writer_b.get(f"/boards/{board.id}/list")
        assert sorted(zone_notes(after, "困っていること")) == ["Aの秘密のメモ", "Bのメモ"]
        assert html(after).select_one("#zone-z2 .hint") is None
