"""`/sessions` with the ふりがな switch on against the same page without it, in the same run and the same
server (2,000 published sessions; the page lists the first 50): p50/p95 of sequential GETs by one
keep-alive client, interleaved. Goal: with the switch on within 1.5× the time without it (readings are
cached: the first page with the switch on pays for the analysis, later ones reuse it).
Usage: python -m bench.furigana [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
from pathlib import Path

import httpx

from bench.calendar_feed import build_database, timed
from bench.common import Outcome, ms, ratio, rss_per_100, summary, taiwa_server, write_profile

GOAL = 1.5


def _plain(html: str) -> str:
    return re.sub(r"<rt[^>]*></rt>|</?ruby>|\s+", "", re.sub(r'<a href="[^"]*ruby=[01]"[^>]*>.*?</a>|data-ruby="on"', "", html))


def scenario(quick: bool = False) -> Outcome:
    count, requests = (200, 30) if quick else (2000, 200)
    with tempfile.TemporaryDirectory(prefix="taiwa-bench-") as tmp:
        db_path = Path(tmp) / "bench.sqlite3"
        asyncio.run(build_database(db_path, count))
        server = taiwa_server(db_path, "furigana")
        with server, httpx.Client(base_url=server.base, timeout=60, headers={"Accept-Language": "ja"}) as client:
            first_off_ms, off_page = timed(client, "/sessions", {"Cookie": "taiwa_ruby=0"})
            first_on_ms, on_page = timed(client, "/sessions", {"Cookie": "taiwa_ruby=1"})
            statuses = {off_page.status_code, on_page.status_code}
            rubies = on_page.text.count("<ruby>")
            same_text = _plain(on_page.text) == _plain(off_page.text)
            off, on = [], []
            for _ in range(requests):  # interleaved, so drift hits both alike
                elapsed, answer = timed(client, "/sessions", {"Cookie": "taiwa_ruby=0"})
                off.append(elapsed)
                statuses.add(answer.status_code)
                elapsed, answer = timed(client, "/sessions", {"Cookie": "taiwa_ruby=1"})
                on.append(elapsed)
                statuses.add(answer.status_code)
            rss = server.sample_rss()
        profile = write_profile(server.profile, "furigana")
    got, base = summary(on), summary(off)
    correct = statuses == {200} and rubies > 50 and same_text
    times = ratio(got["p50"], base["p50"])
    return Outcome(
        scenario="furigana", title=f"8. /sessions with ふりがな ({count:,} sessions)",
        figures=(f"switch on: p50 {ms(got['p50'])} / p95 {ms(got['p95'])} ms; first page {first_on_ms:.0f} ms "
                 f"(off: first {first_off_ms:.0f} ms); {rubies} ruby elements"),
        goal=f"p50 ≤ {GOAL}× the page without the switch", met=correct and times <= GOAL,
        baseline=f"same page, switch off: p50 {base['p50']:.2f} / p95 {base['p95']:.2f} ms",
        ratio=f"p50 {times:.2f}×", rss=rss_per_100(rss, 0).split(",")[0], correct=correct,
        checks=f"statuses {sorted(statuses)}; same text without the readings: {'yes' if same_text else 'NO'}",
        profile=str(profile or ""))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    outcome = scenario(quick=parser.parse_args().quick)
    print(outcome.row())
    return 0 if outcome.correct else 1


if __name__ == "__main__":
    sys.exit(main())
