"""`/sessions` (the public listing) with 2,000 published sessions: p50/p95/p99 of sequential GETs
by one keep-alive client, against a static file served by the same Taiwa process in the same run.
With `postgres=True` a second server on PostgreSQL is asked in turn with the SQLite one and compared with it.
Usage: python -m bench.listing [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
from typing import Any

import httpx

from bench.calendar_feed import build_database, timed
from bench.common import (Outcome, engine_suffix, ms, postgres_outcome, ratio, rss_per_100, scratch_database, summary,
                          taiwa_server, write_profile)

PAGES = ("/sessions", "/sessions?childcare=1", "/sessions?q=%E5%AD%90%E8%82%B2%E3%81%A6")  # 子育て


def measure(count: int, requests: int, engines: tuple[str, ...] = ("sqlite",)) -> dict[str, dict[str, Any]]:
    """GET /sessions (each followed by the static file) and the filtered pages, on one server per engine,
    each with a scratch database of its engine, all started at once and asked in turn: drift on a shared
    machine hits every engine (and the static file) alike."""
    with contextlib.ExitStack() as in_turn:
        servers = {}
        for engine in engines:
            db_path = in_turn.enter_context(scratch_database(engine))
            asyncio.run(build_database(db_path, count))
            servers[engine] = taiwa_server(db_path, "listing" + engine_suffix(engine))
        for server in servers.values():
            in_turn.enter_context(server)
        clients = {engine: in_turn.enter_context(httpx.Client(base_url=server.base, timeout=60,
                                                                headers={"Accept-Language": "ja"}))
                   for engine, server in servers.items()}
        found: dict[str, dict[str, Any]] = {}
        for engine, client in clients.items():
            first_ms, first = timed(client, "/sessions")
            found[engine] = {"first_ms": first_ms, "statuses": {first.status_code}, "listing": [], "static": [],
                             "others": {page: [] for page in PAGES[1:]},
                             "listed": re.findall(r'href="/sessions/(\d+)', first.text)}
        for _ in range(requests):  # interleaved, so drift hits both alike
            for engine, client in clients.items():
                elapsed, answer = timed(client, "/sessions")
                found[engine]["listing"].append(elapsed)
                found[engine]["statuses"].add(answer.status_code)
                found[engine]["static"].append(timed(client, "/static/css/taiwa.css")[0])
        for page in PAGES[1:]:
            for _ in range(max(10, requests // 10)):
                for engine, client in clients.items():
                    elapsed, answer = timed(client, page)
                    found[engine]["others"][page].append(elapsed)
                    found[engine]["statuses"].add(answer.status_code)
        for engine, server in servers.items():
            found[engine]["rss"] = server.sample_rss()
    for engine, server in servers.items():
        r = found[engine]
        r.update(listing=summary(r["listing"]), static=summary(r["static"]),
                 others={page: summary(times)["p50"] for page, times in r["others"].items()},
                 profile=write_profile(server.profile, "listing" + engine_suffix(engine)))
    return found


def _figures(r: dict[str, Any]) -> str:
    got = r["listing"]
    return (f"p50 {ms(got['p50'])} / p95 {ms(got['p95'])} / p99 {ms(got['p99'])} ms; first {r['first_ms']:.0f} ms; "
            + "; ".join(f"{page} p50 {value:.1f} ms" for page, value in r["others"].items()))


def scenario(quick: bool = False, postgres: bool = False) -> list[Outcome]:
    count, requests = (200, 30) if quick else (2000, 200)
    found = measure(count, requests, ("sqlite", "postgres") if postgres else ("sqlite",))
    r = found["sqlite"]
    got, base = r["listing"], r["static"]
    correct = r["statuses"] == {200}
    listing = Outcome(
        scenario="listing", title=f"6a. /sessions ({count:,} sessions)", figures=_figures(r),
        goal="p50 ≤ 15 ms", met=correct and got["p50"] <= 15,
        baseline=f"static CSS file, same server: p50 {base['p50']:.2f} / p95 {base['p95']:.2f} ms",
        ratio=f"p50 {ratio(got['p50'], base['p50']):.1f}×", rss=rss_per_100(r["rss"], 0).split(",")[0],
        correct=correct, checks=f"statuses {sorted(r['statuses'])}", profile=str(r["profile"] or ""))
    if not postgres:
        return [listing]
    pg = found["postgres"]
    same = pg["listed"] == r["listed"] and bool(r["listed"])
    return [listing, postgres_outcome(
        listing, figures=_figures(pg), metric="p50", value=pg["listing"]["p50"], sqlite_value=got["p50"],
        sqlite_figures=_figures(r), rss=rss_per_100(pg["rss"], 0).split(",")[0],
        correct=pg["statuses"] == {200} and same,
        checks=(f"statuses {sorted(pg['statuses'])}; first page lists the same {len(pg['listed'])} sessions as on "
                f"SQLite: {'yes' if same else 'NO'}; static file p50 {pg['static']['p50']:.2f} ms"),
        profile=pg["profile"])]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    outcomes = scenario(quick=parser.parse_args().quick)
    print("\n".join(outcome.row() for outcome in outcomes))
    return 0 if all(outcome.correct for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
