"""Board fan-out: N participants on one board while notes are added at R per second.

Measures, for Taiwa and for a bare python-socketio broadcast server in the same run, the delivery
latency (send → every client's `event`, the sender's own included), loss (deliveries expected
minus distinct deliveries received) and the server's peak memory. With `postgres=True` Taiwa runs
the same load on SQLite and on PostgreSQL (twice each, in ABBA order), and the best runs are compared.
Usage: python -m bench.board_fanout [--participants 500] [--rate 20] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import (RESULTS, ROOT, Outcome, Server, api_token_for, bare_server, connect_clients,  # noqa: F401
                          disconnect_all, engine_suffix, free_port, ms, on_both_engines, peak_rss_kb, postgres_outcome,
                          prepare_taiwa, ratio, rss_per_100, scratch_database, summary, taiwa_server, wait_for,
                          write_profile)


async def run_load(url: str | list[str], auths: list[dict[str, Any]], rate: float, seconds: float,
                   note: dict[str, Any], senders: int = 1, settle: float = 3.0) -> dict[str, Any]:
    """Connect everyone, send notes at `rate`/s round-robin from the first `senders` clients, collect deliveries."""
    urls = [url] if isinstance(url, str) else url
    received: dict[tuple[int, str], float] = {}
    duplicates = 0

    def on_event(index: int):
        async def handler(event: dict[str, Any]) -> None:
            nonlocal duplicates
            text = ((event.get("data") or {}).get("text")) or ""
            if text.startswith("bench-"):
                if (index, text) in received:
                    duplicates += 1
                else:
                    received[(index, text)] = time.perf_counter()
        return handler

    clients = await connect_clients(urls, auths, [on_event(i) for i in range(len(auths))])
    await asyncio.sleep(1)
    sent: dict[str, float] = {}
    acked = 0

    async def send(index: int) -> None:
        nonlocal acked
        text = f"bench-{index}"
        sender = clients[index % senders]
        sent[text] = time.perf_counter()
        try:
            answer = await sender.call("note:add", {**note, "op": f"op-{index}", "text": text}, namespace="/board",
                                       timeout=60)
        except Exception:  # noqa: BLE001 - a timed-out ack counts as not acknowledged
            answer = None
        acked += bool(answer and answer.get("ok"))

    tasks = []
    total = int(rate * seconds)
    began = time.perf_counter()
    for index in range(total):
        tasks.append(asyncio.create_task(send(index)))
        await asyncio.sleep(max(0.0, began + (index + 1) / rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    expected = total * len(clients)
    deadline = time.perf_counter() + settle + 10
    await asyncio.sleep(settle)  # let the last deliveries arrive (wait longer while they still come)
    while len(received) < expected and time.perf_counter() < deadline:
        before = len(received)
        await asyncio.sleep(1)
        if len(received) == before:
            break
    elapsed = time.perf_counter() - began
    latencies = [(at - sent[text]) * 1000 for (_index, text), at in received.items() if text in sent]
    await disconnect_all(clients)
    return {"sent": total, "acked": acked, "expected": expected, "delivered": len(latencies),
            "lost": expected - len(latencies), "duplicates": duplicates, "clients": len(clients),
            "throughput": len(latencies) / elapsed, **summary(latencies)}


def measure_bare(participants: int, rate: float, seconds: float, name: str = "bare-fanout") -> dict[str, Any]:
    with bare_server(name) as bare:
        result = asyncio.run(run_load(bare.base, [{}] * participants, rate, seconds, {"zone": "z1"}))
        result["rss_kb"] = bare.sample_rss()
    return result


def measure_taiwa(participants: int, rate: float, seconds: float, name: str = "fanout",
                  engine: str = "sqlite") -> dict[str, Any]:
    name += engine_suffix(engine)
    with scratch_database(engine) as db_path:
        board_id, tokens, zone = asyncio.run(prepare_taiwa(db_path, participants))
        server = taiwa_server(db_path, name)
        with server:
            result = asyncio.run(run_load(server.base, [{"token": t} for t in tokens], rate, seconds, {"zone": zone}))
            result["rss_kb"] = server.sample_rss()
        result["persisted"] = _notes_logged(db_path, board_id)
        result["profile"] = write_profile(server.profile, name)
    return result


def _notes_logged(db_path: Path | str, board_id: int) -> int:
    from bench.common import read_db

    return read_db(db_path, "select count(*) from board_events where board_id = ? and type = 'note:added'",
                   (board_id,))[0][0]


def figures(r: dict[str, Any]) -> str:
    return (f"p50 {ms(r['p50'])} / p95 {ms(r['p95'])} / p99 {ms(r['p99'])} ms; {r['throughput']:.0f} deliveries/s; "
            f"lost {r['lost']} of {r['expected']}")


def _correct(taiwa: dict[str, Any]) -> bool:
    return (taiwa["lost"] == 0 and taiwa["duplicates"] == 0 and taiwa["acked"] == taiwa["sent"]
            and taiwa["persisted"] == taiwa["sent"])


def _checks(taiwa: dict[str, Any]) -> str:
    return (f"lost {taiwa['lost']}, duplicates {taiwa['duplicates']}, acked {taiwa['acked']}/{taiwa['sent']}, "
            f"in the log {taiwa['persisted']}/{taiwa['sent']}")


def scenario(quick: bool = False, postgres: bool = False) -> list[Outcome]:
    """The baseline row (bare broadcast server) and fan-out against it, same load, same run; with
    `postgres`, the same fan-out on PostgreSQL against the SQLite one."""
    participants, rate, seconds = (50, 10, 3) if quick else (500, 20, 10)
    base = measure_bare(participants, rate, seconds)
    if postgres:
        best = on_both_engines(lambda engine: measure_taiwa(participants, rate, seconds, engine=engine),
                               1 if quick else 2, _correct, lambda run: run["p95"])
        taiwa, pg = best["sqlite"], best["postgres"]
    else:
        taiwa = measure_taiwa(participants, rate, seconds)
    correct = _correct(taiwa)
    r = ratio(taiwa["p95"], base["p95"])
    bare_ok = base["lost"] == 0 and base["acked"] == base["sent"]
    baseline = Outcome(
        scenario="baseline", title=f"1. Baseline: bare python-socketio room broadcast ({participants} clients, same load)",
        figures=figures(base), goal="reference for 2", met=True, baseline="–", ratio="1.00×",
        rss=rss_per_100(base["rss_kb"], participants), correct=True,
        checks=f"lost {base['lost']}, acked {base['acked']}/{base['sent']}" + ("" if bare_ok else " (the baseline lost)"))
    fanout = Outcome(
        scenario="fanout", title=f"2. Board fan-out ({participants} participants, {rate:g} notes/s × {seconds:g} s, persisted)",
        figures=figures(taiwa), goal="0 lost; p95 ≤ 1.3× baseline p95", met=correct and r <= 1.3,
        baseline=f"bare python-socketio room broadcast: {figures(base)}", ratio=f"p95 {r:.2f}×",
        rss=rss_per_100(taiwa["rss_kb"], participants), correct=correct, checks=_checks(taiwa),
        profile=str(taiwa["profile"] or ""))
    if not postgres:
        return [baseline, fanout]
    return [baseline, fanout, postgres_outcome(
        fanout, figures=figures(pg), metric="p95", value=pg["p95"], sqlite_value=taiwa["p95"],
        sqlite_figures=figures(taiwa), rss=rss_per_100(pg["rss_kb"], participants), correct=_correct(pg),
        checks=_checks(pg) + " (read back from PostgreSQL)", profile=pg["profile"])]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    rows = [("bare python-socketio", measure_bare(args.participants, args.rate, args.seconds)),
            ("Taiwa board (persisted)", measure_taiwa(args.participants, args.rate, args.seconds))]
    base_p95 = rows[0][1]["p95"] or 1
    lines = [f"## Board fan-out: {args.participants} participants, {args.rate:g} notes/s for {args.seconds:g} s", "",
             "| server | sent | acked | deliveries expected | lost | p50 ms | p95 ms | p99 ms | p95 vs bare | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['sent']} | {r['acked']} | {r['expected']} | {r['lost']} | {r['p50']:.1f} | "
                     f"{r['p95']:.1f} | {r['p99']:.1f} | {r['p95'] / base_p95:.2f}× | {r['rss_kb'] / 1024:.0f} |")
    report = "\n".join(lines) + "\n"
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "board_fanout.md").write_text(report, encoding="utf-8")
    return 0 if rows[1][1]["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
