"""Registration burst: N concurrent registrations (JSON API) for a session with S seats.

Checks exactly S are confirmed and the rest waitlisted at positions 1..N-S, in the answers and
in the database (positions follow arrival order there), and reports registrations per second.
The baseline is a bare uvicorn ASGI endpoint that parses the same JSON POST and answers 201
(bench/bare_server.py), hit by the same client with the same concurrency in the same run: all N
requests start at once, each on its own connection. With `postgres=True` Taiwa takes the same burst on
SQLite and on PostgreSQL (twice each, in ABBA order), and the best runs are compared.
Usage: python -m bench.registration_burst [--registrations 1000] [--seats 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import (Outcome, bare_server, engine_suffix, ms, on_both_engines, postgres_outcome, ratio, read_db,
                          rss_per_100, scratch_database, summary, taiwa_server, write_profile)


async def prepare(db_path: Path | str, seats: int) -> int:
    """An organization and one published online session with `seats` places, open for registration."""
    from server.core.database import open_database
    from sessions import scheduling, store
    from sessions.models import SessionInput

    db = open_database(db_path)
    await db.open()
    try:
        async with db.transaction() as conn:
            org = await store.create_org(conn, slug="bench", name="ベンチマーク")
        start = datetime.now() + timedelta(days=14)
        return (await scheduling.create_sessions(db, org, SessionInput(
            title="市民フォーラム：これからの公共交通", kind="forum", format="online",
            online_url="https://meet.example.jp/forum", capacity_online=seats, starts_at=start,
            ends_at=start + timedelta(hours=2), status="published")))[0]
    finally:
        await db.close()


async def post_json(port: int, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """One HTTP/1.1 POST on its own connection (each registrant is a different phone). A raw asyncio
    client: httpx's pool gets slow with a thousand queued requests and would measure itself."""
    payload = json.dumps(body, ensure_ascii=False).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                     f"Accept-Language: ja\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                     + payload)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), None)
        content = await (reader.readexactly(length) if length is not None else reader.read())
        return status, json.loads(content or b"{}")
    finally:
        writer.close()


async def burst(port: int, path: str, count: int) -> dict[str, Any]:
    """`count` POSTs started at once, each on its own connection; latencies and answers."""
    latencies: list[float] = []
    answers: list[tuple[int, dict[str, Any]]] = []

    async def register(index: int) -> None:
        start = time.perf_counter()
        try:
            answers.append(await post_json(port, path, {"name": f"参加者 {index}", "email": f"p{index}@example.jp",
                                                        "mode": "online"}))
        except (OSError, ValueError, asyncio.IncompleteReadError) as error:
            answers.append((0, {"error": repr(error)}))
        latencies.append((time.perf_counter() - start) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(register(i) for i in range(count)))
    elapsed = time.perf_counter() - began
    return {"answers": answers, "elapsed": elapsed, "throughput": count / elapsed, **summary(latencies)}


def check(db_path: Path | str, session_id: int, result: dict[str, Any], count: int, seats: int) -> dict[str, Any]:
    """Exactly `seats` confirmed, the rest waitlisted 1..count-seats, in the answers and on disk."""
    from sessions.registration import token_hash

    created = [body for status, body in result["answers"] if status == 201]
    confirmed = [b for b in created if b.get("status") == "confirmed"]
    waitlisted = [b for b in created if b.get("status") == "waitlisted"]
    positions_ok = sorted(b.get("position") or 0 for b in waitlisted) == list(range(1, count - seats + 1))
    rows = read_db(db_path, "select token_hash, status from registrations where session_id = ? order by id",
                   (session_id,))
    db_confirmed = sum(1 for _h, status in rows if status == "confirmed")
    db_waitlist = [h for h, status in rows if status == "waitlisted"]
    by_hash = {token_hash(b["token"]): b.get("position") for b in waitlisted if b.get("token")}
    db_positions_ok = [by_hash.get(h) for h in db_waitlist] == list(range(1, len(db_waitlist) + 1))
    errors = sorted({status for status, _b in result["answers"] if status != 201})
    return {"created": len(created), "confirmed": len(confirmed), "waitlisted": len(waitlisted),
            "db_rows": len(rows), "db_confirmed": db_confirmed, "db_waitlisted": len(db_waitlist),
            "positions_ok": positions_ok, "db_positions_ok": db_positions_ok, "errors": errors,
            "exact": (len(created) == count and len(confirmed) == seats and db_confirmed == seats
                      and len(rows) == count and positions_ok and db_positions_ok)}


