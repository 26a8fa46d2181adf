"""Live polls and Q&A (issue 6) with real python-socketio clients against a running `taiwa serve`
(TAIWA_RATE_LIMITS=off, tests/socket_clients.py): 300 answers at once, answer changes, two tabs, closed
polls, counts from the room and upvotes once per participant."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from realtime import store as board_store
from tests.board_http import organizer_board
from tests.poll_helpers import POLL, poll_in
from tests.socket_clients import Api, Member, committed_events, facilitator, op, participant, until
from tests.socket_clients import fast_server  # noqa: F401 - fixtures, used by name

pytestmark = pytest.mark.database  # its servers run on the run's engine (fresh_database)


# ================================================================ real sockets

SLOW_READ = ("with recursive counter(n) as (select 1 union all select n + 1 from counter where n < 3000000) "
             "select count(*) from counter")


async def test_a_participant_who_just_joined_is_found_while_another_read_is_running(client, db):
    _account, board = await organizer_board(client, db)
    slow = asyncio.create_task(db.fetch_one(SLOW_READ))
    await asyncio.sleep(0.1)  # the slow read has begun, and with it its snapshot
    async with db.transaction() as conn:
        _participant, token = await board_store.add_participant(conn, board.id, "さくら", "online")
    # the socket's authenticate() looks the token up; a few lookups land on every reader connection
    found = await asyncio.gather(*(board_store.participant_by_token(db, token) for _ in range(6)))
    await slow
    assert all(row is not None for row in found), f"{sum(row is None for row in found)} of 6 lookups missed"


@pytest.fixture
async def live(fast_server: Any) -> Any:
    """The running server (rate limits off) as (api, crowd): its JSON API and a maker of socket clients."""
    api = Api(fast_server)
    made: list[Member] = []

    def crowd(label: str) -> Member:
        member = Member(label)
        made.append(member)
        return member

    try:
        yield api, crowd
    finally:
        await asyncio.gather(*(member.leave() for member in made), return_exceptions=True)
        await api.close()


async def many(api: Api, crowd: Any, board: dict[str, Any], count: int, name: str) -> list[Member]:
    """`count` participants connected to the board (joined a few dozen at a time)."""
    people: list[Member] = []
    for start in range(0, count, 50):
        people += await asyncio.gather(*(participant(api, crowd, board, f"{name}{n:03d}")
                                         for n in range(start, min(start + 50, count))))
    return people


async def socket_poll(api: Api, board: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """A poll created through the API by the organizer."""
    created = await api.http.post(f"/api/boards/{board['id']}/polls", json=body, headers=api.organizer)
    assert created.status_code == 201, created.text
    return created.json()


async def results_of(api: Api, poll: str) -> dict[str, Any]:
    """The poll's results as the organizer reads them from the API."""
    answer_ = await api.http.get(f"/api/polls/{poll}/results", headers=api.organizer)
    assert answer_.status_code == 200, answer_.text
    return answer_.json()


def answers_in_the_log(db_path: Any, board_id: int, poll: str) -> dict[str, Any]:
    """Each participant's last answer as committed to the board's event log (straight from the SQLite file)."""
    answers: dict[str, Any] = {}
    for _type, event in committed_events(db_path, board_id, "poll:answered"):
        if event["poll"] == poll:
            answers[event["participant"]] = event["answer"]
    return answers


