"""The live board over the wire under load (TAIWA_RATE_LIMITS=off): bursts of notes and dots from many
participants while others refresh; every event arrives once and in seq order, tallies stay exact."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.socket_clients import Api, Member, add_note, dots_in_the_log, facilitator, ok, op, participant, until
from tests.socket_clients import crowd, fast_server  # noqa: F401 - fixtures, used by name

pytestmark = pytest.mark.database  # its servers run on the run's engine (fresh_database)


# ---------------------------------------------------------------- bursts (TAIWA_RATE_LIMITS=off)

def out_of_order(seqs: list[int]) -> list[tuple[int, int]]:
    """Neighbouring events that arrived in the wrong order."""
    return [(a, b) for a, b in zip(seqs, seqs[1:]) if b < a]


async def test_a_burst_of_notes_from_fifty_participants_reaches_everyone(fast_server, crowd):
    api = Api(fast_server)
    try:
        board = await api.new_board()
        people = list(await asyncio.gather(*(participant(api, crowd, board, f"参加者{n:02d}") for n in range(50))))
        organizer = await facilitator(api, crowd, board)

        answers = await asyncio.gather(*(
            person.call("note:add", {"op": op(), "zone": f"z{n % 3 + 1}", "text": f"{person.label}の意見{n}"})
            for person in people for n in range(2)))

        assert all(answer["ok"] for answer in answers), [a for a in answers if not a["ok"]][:3]
        assert sorted(answer["seq"] for answer in answers) == list(range(1, 101))
        assert len({answer["note"] for answer in answers}) == 100
        everyone = [*people, organizer]
        snapshots = await asyncio.gather(*(member.board() for member in everyone))
        assert all(len(s["notes"]) == 100 and s["seq"] == 100 for s in snapshots)
        counts = [len(member.seqs("note:added")) for member in everyone]
        swapped = {member.label: out_of_order(member.seqs()) for member in everyone if out_of_order(member.seqs())}
        print(f"\nburst: 100 acks ok, seqs 1..100; note events per client min {min(counts)} max {max(counts)}; "
              f"{len(swapped)} of {len(everyone)} clients got some out of seq order")
        for member in everyone:
            assert sorted(member.seqs()) == list(range(1, 101)), member.label  # no gap, nothing twice
        assert swapped == {}  # and in seq order, so no client mistakes a late event for a gap
    finally:
        await api.close()


async def test_events_stay_in_seq_order_while_people_write_and_refresh(fast_server, crowd):
    api = Api(fast_server)
    try:
        board = await api.new_board("順番")
        people = list(await asyncio.gather(*(participant(api, crowd, board, f"参加者{n:02d}") for n in range(50))))
        done = asyncio.Event()

        async def refresh(person: Member) -> None:
            while not done.is_set():
                await person.call("board:snapshot")

        async def write(person: Member) -> None:
            for n in range(8):
                await add_note(person, f"{person.label}の意見{n}")

        refreshing = [asyncio.create_task(refresh(person)) for person in people[:25]]
        await asyncio.gather(*(write(person) for person in people))
        done.set()
        await asyncio.gather(*refreshing)
        await asyncio.gather(*(person.board() for person in people))

        swaps = {person.label: out_of_order(person.seqs()) for person in people if out_of_order(person.seqs())}
        print(f"\nwrite and refresh: 400 notes; {len(swaps)} of 50 clients saw events out of seq order")
        for person in people:
            assert sorted(person.seqs()) == list(range(1, 401)), person.label  # none lost, none twice
        assert swaps == {}
    finally:
        await api.close()


async def test_a_burst_of_dots_keeps_exact_tallies_while_people_refresh(fast_server, crowd):
    api = Api(fast_server)
    try:
        for round_ in range(1, 4):  # a few boards: the double count needs two tasks to interleave
            board = await api.new_board(f"投票{round_}", vote_budget=5, max_votes_per_note=5)
            organizer = await facilitator(api, crowd, board)
            people = list(await asyncio.gather(*(participant(api, crowd, board, f"投票者{n:02d}") for n in range(30))))
            notes = [(await add_note(organizer, f"案{n}"))["note"] for n in range(5)]
            await ok(organizer, "phase:set", phase="vote")

            async def vote_and_look(person: Member, index: int) -> list[dict[str, Any]]:
                answers = []
                for n in range(5):
                    answers.append(await person.call("vote:cast", {"op": op(), "note": notes[(index + n) % 5]}))
                    await person.call("board:snapshot")
                return answers

            answers = [a for batch in await asyncio.gather(*(vote_and_look(p, i) for i, p in enumerate(people)))
                       for a in batch]

            snapshot = await organizer.board()
            live = {note: tally["online"] for note, tally in snapshot["tallies"].items() if tally["online"]}
            logged = dots_in_the_log(fast_server.workshop.db_path, board["id"])
            refused = [a["error"]["code"] for a in answers if not a["ok"]]
            print(f"\ndots, round {round_}: {150 - len(refused)} acked, {len(refused)} refused "
                  f"{sorted(set(refused))}; live tallies {[live.get(n, 0) for n in notes]}, "
                  f"logged {[logged.get(n, 0) for n in notes]}")
            assert live == logged  # what everyone is shown is what was committed
            assert refused == []  # nobody went over their budget of 5 dots
            assert live == {note: 30 for note in notes}
            assert snapshot["votes"]["voters"] == 30
    finally:
        await api.close()


async def test_a_burst_of_dots_reaches_participants_as_one_progress_message_and_the_facilitator_per_note(
        fast_server, crowd):
    api = Api(fast_server)
    try:
        board = await api.new_board(vote_budget=5, max_votes_per_note=5)
        organizer = await facilitator(api, crowd, board)
        notes = [(await add_note(organizer, f"案{n}"))["note"] for n in range(5)]
        await ok(organizer, "phase:set", phase="vote")
        people = await asyncio.gather(*(participant(api, crowd, board, f"投票者{n}") for n in range(10)))
        acks = await asyncio.gather(*(ok(person, "vote:cast", note=note) for person in people for note in notes))
        last = max(a["seq"] for a in acks)
        await until(lambda: all(p.events and p.events[-1]["seq"] >= last for p in [*people, organizer]),
                    "the dots' progress reached everyone")
        watcher = people[0]
        progress = [e for e in watcher.events if e["type"] == "votes:progress"]
        assert progress[-1]["data"] == {"voters": 10, "participants": 10}  # how many voted, not for what
        assert len(progress) < len(notes)  # 50 dots on 5 notes: not one message per note per flush
        tallies: dict[str, int] = {}
        for event in organizer.events:
            if event["type"] == "votes:progress":
                tallies[event["data"]["note"]] = event["data"]["online"]
        assert tallies == {note: 10 for note in notes}  # the facilitator follows every note's count
    finally:
        await api.close()
