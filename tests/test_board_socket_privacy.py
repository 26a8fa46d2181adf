"""The live board over the wire: voting privacy (how many voted, not who voted for what, until the reveal),
anonymous boards and private writing, and no registration or support data on the board."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.socket_clients import add_note, facilitator, ok, participant, until
from tests.socket_clients import api, crowd, server  # noqa: F401 - fixtures, used by name

pytestmark = pytest.mark.database  # its servers run on the run's engine (fresh_database)


# ---------------------------------------------------------------- voting privacy

async def test_participants_see_how_many_voted_but_not_who_voted_for_what_until_reveal(api, crowd):
    board = await api.new_board()
    organizer = await facilitator(api, crowd, board)
    hanako = await participant(api, crowd, board, "花子")
    taro = await participant(api, crowd, board, "太郎")
    watcher = await participant(api, crowd, board, "見ている人")
    park = (await add_note(taro, "公園を広くしたい"))["note"]
    bus = (await add_note(watcher, "バスを増やしたい", zone="z2"))["note"]
    await ok(organizer, "phase:set", phase="vote")

    await ok(hanako, "vote:cast", note=park)
    await ok(hanako, "vote:cast", note=park)
    cast = await ok(taro, "vote:cast", note=bus)
    await asyncio.sleep(0.6)  # dots are coalesced into progress messages at most every 0.2 s
    await asyncio.gather(*(m.board() for m in (organizer, hanako, taro, watcher)))

    for member in (hanako, taro, watcher):
        progress = [e for e in member.events if e["type"] == "votes:progress"]
        assert 1 <= len(progress) <= 3, (member.label, member.events)
        for event in progress:
            assert set(event["data"]) == {"voters", "participants"}, event
        # coalesced messages cover every seq: each starts right after the previous one ends
        covered = [(e.get("from", e["seq"]), e["seq"]) for e in progress]
        assert all(b[0] == a[1] + 1 for a, b in zip(covered, covered[1:])), covered
        assert covered[-1][1] == cast["seq"]
        assert progress[-1]["data"]["voters"] == 2
        assert progress[-1]["data"]["participants"] == 3
        assert park not in json.dumps(progress) and bus not in json.dumps(progress)
        for other in (hanako, taro):
            assert other.participant_id not in member.wire()
    snapshot = await watcher.board()
    assert "tallies" not in snapshot and "results" not in snapshot
    assert snapshot["votes"]["voters"] == 2
    assert (await hanako.board())["votes"]["mine"] == {park: 2}
    # the facilitator sees the tallies live
    facilitator_progress = [e for e in organizer.events if e["type"] == "votes:progress"]
    # coalesced: the last message for each note carries its current tally
    final = {e["data"]["note"]: e["data"]["online"] for e in facilitator_progress}
    assert final == {park: 2, bus: 1}
    assert facilitator_progress[-1]["seq"] == cast["seq"]

    revealed = await ok(organizer, "votes:reveal", revealed=True)
    await until(lambda: revealed["seq"] in watcher.seqs(), "the reveal reaches participants")
    shown = await watcher.board()
    assert shown["revealed"] is True
    assert {note: tally["online"] for note, tally in shown["tallies"].items()} == {park: 2, bus: 1}
    assert [(r["id"], r["total"]) for r in shown["results"]] == [(park, 2), (bus, 1)]
    for other in (hanako, taro):
        assert other.participant_id not in watcher.wire()


async def test_anonymous_board_shows_no_names_to_other_participants(api, crowd):
    board = await api.new_board(anonymous=True)
    hanako = await participant(api, crowd, board, "匿名希望の花子")
    taro = await participant(api, crowd, board, "太郎")
    note = await add_note(hanako, "言いにくいけれど大事なこと")
    await until(lambda: note["seq"] in taro.seqs(), "the note reaches the other participant")
    snapshot = await taro.board()
    assert [n["text"] for n in snapshot["notes"]] == ["言いにくいけれど大事なこと"]
    assert "匿名希望の花子" not in taro.wire()
    assert hanako.participant_id not in taro.wire()


async def test_private_writing_sends_others_only_that_a_note_exists(api, crowd):
    board = await api.new_board(private_writing=True)
    organizer = await facilitator(api, crowd, board)
    hanako = await participant(api, crowd, board, "花子")
    taro = await participant(api, crowd, board, "太郎")
    note = await add_note(hanako, "まだ秘密の下書き", zone="z2")
    await asyncio.gather(*(m.board() for m in (organizer, hanako, taro)))

    seen_by_taro = [(e["type"], e["data"]) for e in taro.events if e["seq"] == note["seq"]]
    assert seen_by_taro == [("note:added", {"id": note["note"], "zone": "z2", "private": True})]
    assert "まだ秘密の下書き" not in taro.wire()
    assert (await taro.board())["others_writing"]["z2"] == 1
    assert [e["data"]["text"] for e in organizer.events if e["seq"] == note["seq"]] == ["まだ秘密の下書き"]
    await ok(organizer, "phase:set", phase="group")
    assert [n["text"] for n in (await taro.board())["notes"]] == ["まだ秘密の下書き"]


# ---------------------------------------------------------------- nothing sensitive

async def test_registrations_and_accommodation_needs_never_travel_on_the_board(api, crowd):
    secret, email, name = "SECRET-ALLERGY", "hanako.secret@example.jp", "秘密山 花子"
    registered = await api.http.post(
        f"/api/sessions/{api.server.workshop.session_id}/registrations",
        json={"name": name, "email": email, "mode": "in_person", "consent_sensitive": True,
              "children": [{"age_months": 36, "notes": f"{secret}: 卵と小麦"}],
              "accommodations": [{"code": "sign_language", "note": f"{secret}: 前の席を希望"}]})
    assert registered.status_code == 201, registered.text
    board = await api.new_board()
    organizer = await facilitator(api, crowd, board)
    people = [await participant(api, crowd, board, n) for n in ("花子", "太郎")]
    note = await add_note(people[0], "子育て世代の居場所")
    await add_note(organizer, "会場からの意見")
    await ok(organizer, "phase:set", phase="vote")
    await ok(people[1], "vote:cast", note=note["note"])
    await ok(organizer, "votes:reveal", revealed=True)
    late = await participant(api, crowd, board, "遅れて来た人")
    await asyncio.gather(*(m.board() for m in (organizer, *people, late)))

    for member in (organizer, *people, late):
        wire = member.wire()
        assert member.received, member.label
        assert secret not in wire and email not in wire and name not in wire, member.label
        assert "卵と小麦" not in wire and "前の席を希望" not in wire