async def test_three_hundred_answers_at_once_are_tallied_exactly_and_changes_replace_them(live):
    api, crowd = live
    board = await api.new_board("市民フォーラム")
    people = await many(api, crowd, board, 300, "市民")
    organizer = await facilitator(api, crowd, board)
    poll = await socket_poll(api, board, {"type": "single_choice", "question": "どの案を優先しますか",
                                          "options": ["A案", "B案", "C案", "D案"], "open": True})
    options = [o["id"] for o in poll["options"]]
    chosen = {person.participant_id: options[n % 4] for n, person in enumerate(people)}

    started = time.perf_counter()
    acks = await asyncio.gather(*(person.call("poll:answer", {"op": op(), "poll": poll["id"],
                                                              "choice": chosen[person.participant_id]})
                                  for person in people))
    wall = time.perf_counter() - started
    print(f"\npoll burst: 300 answers acked in {wall:.2f} s wall")

    assert [a for a in acks if not a.get("ok")] == []
    assert len({a["seq"] for a in acks}) == 300  # each answer its own committed event
    result = await results_of(api, poll["id"])
    expected = {option: list(chosen.values()).count(option) for option in options}
    assert result["total"] == 300 and result["respondents"] == 300
    assert result["counts"] == expected == {"o1": 75, "o2": 75, "o3": 75, "o4": 75}

    seen = await people[123].board()  # participants see how many answered, not the results
    assert poll_in(seen, poll["id"])["respondents"] == 300 and "results" not in poll_in(seen, poll["id"])
    assert poll_in(seen, poll["id"])["my_answer"] == chosen[people[123].participant_id]
    await until(lambda: any(e["type"] == "poll:progress" and e["data"]["respondents"] == 300
                            for e in people[0].events), "the last progress reaches a participant", timeout=120)
    assert all("results" not in e["data"] for p in people for e in p.events if e["type"] == "poll:progress")
    await until(lambda: any(e["data"].get("results", {}).get("total") == 300 for e in organizer.events
                            if e["type"] == "poll:progress"), "the facilitator sees the full tally", timeout=30)

    assert answers_in_the_log(api.server.workshop.db_path, board["id"], poll["id"]) == chosen  # all committed

    changers = people[:50]
    for n, person in enumerate(changers):
        chosen[person.participant_id] = options[(options.index(chosen[person.participant_id]) + 1 + n % 3) % 4]
    started = time.perf_counter()
    acks = await asyncio.gather(*(person.call("poll:answer", {"op": op(), "poll": poll["id"],
                                                              "choice": chosen[person.participant_id]})
                                  for person in changers))
    print(f"poll burst: 50 changed answers acked in {time.perf_counter() - started:.2f} s wall")
    assert all(a["ok"] for a in acks)
    result = await results_of(api, poll["id"])
    assert result["total"] == 300
    assert result["counts"] == {option: list(chosen.values()).count(option) for option in options}
    assert result["counts"] != expected
    assert answers_in_the_log(api.server.workshop.db_path, board["id"], poll["id"]) == chosen


async def test_the_same_answer_from_two_tabs_counts_once(live):
    api, crowd = live
    board = await api.new_board("二つのタブ")
    poll = await socket_poll(api, board, {**POLL, "open": True})
    joined = await api.new_participant(board, "さくら")
    tabs = [await crowd(f"tab{n}").join(api.server.base, {"token": joined["token"]}) for n in (1, 2)]
    acks = await asyncio.gather(*(tab.call("poll:answer", {"op": op(), "poll": poll["id"], "choice": "o2"})
                                  for tab in tabs for _ in range(3)))
    assert all(a["ok"] for a in acks)
    result = await results_of(api, poll["id"])
    assert result["total"] == 1 and result["counts"] == {"o1": 0, "o2": 1, "o3": 0}
    await tabs[1].call("poll:answer", {"op": op(), "poll": poll["id"], "choice": "o3"})  # changed in the other tab
    snaps = [await tab.board() for tab in tabs]
    assert [poll_in(s, poll["id"])["my_answer"] for s in snaps] == ["o3", "o3"]
    result = await results_of(api, poll["id"])
    assert result["total"] == 1 and result["counts"] == {"o1": 0, "o2": 0, "o3": 1}


