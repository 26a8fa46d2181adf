"""The board service under concurrency: commands of one board share commits (group commit), yet each
is acknowledged only once durable, and announcements leave in seq order, never before their commit."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from realtime.board import Actor
from realtime.service import BoardService, Outcome
from server.core.database import Database
from tests.board_http import new_board
from tests.harness import make_account, make_session, make_venue

FACILITATOR = Actor(id="f-1", name="ファシリ", facilitator=True)


async def board_with_poll(db: Any) -> tuple[BoardService, int, str]:
    account = await make_account(db, "staff@kanazawa.example")
    session_id = await make_session(db, account.org_id, await make_venue(db, account.org_id), title="市民フォーラム")
    board = await new_board(db, session_id, account.org_id)
    service = BoardService(db)
    created = await service.handle(board.id, "poll:create", {"type": "single_choice", "question": "どれを優先しますか",
                                                             "options": ["公共交通", "子育て支援"]}, FACILITATOR, "p1")
    poll = created.result["id"]
    opened = await service.handle(board.id, "poll:open", {"poll": poll}, FACILITATOR, "p2")
    assert opened.result["ok"], opened.result
    return service, board.id, poll


async def committed_seqs(db: Database, board_id: int) -> list[int]:
    """What a separate reader (another connection) finds in the log right now."""
    return [row[0] for row in await db.fetch_all("select seq from board_events where board_id = ? order by seq",
                                                 (board_id,))]


async def test_a_burst_of_answers_shares_commits_and_each_ack_is_durable(db: Any) -> None:
    service, board_id, poll = await board_with_poll(db)
    groups_before = db.groups
    announced: list[int] = []
    durable_when_announced: list[bool] = []

    async def announce(outcome: Outcome) -> Any:
        seq = outcome.events[-1][0]

        async def send() -> None:
            durable_when_announced.append(seq in await committed_seqs(db, board_id))
            announced.append(seq)
        return send

    async def answer(n: int) -> dict[str, Any]:
        outcome = await service.handle(board_id, "poll:answer", {"poll": poll, "choice": ("o1", "o2")[n % 2]},
                                       Actor(id=f"p{n}", name=f"市民{n}"), uuid.uuid4().hex, announce=announce)
        assert outcome.result["seq"] in await committed_seqs(db, board_id)  # acked only once committed
        return outcome.result

    results = await asyncio.gather(*(answer(n) for n in range(80)))
    assert all(r["ok"] for r in results)
    seqs = sorted(r["seq"] for r in results)
    assert seqs == list(range(seqs[0], seqs[0] + 80))  # 80 consecutive events, none lost or doubled
    assert announced == seqs  # announced in seq order
    assert durable_when_announced == [True] * 80  # and never before the commit
    assert db.groups - groups_before < 80  # answers that arrived together went out in shared commits
    state = await service.state(board_id)
    assert len(state.polls[poll].answers) == 80


async def test_a_repeated_op_in_the_same_group_counts_once(db: Any) -> None:
    service, board_id, poll = await board_with_poll(db)
    person = Actor(id="p-same", name="同じ人")
    outcomes = await asyncio.gather(*(service.handle(board_id, "poll:answer", {"poll": poll, "choice": "o1"}, person,
                                                     "the-same-op") for _ in range(10)))
    assert len({o.result["seq"] for o in outcomes}) == 1
    assert sum(not o.duplicate for o in outcomes) == 1
    rows = await db.fetch_all("select count(*) from board_events where board_id = ? and type = 'poll:answered'",
                              (board_id,))
    assert rows[0][0] == 1


async def test_a_failed_commit_is_not_acknowledged_and_the_state_is_rebuilt_from_the_log(db: Any) -> None:
    if db.dialect == "postgres":
        # B's answer must land in the trap's group; with reads over a socket first, it may take the next group
        pytest.skip("relies on SQLite's timing of group composition; a failed group is covered in test_postgres")
    service, board_id, poll = await board_with_poll(db)
    first = await service.handle(board_id, "poll:answer", {"poll": poll, "choice": "o1"}, Actor(id="a", name="A"), "a1")
    assert first.result["ok"]
    # the next commit fails: a deferred foreign key that only COMMIT checks
    async with db.transaction() as conn:
        await conn.execute("create table if not exists trap (x integer references organizations(id) "
                           "deferrable initially deferred)")
    write = await db.begin()  # an orphan row in the same group as the next answer
    await write.conn.execute("insert into trap values (999999)")
    write.finish(keep=True)
    failed = asyncio.ensure_future(service.handle(board_id, "poll:answer", {"poll": poll, "choice": "o2"},
                                                  Actor(id="b", name="B"), "b1"))
    try:
        await write.committed
    except Exception:  # noqa: BLE001 - expected: the whole group fails
        pass
    outcome = await asyncio.gather(failed, return_exceptions=True)
    assert isinstance(outcome[0], Exception)  # B was not told its answer was saved
    state = await service.state(board_id)
    assert set(state.polls[poll].answers) == {"a"}  # the live state holds only what the log holds
    again = await service.handle(board_id, "poll:answer", {"poll": poll, "choice": "o2"}, Actor(id="b", name="B"), "b1")
    assert again.result["ok"] and not again.duplicate  # B's retry with the same op id is applied now
    assert set((await service.state(board_id)).polls[poll].answers) == {"a", "b"}
