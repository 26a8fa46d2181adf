"""Scale-out: N participants on one board served by `taiwa serve --workers 2` sharing rooms through a
real redis-server, notes sent by clients on both workers; delivery latency and loss compared with
one Taiwa process under the same load in the same run.

The two workers share one listening socket, so the kernel decides which worker accepts each
client; the report shows how the WebSocket connections ended up split.
Usage: python -m bench.scale_out [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.board_fanout import _notes_logged, figures, run_load
from bench.common import (Outcome, Redis, _children, prepare_taiwa, ratio, rss_per_100, taiwa_server,
                          write_profile)

SENDERS = 10  # clients that write notes (the first ten, so both workers have writers)


def established_sockets(pid: int) -> int:
    """Open TCP sockets of one process (its clients, plus a few of its own)."""
    count = 0
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                count += fd.readlink().name.startswith("socket:")
            except OSError:
                pass
    except OSError:
        pass
    return count


def worker_pids(pid: int) -> list[int]:
    """uvicorn's worker processes under a server (its children running Python, profiler left out)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        children = _children(current)
        todo += children
        try:
            cmdline = Path(f"/proc/{current}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            found.append(current)
    return found


def measure(participants: int, rate: float, seconds: float, *, workers: int, redis_url: str | None,
            name: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.sqlite3"
        board_id, tokens, zone = asyncio.run(prepare_taiwa(db_path, participants))
        server = taiwa_server(db_path, name, workers=workers, redis_url=redis_url)
        split: list[int] = []

        async def load() -> dict[str, Any]:
            async def watch() -> None:
                # sample the split while everyone is connected (the load runs for `seconds`)
                await asyncio.sleep(max(1.0, seconds / 2) + participants / 200)
                if server.process is not None:
                    split.extend(established_sockets(pid) for pid in worker_pids(server.process.pid))
            watcher = asyncio.create_task(watch())
            result = await run_load(server.base, [{"token": t} for t in tokens], rate, seconds, {"zone": zone},
                                    senders=SENDERS)
            await watcher
            return result

        with server:
            result = asyncio.run(load())
            result["rss_kb"] = server.sample_rss()
        result["persisted"] = _notes_logged(db_path, board_id)
        result["profile"] = write_profile(server.profile, name)
        result["split"] = split
        result["traceback"] = "Traceback" in server.log()
    return result


def scenario(quick: bool = False) -> Outcome:
    participants, rate, seconds = (40, 5, 3) if quick else (1000, 10, 10)
    single = measure(participants, rate, seconds, workers=1, redis_url=None, name="single-process")
    with Redis() as redis:
        scaled = measure(participants, rate, seconds, workers=2, redis_url=redis.url, name="scale-out")
    correct = all(r["lost"] == 0 and r["duplicates"] == 0 and r["acked"] == r["sent"] and r["persisted"] == r["sent"]
                  for r in (single, scaled))
    r = ratio(scaled["p95"], single["p95"])
    return Outcome(
        scenario="scale-out",
        title=(f"7. Scale-out ({participants:,} participants over `--workers 2` + redis-server, "
               f"{rate:g} notes/s × {seconds:g} s from {SENDERS} clients)"),
        figures=figures(scaled), goal="0 lost; p95 ≤ 1.5× single process", met=correct and r <= 1.5,
        baseline=f"one Taiwa process, same load: {figures(single)}", ratio=f"p95 {r:.2f}×",
        rss=rss_per_100(scaled["rss_kb"], participants) + f" (single: {rss_per_100(single['rss_kb'], participants)})",
        correct=correct,
        checks=(f"lost {scaled['lost']} (single {single['lost']}), duplicates {scaled['duplicates']}, "
                f"acked {scaled['acked']}/{scaled['sent']}, in the log {scaled['persisted']}/{scaled['sent']}; "
                f"open sockets per worker {scaled['split'] or 'unknown'}"
                + ("; a Traceback in the server log" if scaled["traceback"] else "")),
        profile=str(scaled["profile"] or ""))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    outcome = scenario(quick=parser.parse_args().quick)
    print(outcome.row())
    return 0 if outcome.correct else 1


if __name__ == "__main__":
    sys.exit(main())