def measure_taiwa(count: int, seats: int, engine: str = "sqlite") -> dict[str, Any]:
    """The burst on Taiwa with a scratch database of `engine`, checked in the answers and in the database."""
    name = "registration" + engine_suffix(engine)
    with scratch_database(engine) as db_path:
        session_id = asyncio.run(prepare(db_path, seats))
        server = taiwa_server(db_path, name)
        with server:
            taiwa = asyncio.run(burst(server.port, f"/api/sessions/{session_id}/registrations", count))
            taiwa["rss_kb"] = server.sample_rss()
        taiwa["checked"] = check(db_path, session_id, taiwa, count, seats)
        taiwa["profile"] = write_profile(server.profile, name)
    return taiwa


def _figures(r: dict[str, Any]) -> str:
    return (f"p50 {ms(r['p50'])} / p95 {ms(r['p95'])} / p99 {ms(r['p99'])} ms; "
            f"{r['throughput']:.0f} registrations/s")


def _checks(checked: dict[str, Any], count: int, seats: int, where: str = "on disk") -> str:
    return (f"201: {checked['created']}/{count}; confirmed {checked['confirmed']} ({where} {checked['db_confirmed']}); "
            f"waitlisted {checked['waitlisted']} ({where} {checked['db_waitlisted']}), positions 1..{count - seats} "
            f"{'exact' if checked['positions_ok'] else 'INEXACT'}, same as arrival order {where}: "
            f"{'yes' if checked['db_positions_ok'] else 'NO'}"
            + (f"; other statuses {checked['errors']}" if checked["errors"] else ""))


def scenario(quick: bool = False, postgres: bool = False) -> list[Outcome]:
    count, seats = (100, 5) if quick else (1000, 50)
    with bare_server("bare-registration") as bare:
        base = asyncio.run(burst(bare.port, "/register", count))
    if postgres:
        best = on_both_engines(lambda engine: measure_taiwa(count, seats, engine), 1 if quick else 2,
                               lambda run: run["checked"]["exact"], lambda run: run["throughput"], higher_is_better=True)
        taiwa, pg = best["sqlite"], best["postgres"]
    else:
        taiwa = measure_taiwa(count, seats)
    correct = taiwa["checked"]["exact"]
    r = ratio(taiwa["throughput"], base["throughput"])
    registration = Outcome(
        scenario="registration", title=f"5. Registration burst ({count:,} concurrent, {seats} seats, JSON API)",
        figures=_figures(taiwa),
        goal=f"exactly {seats} confirmed; ≥ 300 registrations/s", met=correct and taiwa["throughput"] >= 300,
        baseline=(f"bare uvicorn ASGI JSON POST → 201: p50 {ms(base['p50'])} / p95 {ms(base['p95'])} / "
                  f"p99 {ms(base['p99'])} ms; {base['throughput']:.0f} requests/s"),
        ratio=f"throughput {r:.2f}×", rss=rss_per_100(taiwa["rss_kb"], count), correct=correct,
        checks=_checks(taiwa["checked"], count, seats), profile=str(taiwa["profile"] or ""))
    if not postgres:
        return [registration]
    return [registration, postgres_outcome(
        registration, figures=_figures(pg), metric="throughput", value=pg["throughput"],
        sqlite_value=taiwa["throughput"], sqlite_figures=_figures(taiwa), rss=rss_per_100(pg["rss_kb"], count),
        correct=pg["checked"]["exact"], checks=_checks(pg["checked"], count, seats, "in PostgreSQL"),
        profile=pg["profile"], higher_is_better=True)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    outcomes = scenario(quick=args.quick)
    print("\n".join(outcome.row() for outcome in outcomes))
    return 0 if all(outcome.correct for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
