"""Poll burst: N participants answer one open poll at once.

Reports acks received and ack latency percentiles, and checks the tally is exact.
Usage: python -m bench.poll_burst [--participants 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import socketio

from bench.board_fanout import RESULTS, ROOT, free_port, peak_rss_kb, prepare_taiwa, wait_for


async def burst(base: str, tokens: list[str], api_token: str, board_id: int) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        created = await http.post(f"/api/boards/{board_id}/polls", headers={"Authorization": f"Bearer {api_token}"},
                                  json={"type": "single_choice", "question": "どれを優先しますか",
                                        "options": ["公共交通", "子育て支援", "防災"], "open": True})
        poll = created.json()
    clients = []
    for start in range(0, len(tokens), 50):
        batch = []
        for token in tokens[start:start + 50]:
            client = socketio.AsyncClient(reconnection=False)
            batch.append(client.connect(base, namespaces=["/board"], auth={"token": token}, transports=["websocket"],
                                        wait_timeout=30))
            clients.append(client)
        await asyncio.gather(*batch)
    latencies: list[float] = []
    acked = 0
    sent = {"o1": 0, "o2": 0, "o3": 0}

    async def answer(index: int, client: socketio.AsyncClient) -> None:
        nonlocal acked
        choice = ("o1", "o2", "o3")[index % 3]
        sent[choice] += 1
        began = time.perf_counter()
        reply = await client.call("poll:answer", {"op": f"a{index}", "poll": poll["id"], "choice": choice},
                                  namespace="/board", timeout=30)
        latencies.append((time.perf_counter() - began) * 1000)
        acked += bool(reply and reply.get("ok"))

    began = time.perf_counter()
    await asyncio.gather(*(answer(i, c) for i, c in enumerate(clients)))
    elapsed = time.perf_counter() - began
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        results = (await http.get(f"/api/polls/{poll['id']}/results",
                                  headers={"Authorization": f"Bearer {api_token}"})).json()
    for client in clients:
        await client.disconnect()
    q = statistics.quantiles(latencies, n=100)
    return {"answers": len(clients), "acked": acked, "elapsed": elapsed, "p50": q[49], "p95": q[94], "p99": q[98],
            "exact": results["counts"] == sent and results["total"] == len(clients)}


async def api_token_for(db_path: Path) -> str:
    sys.path.insert(0, str(ROOT))
    from server import accounts
    from server.database import Database

    db = Database(db_path)
    await db.open()
    account = await accounts.get_account_by_email(db, "bench@example.jp")
    async with db.transaction() as conn:
        token = await accounts.create_api_token(conn, account.id)  # type: ignore[union-attr]
    await db.close()
    return token


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.sqlite3"
        board_id, tokens, _zone = asyncio.run(prepare_taiwa(db_path, args.participants))
        api_token = asyncio.run(api_token_for(db_path))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--db", str(db_path), "--port",
                                   str(port)], cwd=ROOT, env={**os.environ, "TAIWA_RATE_LIMITS": "off",
                                                              "TAIWA_BASE_URL": base},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(base + "/", server)
            result = asyncio.run(burst(base, tokens, api_token, board_id))
            rss = peak_rss_kb(server.pid) / 1024
        finally:
            server.terminate()
            server.wait()
    report = (f"## Poll burst: {result['answers']} participants answer one poll\n\n"
              "| answers | acked | tally exact | wall s | p50 ms | p95 ms | p99 ms | peak RSS MB |\n"
              "|---|---|---|---|---|---|---|---|\n"
              f"| {result['answers']} | {result['acked']} | {'yes' if result['exact'] else 'NO'} | {result['elapsed']:.2f} "
              f"| {result['p50']:.1f} | {result['p95']:.1f} | {result['p99']:.1f} | {rss:.0f} |\n")
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "poll_burst.md").write_text(report, encoding="utf-8")
    return 0 if result["exact"] and result["acked"] == result["answers"] else 1


if __name__ == "__main__":
    sys.exit(main())
