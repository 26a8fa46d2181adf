"""Poll burst: N participants answer one open poll at once.

Reports acks and ack latency percentiles and checks the tally is exact, against a bare
python-socketio server that only acknowledges the same `poll:answer` events, in the same run.
Usage: python -m bench.poll_burst [--participants 500]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import httpx

from bench.common import (run_burst, RESULTS, Outcome, ack_burst, connect_clients, disconnect_all,
                          ms, ratio, rss_per_100)

CHOICES = ("o1", "o2", "o3")


def schedule(participants: int, poll: Any) -> list[tuple[int, float, str, dict[str, Any]]]:
    return [(i, 0.0, "poll:answer", {"op": f"a{i}", "poll": poll, "choice": CHOICES[i % 3]})
            for i in range(participants)]


async def _bare(base: str, participants: int) -> dict[str, Any]:
    clients = await connect_clients([base], [{}] * participants)
    try:
        return await ack_burst(clients, schedule(participants, "p1"))
    finally:
        await disconnect_all(clients)


async def burst(base: str, tokens: list[str], api_token: str, board_id: int) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {api_token}"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        poll = (await http.post(f"/api/boards/{board_id}/polls", headers=auth,
                                json={"type": "single_choice", "question": "どれを優先しますか",
                                      "options": ["公共交通", "子育て支援", "防災"], "open": True})).json()
    option_ids = [option["id"] for option in poll["options"]]
    clients = await connect_clients([base], [{"token": t} for t in tokens])
    try:
        calls = [(i, at, event, {**payload, "choice": option_ids[CHOICES.index(payload["choice"])]})
                 for i, at, event, payload in schedule(len(tokens), poll["id"])]
        result = await ack_burst(clients, calls)
    finally:
        await disconnect_all(clients)
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        results = (await http.get(f"/api/polls/{poll['id']}/results", headers=auth)).json()
    expected = {option_ids[c]: sum(1 for i in range(len(tokens)) if i % 3 == c) for c in range(3)}
    result.update(poll=poll["id"], counts=results.get("counts"), total=results.get("total"), expected=expected,
                  exact=results.get("counts") == expected and results.get("total") == len(tokens))
    return result


def scenario(quick: bool = False) -> Outcome:
    participants = 50 if quick else 500
    run = run_burst("poll", participants, _bare, burst, "poll:answered")
    base, taiwa, rss, profile, logged = run.base, run.taiwa, run.rss, run.profile, len(run.logged)
    correct = taiwa["acked"] == participants and taiwa["exact"] and logged == participants
    r = ratio(taiwa["p99"], base["p99"])
    return Outcome(
        scenario="poll", title=f"4. Poll burst ({participants} answers at once)",
        figures=(f"ack p50 {ms(taiwa['p50'])} / p95 {ms(taiwa['p95'])} / p99 {ms(taiwa['p99'])} ms; "
                 f"{taiwa['throughput']:.0f} answers/s; acked {taiwa['acked']}/{participants}"),
        goal="all acked; p99 ≤ 150 ms", met=correct and taiwa["p99"] <= 150,
        baseline=(f"bare python-socketio acking poll:answer: p50 {ms(base['p50'])} / p95 {ms(base['p95'])} / "
                  f"p99 {ms(base['p99'])} ms"),
        ratio=f"p99 {r:.2f}×", rss=rss_per_100(rss, participants), correct=correct,
        checks=(f"lost acks {participants - taiwa['acked']}; tally {'exact' if taiwa['exact'] else 'INEXACT'} "
                f"({taiwa['total']}); in the log on disk {logged}/{participants}"
                + (f"; failures e.g. {taiwa['failures'][:2]}" if taiwa["failures"] else "")),
        profile=str(profile or ""))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=500)
    args = parser.parse_args()
    outcome = scenario(quick=args.participants <= 50)
    report = "| scenario | figures | goal | met | baseline | ratio | RSS | checks |\n|---|---|---|---|---|---|---|---|\n"
    report += outcome.row() + "\n"
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "poll_burst.md").write_text(report, encoding="utf-8")
    return 0 if outcome.correct else 1


if __name__ == "__main__":
    sys.exit(main())
