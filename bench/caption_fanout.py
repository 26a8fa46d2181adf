"""Caption fan-out: two typists relaying on one caption stream, watched by N viewers.

Measures, for Taiwa (each line committed to SQLite before it is acknowledged and sent) and for a
bare python-socketio broadcast server in the same run, the time from sending a committed line to
every viewer's `caption`, loss and duplicates, and checks the lines on disk afterwards.
Usage: python -m bench.caption_fanout [--viewers 200] [--rate 4] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (Outcome, bare_server, disconnect_all, ms, ratio, read_db, rss_per_100, summary,
                          taiwa_server, write_profile)

NS = "/captions"


async def prepare_captions(db_path: Path) -> tuple[str, list[str]]:
    """A published session with captions switched on and two captioner links, before the server starts."""
    from datetime import datetime, timedelta

    from realtime import caption_store
    from server.core.database import Database
    from sessions import scheduling, store
    from sessions.models import SessionInput

    db = Database(db_path)
    await db.open()
    async with db.transaction() as conn:
        org = await store.create_org(conn, slug="bench", name="ベンチマーク")
    start = datetime.now() + timedelta(days=7)
    session_id = (await scheduling.create_sessions(db, org, SessionInput(
        title="字幕の負荷試験", kind="forum", format="online", online_url="https://meet.example.jp/c",
        capacity_online=1000, starts_at=start, ends_at=start + timedelta(hours=2),
        status="published")))[0]
    now = datetime.now().isoformat()
    async with db.transaction() as conn:
        stream = await caption_store.create_stream(conn, session_id, now)
        tokens = [(await caption_store.add_captioner(conn, stream.id, f"typist {n}", now))[1] for n in (1, 2)]
    await db.close()
    return stream.code, tokens


async def run_load(url: str, viewer_auth: dict[str, Any], typist_auths: list[dict[str, Any]], viewers: int,
                   rate: float, seconds: float) -> dict[str, Any]:
    """Connect viewers and typists; typists send lines at `rate`/s in turn; collect every viewer's deliveries."""
    import socketio

    received: dict[tuple[int, str], float] = {}
    duplicates = 0

    def on_caption(index: int):
        async def handler(message: dict[str, Any]) -> None:
            nonlocal duplicates
            text = (message.get("data") or {}).get("text") or ""
            if text.startswith("bench-"):
                if (index, text) in received:
                    duplicates += 1
                else:
                    received[(index, text)] = time.perf_counter()
        return handler

    async def connect(auth: dict[str, Any], handler: Any = None) -> Any:
        client = socketio.AsyncClient(reconnection=False)
        if handler is not None:
            client.on("caption", handler, namespace=NS)
        await client.connect(url, namespaces=[NS], auth=auth, transports=["websocket"], wait_timeout=60)
        return client

    audience = []
    for start in range(0, viewers, 50):
        audience += await asyncio.gather(*(connect(viewer_auth, on_caption(i))
                                           for i in range(start, min(viewers, start + 50))))
    typists = [await connect(auth) for auth in typist_auths]
    await asyncio.sleep(1)
    sent: dict[str, float] = {}
    acked = 0

    async def send(index: int) -> None:
        nonlocal acked
        text = f"bench-{index} ただいまの発言を要約しています"
        sent[text.split()[0]] = time.perf_counter()
        try:
            answer = await typists[index % len(typists)].call("caption:line", {"op": f"op-{index}", "text": text},
                                                                namespace=NS, timeout=60)
        except Exception:  # noqa: BLE001 - a timed-out ack counts as not acknowledged
            answer = None
        acked += bool(answer and answer.get("ok"))

    total = int(rate * seconds)
    began = time.perf_counter()
    tasks = []
    for index in range(total):
        tasks.append(asyncio.create_task(send(index)))
        await asyncio.sleep(max(0.0, began + (index + 1) / rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    expected = total * viewers
    deadline = time.perf_counter() + 15
    while len(received) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.2)
    latencies = [(at - sent[text.split()[0]]) * 1000 for (_index, text), at in received.items()]
    await disconnect_all(audience + typists)
    return {"sent": total, "acked": acked, "expected": expected, "delivered": len(latencies),
            "lost": expected - len(latencies), "duplicates": duplicates, **summary(latencies)}


def measure_bare(viewers: int, rate: float, seconds: float) -> dict[str, Any]:
    with bare_server("bare-captions") as bare:
        result = asyncio.run(run_load(bare.base, {}, [{}, {}], viewers, rate, seconds))
        result["rss_kb"] = bare.sample_rss()
    return result


def measure_taiwa(viewers: int, rate: float, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.sqlite3"
        code, tokens = asyncio.run(prepare_captions(db_path))
        server = taiwa_server(db_path, "captions")
        with server:
            result = asyncio.run(run_load(server.base, {"code": code}, [{"code": code, "token": t} for t in tokens],
                                          viewers, rate, seconds))
            result["rss_kb"] = server.sample_rss()
        result["persisted"] = read_db(db_path, "select count(*) from caption_lines where text like 'bench-%'")[0][0]
        result["profile"] = write_profile(server.profile, "captions")
    return result


def figures(r: dict[str, Any]) -> str:
    return f"p50 {ms(r['p50'])} / p95 {ms(r['p95'])} / p99 {ms(r['p99'])} ms; lost {r['lost']} of {r['expected']}"


def scenario(quick: bool = False) -> list[Outcome]:
    """Caption fan-out against a bare broadcast of the same lines to the same viewers, same run."""
    viewers, rate, seconds = (50, 4, 3) if quick else (200, 4, 10)
    base = measure_bare(viewers, rate, seconds)
    taiwa = measure_taiwa(viewers, rate, seconds)
    correct = (taiwa["lost"] == 0 and taiwa["duplicates"] == 0 and taiwa["acked"] == taiwa["sent"]
               and taiwa["persisted"] == taiwa["sent"])
    r = ratio(taiwa["p95"], base["p95"])
    return [Outcome(
        scenario="captions",
        title=f"9. Caption fan-out (2 typists, {viewers} viewers, {rate:g} lines/s × {seconds:g} s, persisted)",
        figures=figures(taiwa), goal="0 lost; p95 ≤ 1.3× baseline p95", met=correct and r <= 1.3,
        baseline=f"bare python-socketio room broadcast: {figures(base)}", ratio=f"p95 {r:.2f}×",
        rss=rss_per_100(taiwa["rss_kb"], viewers), correct=correct,
        checks=(f"lost {taiwa['lost']}, duplicates {taiwa['duplicates']}, acked {taiwa['acked']}/{taiwa['sent']}, "
                f"on disk {taiwa['persisted']}/{taiwa['sent']}"),
        profile=str(taiwa["profile"] or ""))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=4)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    base = measure_bare(args.viewers, args.rate, args.seconds)
    taiwa = measure_taiwa(args.viewers, args.rate, args.seconds)
    print(f"bare: {figures(base)}\ntaiwa: {figures(taiwa)}\np95 ratio {ratio(taiwa['p95'], base['p95']):.2f}×")
    return 0 if taiwa["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