async def test_a_closed_poll_refuses_answers_with_an_error_ack_and_the_connection_stays_up(live):
    api, crowd = live
    board = await api.new_board("締め切り")
    poll = await socket_poll(api, board, {**POLL, "open": True})
    organizer = await facilitator(api, crowd, board)
    sakura = await participant(api, crowd, board, "さくら")
    assert (await sakura.call("poll:answer", {"op": op(), "poll": poll["id"], "choice": "o1"}))["ok"]
    closed = await organizer.call("poll:close", {"op": op(), "poll": poll["id"]})
    assert closed["ok"]
    await until(lambda: any(e["type"] == "poll:status" and e["data"]["status"] == "closed" for e in sakura.events),
                "the participant hears the poll closed")

    late = await sakura.call("poll:answer", {"op": op(), "poll": poll["id"], "choice": "o2"})
    assert late["ok"] is False and late["error"]["code"] == "poll_closed" and late["error"]["message"]
    assert sakura.connected
    assert poll_in(await sakura.board(), poll["id"])["my_answer"] == "o1"
    assert (await results_of(api, poll["id"]))["counts"] == {"o1": 1, "o2": 0, "o3": 0}

    reopened = await organizer.call("poll:open", {"op": op(), "poll": poll["id"]})
    assert reopened["ok"]
    assert (await sakura.call("poll:answer", {"op": op(), "poll": poll["id"], "choice": "o2"}))["ok"]
    assert (await results_of(api, poll["id"]))["counts"] == {"o1": 0, "o2": 1, "o3": 0}


async def test_bad_answers_get_clear_error_acks_and_the_connection_stays_up(live):
    api, crowd = live
    board = await api.new_board("誤った回答")
    multi = await socket_poll(api, board, {"type": "multiple_choice", "question": "二つまで", "options": ["a", "b", "c"],
                                           "max_choices": 2, "open": True})
    words = await socket_poll(api, board, {"type": "text", "question": "一言で", "open": True})
    ranking = await socket_poll(api, board, {"type": "ranking", "question": "順に", "options": ["a", "b", "c"],
                                             "open": True})
    organizer = await facilitator(api, crowd, board)
    sakura = await participant(api, crowd, board, "さくら")
    cases = [
        ({"poll": "b999p1", "choices": ["o1"]}, "not_found"),
        ({"poll": multi["id"], "choices": ["o7"]}, "invalid_choice"),
        ({"poll": multi["id"], "choices": ["o1", "o2", "o3"]}, "too_many"),
        ({"poll": words["id"], "text": "長" * 51}, "too_long"),
        ({"poll": ranking["id"], "ranking": ["o1", "o1", "o2"]}, "invalid_choice"),
    ]
    for data, code in cases:
        refused = await sakura.call("poll:answer", {"op": op(), **data})
        assert refused["ok"] is False and refused["error"]["code"] == code, (data, refused)
        assert sakura.connected
    facilitator_answer = await organizer.call("poll:answer", {"op": op(), "poll": multi["id"], "choices": ["o1"]})
    assert facilitator_answer["error"]["code"] == "forbidden"
    no_op = await sakura.call("poll:answer", {"poll": multi["id"], "choices": ["o1"]})
    assert no_op["ok"] is False and no_op["error"]["code"] == "invalid"
    for poll in (multi, words, ranking):
        assert (await results_of(api, poll["id"]))["total"] == 0


async def test_a_ranking_with_a_number_in_it_gets_an_error_ack(live):
    api, crowd = live
    board = await api.new_board("順位の誤り")
    ranking = await socket_poll(api, board, {"type": "ranking", "question": "順に", "options": ["a", "b", "c"],
                                             "open": True})
    sakura = await participant(api, crowd, board, "さくら")
    refused = await sakura.sio.call("poll:answer", {"op": op(), "poll": ranking["id"], "ranking": [1, "o1", "o2"]},
                                    namespace="/board", timeout=5)
    assert refused["ok"] is False and refused["error"]["code"] == "invalid_choice"


