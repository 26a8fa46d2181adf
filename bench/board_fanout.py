"""Board fan-out: N participants on one board while notes are added at R per second.

Measures, for Taiwa and for a bare python-socketio broadcast server in the same run, the delivery
latency (send → every other client's `event`), loss (deliveries expected minus received) and the
server's peak memory. Usage: python -m bench.board_fanout [--participants 500] [--rate 20] [--seconds 10]
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
from pathlib import Path
from typing import Any

import httpx
import socketio

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def peak_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


async def prepare_taiwa(db_path: Path, participants: int) -> tuple[int, list[str], str]:
    """A session, a board and N participant tokens, written before the server starts."""
    sys.path.insert(0, str(ROOT))
    from datetime import datetime, timedelta

    from realtime import store as board_store
    from server import accounts
    from server.database import Database
    from sessions import scheduling, store
    from sessions.models import SessionInput

    db = Database(db_path)
    await db.open()
    async with db.transaction() as conn:
        org = await store.create_org(conn, slug="bench", name="ベンチマーク")
        await accounts.create_account(conn, org_id=org, email="bench@example.jp", password="bench-password-1",
                                      role="organizer")
    start = datetime.now() + timedelta(days=7)
    session_id = (await scheduling.create_sessions(db, org, SessionInput(
        title="負荷試験", kind="workshop", format="online", online_url="https://meet.example.jp/b", capacity_online=1000,
        starts_at=start, ends_at=start + timedelta(hours=2), status="published")))[0]
    tokens = []
    async with db.transaction() as conn:
        board_id = await board_store.create_board(conn, session_id=session_id, org_id=org, title="負荷試験",
                                                  prompts=["アイデア"], colors=None, vote_budget=5,
                                                  max_votes_per_note=3, anonymous=False, private_writing=False)
        for index in range(participants):
            _pid, token = await board_store.add_participant(conn, board_id, f"参加者{index}", "online")
            tokens.append(token)
    await db.close()
    return board_id, tokens, "z1"


async def run_load(url: str, auths: list[dict[str, Any]], rate: float, seconds: float,
                   note: dict[str, Any]) -> dict[str, Any]:
    """Connect everyone, send notes from the first client at `rate`/s, collect deliveries."""
    received: dict[str, list[float]] = {}
    clients = []

    def on_event(index: int):
        async def handler(event: dict[str, Any]) -> None:
            text = ((event.get("data") or {}).get("text")) or ""
            if text.startswith("bench-"):
                received.setdefault(text, []).append(time.perf_counter())
        return handler

    async def connect(index: int, auth: dict[str, Any]) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)
        client.on("event", on_event(index), namespace="/board")
        await client.connect(url, namespaces=["/board"], auth=auth, transports=["websocket"], wait_timeout=30)
        return client

    for start in range(0, len(auths), 50):
        clients += await asyncio.gather(*(connect(i, a) for i, a in enumerate(auths[start:start + 50], start)))
    await asyncio.sleep(1)
    sent: dict[str, float] = {}
    acked = 0
    sender = clients[0]

    async def send(index: int) -> None:
        nonlocal acked
        text = f"bench-{index}"
        sent[text] = time.perf_counter()
        answer = await sender.call("note:add", {**note, "op": f"op-{index}", "text": text}, namespace="/board",
                                   timeout=30)
        acked += bool(answer and answer.get("ok"))

    tasks = []
    total = int(rate * seconds)
    began = time.perf_counter()
    for index in range(total):
        tasks.append(asyncio.create_task(send(index)))
        await asyncio.sleep(max(0.0, began + (index + 1) / rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    await asyncio.sleep(3)  # let the last deliveries arrive
    latencies = [(at - sent[text]) * 1000 for text, times in received.items() for at in times if text in sent]
    expected = total * len(clients)
    for client in clients:
        await client.disconnect()
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {"sent": total, "acked": acked, "expected": expected, "delivered": len(latencies),
            "lost": expected - len(latencies), "p50": quantiles[49], "p95": quantiles[94], "p99": quantiles[98]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    env = {**os.environ, "TAIWA_RATE_LIMITS": "off"}
    rows = []

    # baseline
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-m", "bench.bare_server", str(port)], cwd=ROOT, env=env)
    try:
        wait_for(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", bare)
        result = asyncio.run(run_load(f"http://127.0.0.1:{port}", [{}] * args.participants, args.rate, args.seconds,
                                      {"zone": "z1"}))
        result["rss_mb"] = peak_rss_kb(bare.pid) / 1024
        rows.append(("bare python-socketio", result))
    finally:
        bare.terminate()
        bare.wait()

    # Taiwa
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.sqlite3"
        board_id, tokens, zone = asyncio.run(prepare_taiwa(db_path, args.participants))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--db", str(db_path), "--port",
                                   str(port)], cwd=ROOT, env={**env, "TAIWA_BASE_URL": base},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(base + "/", server)
            result = asyncio.run(run_load(base, [{"token": t} for t in tokens], args.rate, args.seconds,
                                          {"zone": zone}))
            result["rss_mb"] = peak_rss_kb(server.pid) / 1024
            rows.append(("Taiwa board (persisted)", result))
        finally:
            server.terminate()
            server.wait()

    base_p95 = rows[0][1]["p95"] or 1
    lines = [f"## Board fan-out: {args.participants} participants, {args.rate:g} notes/s for {args.seconds:g} s", "",
             "| server | sent | acked | deliveries expected | lost | p50 ms | p95 ms | p99 ms | p95 vs bare | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['sent']} | {r['acked']} | {r['expected']} | {r['lost']} | {r['p50']:.1f} | "
                     f"{r['p95']:.1f} | {r['p99']:.1f} | {r['p95'] / base_p95:.2f}× | {r['rss_mb']:.0f} |")
    report = "\n".join(lines) + "\n"
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "board_fanout.md").write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
