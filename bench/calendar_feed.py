"""Benchmark of /calendar.ics with 5,000 published sessions, served by a real uvicorn process.

    python -m bench.calendar_feed [--sessions 5000] [--requests 200]

Reports the first (cold) request, warm requests answered from the rendered-feed cache, and
revalidation with If-None-Match (304), plus the feed's size and number of events. The goals in
issue 4 are <= 500 ms cold and <= 5 ms for a 304; nothing here asserts them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from icalendar import Calendar

from server.core.database import open_database
from sessions import store
from sessions.models import AccommodationOffer, ChildcareOffer, SessionInput, VenueInput
from sessions.validation import normalise_session

from bench.common import Outcome, ratio, rss_per_100, summary, taiwa_server, write_profile

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "calendar_feed.md"
TOKYO = ZoneInfo("Asia/Tokyo")
KINDS = ("dialogue", "round_table", "workshop", "forum", "briefing", "lecture")


def _session(n: int, venue_id: int, first_day: datetime) -> SessionInput:
    """The n-th session: three a day (10:00, 14:00, 18:30 Tokyo), some with childcare and support."""
    day = first_day + timedelta(days=n // 3)
    start = day.replace(hour=(10, 14, 18)[n % 3], minute=30 if n % 3 == 2 else 0)
    return normalise_session(SessionInput(
        title=f"まちづくり対話の場 第{n + 1}回：子育て・防災・交通を考える",
        description="市民と行政が同じテーブルで、これからの暮らしについて話し合います。途中参加もできます。",
        kind=KINDS[n % len(KINDS)], format="in_person", starts_at=start, ends_at=start + timedelta(hours=2),
        venue_id=venue_id, capacity_in_person=30, status="draft", themes=["まちづくり", "子育て"][: 1 + n % 2],
        childcare=ChildcareOffer(places=5) if n % 3 == 0 else None,
        accommodations=[AccommodationOffer(code="sign_language")] if n % 4 == 0 else [],
    ))


async def build_database(path: Path | str, count: int) -> None:
    """Every session inserted in one transaction, then published with one UPDATE (SQLite file or PostgreSQL URL)."""
    db = open_database(path)
    await db.open()
    try:
        first_day = datetime.now(TOKYO).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        async with db.transaction() as conn:
            org_id = await store.create_org(conn, slug="kanazawa", name="金沢市 市民協働推進課",
                                            name_en="Kanazawa Civic Collaboration")
            venue_id = await store.create_venue(conn, org_id, VenueInput(name="金沢市民交流センター",
                                                                         address="石川県金沢市広坂1-1-1"))
            for n in range(count):
                await store.insert_session(conn, org_id, _session(n, venue_id, first_day))
        async with db.transaction() as conn:
            await conn.execute("update sessions set status = 'published'")
    finally:
        await db.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(db_path: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TAIWA_SECRET": "bench-secret-" + "x" * 24, "TAIWA_RATE_LIMITS": "off"}
    env.pop("TAIWA_BASE_URL", None)
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--db", str(db_path), "--port", str(port)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_until_ready(client: httpx.Client, server: subprocess.Popen[bytes], log: Path) -> None:
    """Poll a static file (not the feed, so the feed's first request stays cold)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited ({server.returncode}):\n{log.read_text(errors='replace')}")
        try:
            if client.get("/static/css/taiwa.css").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not start within 60 s")


def timed(client: httpx.Client, path: str, headers: dict[str, str] | None = None) -> tuple[float, httpx.Response]:
    began = time.perf_counter()
    response = client.get(path, headers=headers or {})
    return (time.perf_counter() - began) * 1000, response


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(client: httpx.Client, requests: int) -> list[tuple[str, str]]:
    cold_ms, cold = timed(client, "/calendar.ics")
    if cold.status_code != 200:
        raise SystemExit(f"/calendar.ics answered {cold.status_code}")
    events = len(Calendar.from_ical(cold.content).walk("VEVENT"))
    warm = [timed(client, "/calendar.ics")[0] for _ in range(20)]
    etag = cold.headers["etag"]
    revalidations = []
    for _ in range(requests):
        elapsed, answer = timed(client, "/calendar.ics", {"If-None-Match": etag})
        if answer.status_code != 304:
            raise SystemExit(f"revalidation answered {answer.status_code}, not 304")
        revalidations.append(elapsed)
    since_ms, since = timed(client, "/calendar.ics", {"If-Modified-Since": cold.headers["last-modified"]})
    filtered_ms, filtered = timed(client, "/calendar.ics?childcare=1")
    filtered_events = len(Calendar.from_ical(filtered.content).walk("VEVENT"))
    return [
        ("Cold GET /calendar.ics (first request, renders)", f"{cold_ms:.0f} ms"),
        ("Warm GET (cached render), p50 / p95 of 20", f"{statistics.median(warm):.1f} / {percentile(warm, .95):.1f} ms"),
        (f"304 with If-None-Match, p50 / p95 of {requests}",
         f"{statistics.median(revalidations):.2f} / {percentile(revalidations, .95):.2f} ms"),
        ("304 with If-Modified-Since (one request)", f"{since_ms:.2f} ms (status {since.status_code})"),
        (f"Cold GET /calendar.ics?childcare=1 ({filtered_events} events)", f"{filtered_ms:.0f} ms"),
        ("Feed size", f"{len(cold.content):,} bytes"),
        ("Events (VEVENT)", f"{events:,}"),
    ]


def scenario(quick: bool = False) -> Outcome:
    """/calendar.ics cold and 304, against a static file from the same server in the same run."""
    count, requests = (200, 50) if quick else (5000, 200)
    with tempfile.TemporaryDirectory(prefix="taiwa-bench-") as tmp:
        db_path = Path(tmp) / "bench.sqlite3"
        asyncio.run(build_database(db_path, count))
        server = taiwa_server(db_path, "calendar")
        with server, httpx.Client(base_url=server.base, timeout=120) as client:
            cold_ms, cold = timed(client, "/calendar.ics")
            events = len(Calendar.from_ical(cold.content).walk("VEVENT")) if cold.status_code == 200 else 0
            etag = cold.headers.get("etag", "")
            revalidations, statuses = [], set()
            for _ in range(requests):
                elapsed, answer = timed(client, "/calendar.ics", {"If-None-Match": etag})
                revalidations.append(elapsed)
                statuses.add(answer.status_code)
            static = [timed(client, "/static/css/taiwa.css")[0] for _ in range(requests)]
            rss = server.sample_rss()
        profile = write_profile(server.profile, "calendar")
    not_modified, base = summary(revalidations), summary(static)
    correct = events == count and statuses == {304}
    return Outcome(
        scenario="calendar", title=f"6b. /calendar.ics ({count:,} sessions)",
        figures=(f"cold {cold_ms:.0f} ms ({len(cold.content):,} bytes); 304 p50 {not_modified['p50']:.2f} / "
                 f"p95 {not_modified['p95']:.2f} / p99 {not_modified['p99']:.2f} ms"),
        goal="≤ 500 ms cold; 304 ≤ 5 ms", met=correct and cold_ms <= 500 and not_modified["p50"] <= 5,
        baseline=f"static CSS file, same server: p50 {base['p50']:.2f} / p95 {base['p95']:.2f} ms",
        ratio=f"304 p50 {ratio(not_modified['p50'], base['p50']):.2f}×; cold {ratio(cold_ms, base['p50']):.0f}×",
        rss=rss_per_100(rss, 0).split(",")[0], correct=correct,
        checks=f"{events}/{count} events in the feed; revalidation statuses {sorted(statuses)}",
        profile=str(profile or ""))


def table(rows: list[tuple[str, str]], count: int) -> str:
    lines = [f"# /calendar.ics with {count:,} published sessions",
             "",
             f"{datetime.now().astimezone().isoformat(timespec='seconds')}, Python {sys.version.split()[0]}, "
             "one uvicorn worker on 127.0.0.1, httpx client with keep-alive in another process.",
             "",
             "| Measure | Result |",
             "|---|---|",
             *(f"| {name} | {value} |" for name, value in rows)]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="taiwa-bench-") as tmp:
        db_path, log = Path(tmp) / "bench.sqlite3", Path(tmp) / "server.log"
        began = time.perf_counter()
        asyncio.run(build_database(db_path, args.sessions))
        print(f"created {args.sessions:,} sessions in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        port = free_port()
        server = start_server(db_path, port, log)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
                wait_until_ready(client, server, log)
                rows = measure(client, args.requests)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    report = table(rows, args.sessions)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report, encoding="utf-8")
    print(report)
    print(f"written to {RESULTS.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
