"""`python -m bench` runs every scenario and writes bench/results/latest.md;
`python -m bench --quick` runs small versions (correctness checks for CI) into bench/results/quick.md.
`--db postgres` also runs the board fan-out, vote burst, registration burst and listing on PostgreSQL
(a throwaway durable cluster), each beside its SQLite run, into results/postgres.md (or quick-postgres.md).

Exit status is non-zero only when a scenario is incorrect (loss, inexact counts, over-capacity,
a crash), never because of a time: these machines are shared and times drift, which is why each
scenario measures its baseline in the same run and reports the ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path

from bench import (board_fanout, calendar_feed, caption_fanout, common, furigana, listing, poll_burst,
                   registration_burst, scale_out, vote_burst)
from bench.common import RESULTS, Outcome

SCENARIOS = [("fanout", board_fanout), ("votes", vote_burst), ("poll", poll_burst),
             ("registration", registration_burst), ("listing", listing), ("furigana", furigana), ("calendar", calendar_feed),
             ("scale-out", scale_out), ("captions", caption_fanout)]
ON_POSTGRES = ("fanout", "votes", "registration", "listing")  # the scenarios `--db postgres` runs on both engines


def crashed(name: str, error: BaseException) -> Outcome:
    return Outcome(scenario=name, title=name, figures="–", goal="–", met=False, baseline="–", ratio="–", rss="–",
                   correct=False, checks=f"CRASHED: {type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}",
                   details=traceback.format_exception(error))


def report(outcomes: list[Outcome], quick: bool, wall: float, postgres: bool = False) -> str:
    lines = [f"# Benchmarks{' (quick: small versions, correctness only)' if quick else ''}", "",
             f"{datetime.now().astimezone().isoformat(timespec='seconds')}; {os.cpu_count()} cores "
             f"({platform.processor() or platform.machine()}), Linux {platform.release()}; Python "
             f"{sys.version.split()[0]}; wall time {wall:.0f} s. Servers run in their own processes (uvicorn, one "
             "worker unless noted, rate limits off); the load generators (python-socketio AsyncClients over "
             "WebSocket, an httpx client) run in the bench process. The machine is shared: compare the ratio to the "
             "baseline measured in the same run, not absolute times.", "",
             *([f"PostgreSQL rows: PostgreSQL {common.postgres_version()} from Debian's packages, a throwaway cluster "
                "(initdb in a temporary folder) on the same machine, fsync on and synchronous_commit on as in "
                "production, the app connected over TCP to 127.0.0.1. Each scenario runs on both engines in the "
                "same run with the same load: the bursts " + ("once each" if quick else "twice each in the order "
                "SQLite, PostgreSQL, PostgreSQL, SQLite, each engine's best run shown (every run checked)") +
                "; the listing's two servers are asked in turn. The ratio is PostgreSQL's figure ÷ SQLite's (goal: "
                f"within {common.POSTGRES_GOAL:g}×).", ""] if postgres else []),
             "| scenario | figures | goal | goal met | baseline (same run) | ratio | peak RSS (per 100 participants) | correctness |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [outcome.row() for outcome in outcomes]
    wrong = [o for o in outcomes if not o.correct]
    lines += ["", f"Correctness: {'all scenarios correct (zero loss, exact counts)' if not wrong else 'FAILED: ' + ', '.join(o.scenario for o in wrong)}."]
    profiles = [o for o in outcomes if o.profile]
    if profiles:
        lines += ["", "Profiles: " + ", ".join(f"{o.scenario}: `{Path(o.profile).relative_to(common.ROOT)}`" for o in profiles)]
    lines += ["", "Notes:",
              "- Latencies: fan-out and scale-out measure send → each client's `event` (every client, the sender "
              "included); vote and poll bursts measure the ack round trip; HTTP figures are request round trips.",
              "- RSS is the server's peak resident memory (VmHWM; for `--workers 2` summed over the supervisor and its "
              "workers), divided per 100 participants (or registrations) of the scenario."]
    for outcome in outcomes:
        if outcome.details:
            lines += ["", f"## {outcome.scenario} crashed", "", "```", *"".join(outcome.details).splitlines()[-30:], "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small versions for CI (correctness, not timing)")
    parser.add_argument("--profile", action="store_true",
                        help="run the servers under py-spy (or pyinstrument); top functions in results/profile-*.txt")
    parser.add_argument("--only", action="append", choices=[name for name, _ in SCENARIOS], help="run only these")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite",
                        help="postgres: also run " + ", ".join(ON_POSTGRES) + " on PostgreSQL, against SQLite")
    parser.add_argument("--output", type=Path, help="report file (default results/latest.md, or quick.md; "
                                                    "with --db postgres, postgres.md or quick-postgres.md)")
    args = parser.parse_args(argv)
    common.PROFILE["on"] = args.profile
    postgres = args.db == "postgres"
    RESULTS.mkdir(parents=True, exist_ok=True)
    default = {(False, False): "latest.md", (True, False): "quick.md", (False, True): "postgres.md",
               (True, True): "quick-postgres.md"}[(args.quick, postgres)]
    output = args.output or RESULTS / default
    if postgres:
        common.postgres_cluster()  # started once, before any timing
    began = time.perf_counter()
    outcomes = []
    for name, module in SCENARIOS:
        if args.only and name not in args.only:
            continue
        started = time.perf_counter()
        print(f"bench: {name}…", file=sys.stderr, flush=True)
        try:
            found = (module.scenario(quick=args.quick, postgres=True) if postgres and name in ON_POSTGRES
                     else module.scenario(quick=args.quick))
        except Exception as error:  # noqa: BLE001 - a crash is reported as an incorrect scenario
            found = crashed(name, error)
        for outcome in found if isinstance(found, list) else [found]:
            outcomes.append(outcome)
            print(f"bench: {outcome.scenario} {'ok' if outcome.correct else 'INCORRECT'} in "
                  f"{time.perf_counter() - started:.0f} s: {outcome.figures} | {outcome.checks}", file=sys.stderr,
                  flush=True)
    text = report(outcomes, args.quick, time.perf_counter() - began, postgres)
    output.write_text(text, encoding="utf-8")
    print(text)
    print(f"bench: written to {output}", file=sys.stderr)
    return 0 if all(o.correct for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
