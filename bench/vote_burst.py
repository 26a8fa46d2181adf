"""Vote burst: N participants each cast 5 dots within about 2 s, then the facilitator reveals.

Checks every dot is acknowledged, the revealed tallies are exact, and every dot is in the board's
event log on disk after the server stopped. The baseline is a bare python-socketio server that
only acknowledges the same `vote:cast` events (bench/bare_server.py), same clients, same schedule.
With `postgres=True` Taiwa takes the same burst on SQLite and on PostgreSQL (twice each, in ABBA order),
and the best runs are compared.
Usage: python -m bench.vote_burst [--participants 500]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

from bench.common import (BurstRun, Outcome, ack_burst, bare_burst, connect_clients, disconnect_all, ms,
                          on_both_engines, postgres_outcome,
                          ratio, rss_per_100, run_burst, taiwa_burst)

DOTS = 5
NOTES = 10
WINDOW = 2.0


def schedule(participants: int, notes: list[str]) -> list[tuple[int, float, str, dict[str, Any]]]:
    """Dot k of participant i goes on note (i + k) mod NOTES, spread evenly over WINDOW seconds."""
    total = participants * DOTS
    calls = []
    for k in range(DOTS):
        for i in range(participants):
            order = k * participants + i
            calls.append((i, WINDOW * order / total, "vote:cast",
                          {"op": f"v{i}-{k}", "note": notes[(i + k) % len(notes)]}))
    return calls


def expected_tallies(participants: int, notes: list[str]) -> dict[str, int]:
    return dict(Counter(notes[(i + k) % len(notes)] for i in range(participants) for k in range(DOTS)))


async def _bare(base: str, participants: int) -> dict[str, Any]:
    clients = await connect_clients([base], [{}] * participants)
    try:
        return await ack_burst(clients, schedule(participants, [f"n{j}" for j in range(NOTES)]))
    finally:
        await disconnect_all(clients)


async def _taiwa(base: str, tokens: list[str], api_token: str, board_id: int) -> dict[str, Any]:
    facilitator = (await connect_clients([base], [{"token": api_token, "board": board_id}]))[0]
    notes = []
    for j in range(NOTES):
        reply = await facilitator.call("note:add", {"op": f"seed-{j}", "zone": "z1", "text": f"案{j}"},
                                       namespace="/board", timeout=30)
        notes.append(reply["note"])
    await facilitator.call("phase:set", {"op": "phase-vote", "phase": "vote"}, namespace="/board", timeout=30)
    clients = await connect_clients([base], [{"token": t} for t in tokens])
    try:
        result = await ack_burst(clients, schedule(len(tokens), notes))
        revealed = await facilitator.call("votes:reveal", {"op": "reveal", "revealed": True}, namespace="/board",
                                          timeout=30)
        snap = (await clients[0].call("board:snapshot", {}, namespace="/board", timeout=30))["snapshot"]
    finally:
        await disconnect_all([facilitator, *clients])
    tallies = {note: t["online"] for note, t in (snap.get("tallies") or {}).items() if t["online"]}
    result.update(notes=notes, revealed=bool(revealed and revealed.get("ok")), tallies=tallies,
                  expected=expected_tallies(len(tokens), notes))
    return result


def _judge(run: BurstRun, participants: int) -> tuple[bool, str, str]:
    """Whether Taiwa's burst was correct, what the checks found, and its figures."""
    taiwa = run.taiwa
    logged = Counter(json.loads(data)["note"] for (data,) in run.logged)
    total = participants * DOTS
    exact = taiwa["revealed"] and taiwa["tallies"] == taiwa["expected"]
    durable = dict(logged) == taiwa["expected"]
    checks = (f"lost acks {total - taiwa['acked']}; tallies after reveal {'exact' if exact else 'INEXACT'}; "
              f"in the log on disk {sum(logged.values())}/{total} ({'exact' if durable else 'INEXACT'})"
              + (f"; failures e.g. {taiwa['failures'][:2]}" if taiwa["failures"] else ""))
    figures = (f"ack p50 {ms(taiwa['p50'])} / p95 {ms(taiwa['p95'])} / p99 {ms(taiwa['p99'])} ms; "
               f"{taiwa['throughput']:.0f} dots/s; acked {taiwa['acked']}/{total}")
    return taiwa["acked"] == total and exact and durable, checks, figures


def scenario(quick: bool = False, postgres: bool = False) -> list[Outcome]:
    participants = 50 if quick else 500
    if postgres:
        base = bare_burst("votes", participants, _bare)
        best = on_both_engines(lambda engine: taiwa_burst("votes", participants, _taiwa, "vote:cast", engine),
                               1 if quick else 2, lambda run: _judge(run, participants)[0],
                               lambda run: run.taiwa["p99"])
        run, pg = best["sqlite"], best["postgres"]
    else:
        run = run_burst("votes", participants, _bare, _taiwa, "vote:cast")
        base = run.base
    taiwa = run.taiwa
    total = participants * DOTS
    correct, checks, figures = _judge(run, participants)
    r = ratio(taiwa["p99"], base["p99"])
    votes = Outcome(
        scenario="votes", title=f"3. Vote burst ({participants} participants × {DOTS} dots in ~{WINDOW:g} s)",
        figures=figures, goal=f"all {total} acked; p99 ack ≤ 250 ms; exact tallies; all durable",
        met=correct and taiwa["p99"] <= 250,
        baseline=(f"bare python-socketio acking vote:cast: p50 {ms(base['p50'])} / p95 {ms(base['p95'])} / "
                  f"p99 {ms(base['p99'])} ms, acked {base['acked']}/{total}"),
        ratio=f"p99 {r:.2f}×", rss=rss_per_100(run.rss, participants), correct=correct, checks=checks,
        profile=str(run.profile or ""))
    if not postgres:
        return [votes]
    pg_correct, pg_checks, pg_figures = _judge(pg, participants)
    return [votes, postgres_outcome(
        votes, figures=pg_figures, metric="p99 ack", value=pg.taiwa["p99"], sqlite_value=taiwa["p99"],
        sqlite_figures=figures, rss=rss_per_100(pg.rss, participants), correct=pg_correct,
        checks=pg_checks.replace("on disk", "read back from PostgreSQL"), profile=pg.profile)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=500)
    args = parser.parse_args()
    outcomes = scenario(quick=args.participants <= 50)
    print("\n".join(outcome.row() for outcome in outcomes))
    return 0 if all(outcome.correct for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
