"""Live captions across two `taiwa serve` processes on one database and a real redis-server: typists on
different processes reach viewers on both in seq order, and a caption message Redis lost on its way
(paused or killed, then back) is filled from the stream's lines, so every viewer has every line with
no gap and no second snapshot."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from tests.caption_clients import CaptionClient, switch_on
from tests.harness import TaiwaServer, read_db
from tests.socket_clients import op, until
from tests.test_attack_redis import RedisServer, redis  # noqa: F401 - a fixture: a redis-server of the test's own
from tests.test_scale_out import (
    chained,
    workers,  # noqa: F401 - a fixture: two processes sharing the database and Redis
)


@pytest.fixture
def redis_url(redis: RedisServer) -> str:  # noqa: F811 - the fixture imported above
    return redis.url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[str], CaptionClient]]:
    made: list[CaptionClient] = []

    def make(label: str) -> CaptionClient:
        made.append(CaptionClient(label))
        return made[-1]

    yield make
    await asyncio.gather(*(asyncio.wait_for(client.leave(), 3) for client in made), return_exceptions=True)


def in_order(client: CaptionClient) -> list[int]:
    """The seqs a caption client received after its snapshot, chained (see test_scale_out.chained)."""
    return chained(client.label, client.snapshots[-1]["seq"], client.captions)


def stream_seq(server: TaiwaServer, code: str) -> int:
    return read_db(server.db_path, "select seq from caption_streams where code = ?", (code,))[0]["seq"]


def stored(server: TaiwaServer, code: str) -> list[tuple[int, str, str]]:
    rows = read_db(server.db_path, "select l.line, l.speaker, l.text from caption_lines l join caption_streams s "
                                   "on s.id = l.stream_id where s.code = ? order by l.line", (code,))
    return [(row["line"], row["speaker"], row["text"]) for row in rows]


async def test_typists_on_two_processes_reach_viewers_on_both_in_seq_order(workers, redis, http, clients):
    a, b = workers
    links = [await switch_on(http, a, f"入力者{n}") for n in range(4)]
    code = links[0]["code"]
    # two typists relaying on A and two on B (a corrector among them), viewers on both processes
    typists = [await clients(f"typist {n}").join((a, b)[n % 2].base, {"code": code, "token": link["captioner_token"]})
               for n, link in enumerate(links)]
    viewers = [await clients(f"viewer {side} {n}").join(server.base, {"code": code})
               for side, server in (("A", a), ("B", b)) for n in range(5)]
    await until(lambda: redis.listeners() == 2, "both processes listen to Redis")

    async def relay(typist: CaptionClient, n: int) -> None:
        for k in range(25):
            answer = await typist.call("caption:line", {"op": op(), "text": f"{typist.label} の発言 {k}",
                                                        "speaker": ("司会", "市長")[n % 2]})
            assert answer["ok"], answer
            if k % 5 == 4:  # and corrects the line just committed, as a corrector would
                fixed = await typist.call("caption:edit", {"op": op(), "line": answer["line"],
                                                           "text": f"{typist.label} の発言 {k}(訂正)"})
                assert fixed["ok"], fixed

    await asyncio.gather(*(relay(typist, n) for n, typist in enumerate(typists)))
    last = stream_seq(a, code)
    assert last == 4 * 30
    everyone = viewers + typists
    await until(lambda: all(c.seq == last for c in everyone), "every screen on both processes has every change")
    final = stored(a, code)
    assert len(final) == 100
    for client in everyone:
        assert in_order(client) == list(range(1, last + 1)), client.label  # every change once, in seq order
        assert client.transcript() == final, client.label
        assert len(client.snapshots) == 1


@pytest.mark.parametrize("outage", ["paused", "killed"])
async def test_caption_messages_lost_by_redis_are_filled_from_the_lines(workers, redis, http, clients, outage):
    """While Redis is away, a typist on A adds a line and corrects it, and a typist on B adds the next:
    B's viewers wait briefly for A's changes and read them back from the database (an edited line keeps
    only its latest seq, so the message read back covers both); A's viewers get B's line once Redis is
    back, though nobody types after it. Nobody needs a second snapshot."""
    a, b = workers
    link_a, link_b = await switch_on(http, a, "A"), await switch_on(http, a, "B")
    code = link_a["code"]
    on_a = await clients("typist A").join(a.base, {"code": code, "token": link_a["captioner_token"]})
    on_b = await clients("typist B").join(b.base, {"code": code, "token": link_b["captioner_token"]})
    viewers = [await clients(f"viewer {side}").join(server.base, {"code": code}) for side, server in (("A", a), ("B", b))]
    await until(lambda: redis.listeners() == 2, "both processes listen to Redis")
    first = await on_a.call("caption:line", {"op": op(), "text": "停止前の行", "speaker": "司会"})
    everyone = [on_a, on_b, *viewers]
    await until(lambda: all(c.seq == first["seq"] for c in everyone), "the first line reached both processes")
    try:
        redis.signal(signal.SIGSTOP) if outage == "paused" else redis.kill()
        added = await on_a.call("caption:line", {"op": op(), "text": "停止中の行", "speaker": "市長"})
        fixed = await on_a.call("caption:edit", {"op": op(), "line": added["line"], "text": "停止中の行(訂正)"})
        after = await on_b.call("caption:line", {"op": op(), "text": "Bの行", "speaker": "参加者"})
        assert added["ok"] and fixed["ok"] and after["ok"]
        assert after["seq"] == fixed["seq"] + 1 == added["seq"] + 2
        # B's own line waits for A's changes, then all of them come from the database, while Redis is still away
        await until(lambda: all(c.seq == after["seq"] for c in (on_b, viewers[1])), "B's screens filled the gap")
        await asyncio.sleep(2)
        assert viewers[0].seq == fixed["seq"]  # A's screens have not heard of B's line yet
    finally:
        redis.signal(signal.SIGCONT) if outage == "paused" else redis.start()
    await until(lambda: all(c.seq == after["seq"] for c in everyone), "A's screens got B's line once Redis was back",
                timeout=20)
    final = stored(a, code)
    assert [text for _n, _s, text in final] == ["停止前の行", "停止中の行(訂正)", "Bの行"]
    for client in everyone:
        in_order(client)
        assert client.transcript() == final, client.label
        assert len(client.snapshots) == 1, client.label  # the gap was filled, not re-snapshotted
    filled = [m for m in viewers[1].captions if m["seq"] == fixed["seq"]]
    assert filled and filled[0].get("from") == added["seq"]  # the edit read back covers the line's first seq too
    assert "Traceback" not in a.log() + b.log()


async def test_a_viewer_joining_on_the_other_process_gets_what_came_before(workers, redis, http, clients):
    """The simplest case, as a tablet on a table would: join on B after lines typed on A, then follow."""
    a, b = workers
    link = await switch_on(http, a)
    typist = await clients("typist").join(a.base, {"code": link["code"], "token": link["captioner_token"]})
    assert (await typist.call("caption:line", {"op": op(), "text": "先に入力された行"}))["ok"]
    tablet = await clients("tablet").join(b.base, {"code": link["code"]})
    assert [line["text"] for line in tablet.snapshots[0]["lines"]] == ["先に入力された行"]
    await until(lambda: redis.listeners() == 2, "both processes listen to Redis")
    answer = await typist.call("caption:line", {"op": op(), "text": "後から入力された行"})
    await until(lambda: tablet.seq == answer["seq"], "the next line reached the tablet on B")
    assert in_order(tablet) == [answer["seq"]]