async def test_room_counts_from_the_facilitators_socket_are_added_to_totals(live):
    api, crowd = live
    board = await api.new_board("会場の挙手")
    poll = await socket_poll(api, board, {**POLL, "open": True})
    organizer = await facilitator(api, crowd, board)
    people = [await participant(api, crowd, board, name) for name in ("さくら", "たろう")]
    for person in people:
        assert (await person.call("poll:answer", {"op": op(), "poll": poll["id"], "choice": "o1"}))["ok"]
    entered = await organizer.call("poll:room", {"op": op(), "poll": poll["id"], "counts": {"o1": 14, "o3": 6}})
    assert entered["ok"]
    result = await results_of(api, poll["id"])
    assert result["total"] == 22 and result["counts"] == {"o1": 16, "o2": 0, "o3": 6}
    assert result["online"] == {"o1": 2, "o2": 0, "o3": 0} and result["room"] == {"o1": 14, "o3": 6}
    refused = await people[0].call("poll:room", {"op": op(), "poll": poll["id"], "counts": {"o1": 100}})
    assert refused["error"]["code"] == "forbidden"
    bad = await organizer.call("poll:room", {"op": op(), "poll": poll["id"], "counts": {"o1": -3}})
    assert bad["ok"] is False and bad["error"]["code"] == "invalid" and organizer.connected
    assert (await results_of(api, poll["id"]))["total"] == 22


async def test_results_reach_participants_only_when_revealed(live):
    api, crowd = live
    board = await api.new_board("公開のタイミング")
    poll = await socket_poll(api, board, {**POLL, "open": True})
    organizer = await facilitator(api, crowd, board)
    sakura, taro = await participant(api, crowd, board, "さくら"), await participant(api, crowd, board, "たろう")
    await taro.call("poll:answer", {"op": op(), "poll": poll["id"], "choice": "o2"})
    await until(lambda: any(e["type"] == "poll:progress" for e in sakura.events), "progress reaches さくら")
    progress = next(e for e in sakura.events if e["type"] == "poll:progress")
    assert progress["data"] == {"poll": poll["id"], "status": "open", "respondents": 1}
    assert "results" not in poll_in(await sakura.board(), poll["id"])
    assert (await api.http.get(f"/api/polls/{poll['id']}/results")).status_code == 404  # not public yet

    assert (await organizer.call("poll:reveal", {"op": op(), "poll": poll["id"]}))["ok"]
    await until(lambda: any(e["type"] == "poll:revealed" for e in sakura.events), "the reveal reaches さくら")
    revealed = next(e for e in sakura.events if e["type"] == "poll:revealed")
    assert revealed["data"]["results"]["counts"] == {"o1": 0, "o2": 1, "o3": 0}
    assert poll_in(await sakura.board(), poll["id"])["results"]["total"] == 1
    assert (await api.http.get(f"/api/polls/{poll['id']}/results")).json()["counts"] == {"o1": 0, "o2": 1, "o3": 0}


async def test_each_participant_upvotes_a_question_once_however_often_they_press(live):
    api, crowd = live
    board = await api.new_board("質問タイム")
    people = await many(api, crowd, board, 100, "聴衆")
    organizer = await facilitator(api, crowd, board)
    asked = await people[0].call("question:ask", {"op": op(), "text": "駅からのバスはありますか"})
    assert asked["ok"]
    question = asked["id"]
    acks = await asyncio.gather(*(person.call("question:upvote", {"op": op(), "question": question})
                                  for person in people for _ in range(2)))
    assert all(a["ok"] for a in acks)
    snap = await organizer.board()
    assert [(q["text"], q["votes"]) for q in snap["questions"]] == [("駅からのバスはありますか", 100)]
    mine = await people[42].board()
    assert mine["questions"][0]["upvoted"] is True and mine["questions"][0]["votes"] == 100
    assert (await people[42].call("question:unvote", {"op": op(), "question": question}))["ok"]
    assert (await organizer.board())["questions"][0]["votes"] == 99
