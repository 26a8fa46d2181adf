"""`/sessions` (the public listing) with 2,000 published sessions: p50/p95/p99 of sequential GETs
by one keep-alive client, against a static file served by the same Taiwa process in the same run.
Usage: python -m bench.listing [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import httpx

from bench.calendar_feed import build_database, timed
from bench.common import Outcome, ms, ratio, rss_per_100, summary, taiwa_server, write_profile

PAGES = ("/sessions", "/sessions?childcare=1", "/sessions?q=%E5%AD%90%E8%82%B2%E3%81%A6")  # 子育て


def scenario(quick: bool = False) -> Outcome:
    count, requests = (200, 30) if quick else (2000, 200)
    with tempfile.TemporaryDirectory(prefix="taiwa-bench-") as tmp:
        db_path = Path(tmp) / "bench.sqlite3"
        asyncio.run(build_database(db_path, count))
        server = taiwa_server(db_path, "listing")
        with server, httpx.Client(base_url=server.base, timeout=60, headers={"Accept-Language": "ja"}) as client:
            first_ms, first = timed(client, "/sessions")
            statuses = {first.status_code}
            listing, static, others = [], [], {}
            for _ in range(requests):  # interleaved, so drift hits both alike
                elapsed, answer = timed(client, "/sessions")
                listing.append(elapsed)
                statuses.add(answer.status_code)
                static.append(timed(client, "/static/css/taiwa.css")[0])
            for page in PAGES[1:]:
                times = []
                for _ in range(max(10, requests // 10)):
                    elapsed, answer = timed(client, page)
                    times.append(elapsed)
                    statuses.add(answer.status_code)
                others[page] = summary(times)["p50"]
            rss = server.sample_rss()
        profile = write_profile(server.profile, "listing")
    got, base = summary(listing), summary(static)
    correct = statuses == {200}
    return Outcome(
        scenario="listing", title=f"6a. /sessions ({count:,} sessions)",
        figures=(f"p50 {ms(got['p50'])} / p95 {ms(got['p95'])} / p99 {ms(got['p99'])} ms; first {first_ms:.0f} ms; "
                 + "; ".join(f"{page} p50 {value:.1f} ms" for page, value in others.items())),
        goal="p50 ≤ 15 ms", met=correct and got["p50"] <= 15,
        baseline=f"static CSS file, same server: p50 {base['p50']:.2f} / p95 {base['p95']:.2f} ms",
        ratio=f"p50 {ratio(got['p50'], base['p50']):.1f}×", rss=rss_per_100(rss, 0).split(",")[0], correct=correct,
        checks=f"statuses {sorted(statuses)}", profile=str(profile or ""))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    outcome = scenario(quick=parser.parse_args().quick)
    print(outcome.row())
    return 0 if outcome.correct else 1


if __name__ == "__main__":
    sys.exit(main())
