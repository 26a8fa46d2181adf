"""What every benchmark scenario shares: ports, server processes (Taiwa, the bare baseline,
redis-server), scratch databases (SQLite files, or databases in a throwaway PostgreSQL cluster),
a prepared board, percentiles, peak memory, report rows and optional profiling.

The load generators run in the bench process; every server runs in its own subprocess, so the
two never share an interpreter. Absolute times drift on shared machines: each scenario measures
its baseline in the same run and reports the ratio.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
SECRET = "bench-secret-" + "x" * 24
PROFILE: dict[str, bool] = {"on": False}  # set by `python -m bench --profile`
POSTGRES_GOAL = 1.3  # PostgreSQL within 1.3× of SQLite on every scenario (issue 13)
_CLUSTER: dict[str, Any] = {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    """Poll `url` until it answers (any status) or the process exits."""
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
    """VmHWM of one process, in kB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2:].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def tree_peak_rss_kb(pid: int) -> int:
    """Summed VmHWM of the Python processes in a process tree (uvicorn's supervisor and workers);
    a profiler wrapping the server is left out."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += _children(current)
        try:
            name = Path(f"/proc/{current}/comm").read_text().strip()
        except OSError:
            continue
        if "py-spy" not in name:
            total += peak_rss_kb(current)
    return total


def summary(latencies: list[float]) -> dict[str, float]:
    """p50/p95/p99 in ms (zeros when there is nothing to summarise)."""
    if len(latencies) < 2:
        value = latencies[0] if latencies else 0.0
        return {"p50": value, "p95": value, "p99": value}
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"p50": q[49], "p95": q[94], "p99": q[98]}


def ratio(value: float, base: float) -> float:
    return value / base if base > 0 else float("nan")


# --- servers ---------------------------------------------------------------------------------

def _profiled(command: list[str], name: str, folder: Path) -> tuple[list[str], Path | None]:
    """Wrap a server command in a sampling profiler when --profile is on (py-spy, else pyinstrument)."""
    if not PROFILE["on"]:
        return command, None
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if Path(spy).exists():
        out = folder / f"profile-{name}.raw"
        return [spy, "record", "--format", "raw", "--subprocesses", "--rate", "200", "-o", str(out), "--", *command], out
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        return command, None
    out = folder / f"profile-{name}.pyi.txt"
    return [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(out), *command[1:]], out


def write_profile(raw: Path | None, scenario: str, top: int = 30) -> Path | None:
    """Summarise a profile into bench/results/profile-<scenario>.txt: functions by own samples and
    by inclusive samples (py-spy's collapsed stacks), or pyinstrument's text report as is."""
    if raw is None or not raw.exists():
        return None
    target = RESULTS / f"profile-{scenario}.txt"
    if raw.suffix == ".txt":
        target.write_text(raw.read_text(errors="replace"), encoding="utf-8")
        return target
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if f and not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    lines = [f"# Profile of the server during {scenario} (py-spy, {total} samples)", "",
             "## Own time (the function itself)", ""]
    lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)] if total else []
    lines += ["", "## Inclusive time (the function and what it calls), leaving out the event loop's frames", ""]
    skip = ("asyncio/", "uvicorn/", "<module>", "run (", "_run_once", "run_forever", "run_until_complete", "runpy",
            "importlib", "threading.py", "server/cli.py", "concurrent/futures/thread.py")
    shown = [(f, n) for f, n in inclusive.most_common() if not any(s in f for s in skip)][:top]
    lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in shown] if total else []
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


@dataclass
class Server:
    """A server subprocess (Taiwa, the bare baseline) on its own port, logging to a file."""

    command: list[str]
    name: str
    env: dict[str, str] = field(default_factory=dict)
    ready_path: str = "/"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    profile: Path | None = None
    peak_kb: int = 0

    def __post_init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=f"taiwa-bench-{self.name}-"))
        self.log_path = self.folder / "server.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        command = [part.replace("{port}", str(self.port)) for part in self.command]
        command, self.profile = _profiled(command, self.name, self.folder)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **self.env}, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(self.base + self.ready_path, self.process, seconds=90)
        except RuntimeError as error:
            self.stop()
            raise RuntimeError(f"{self.name}: {error}\n{self.log()[-3000:]}") from None
        return self

    def sample_rss(self) -> int:
        """Remember the process tree's peak RSS (call while it still runs, before stop)."""
        if self.process is not None:
            self.peak_kb = max(self.peak_kb, tree_peak_rss_kb(self.process.pid))
        return self.peak_kb

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.sample_rss()
        # SIGINT: uvicorn (and its worker supervisor) shut down cleanly; a profiler writes its file
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=60 if self.profile else 20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def taiwa_server(db_path: Path, name: str, *, workers: int = 1, redis_url: str | None = None,
                 env: dict[str, str] | None = None, ready_path: str = "/static/css/taiwa.css") -> Server:
    """`taiwa serve` on a prepared database, rate limits off, optionally several workers + Redis."""
    command = [sys.executable, "-m", "server.cli", "serve", "--db", str(db_path), "--port", "{port}"]
    if workers > 1:
        command += ["--workers", str(workers)]
    extra = {"TAIWA_RATE_LIMITS": "off", "TAIWA_SECRET": SECRET, "TAIWA_REGISTRATIONS_PER_CLIENT": "1000000",
             **(env or {})}
    if redis_url:
        extra["TAIWA_REDIS_URL"] = redis_url
    server = Server(command, name, env=extra, ready_path=ready_path)
    server.env["TAIWA_BASE_URL"] = server.base
    return server


def bare_server(name: str) -> Server:
    """The baseline: bench/bare_server.py (python-socketio room broadcast + acks + a JSON endpoint)."""
    return Server([sys.executable, "-m", "bench.bare_server", "{port}"], name, ready_path="/health")


class Redis:
    """A real redis-server on a free port, nothing written to disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="taiwa-bench-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> Redis:
        self.process = subprocess.Popen([REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no", "--dir", str(self.folder)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


# --- databases -------------------------------------------------------------------------------

def postgres_cluster() -> Any:
    """The bench's PostgreSQL cluster (tests/pg_cluster.py, Debian's binaries), started on first use with
    fsync on as in production and removed when the bench exits."""
    if "cluster" not in _CLUSTER:
        from tests.pg_cluster import Cluster

        cluster = _CLUSTER["cluster"] = Cluster(durable=True)
        atexit.register(cluster.remove)
    return _CLUSTER["cluster"]


def postgres_version() -> str:
    return postgres_cluster().psql("show server_version").strip()


@contextmanager
def scratch_database(engine: str = "sqlite") -> Iterator[Path | str]:
    """A new empty database for one measurement: a SQLite file in a temporary folder, or a new
    database in the bench's PostgreSQL cluster (a postgresql:// URL). Both go to `taiwa serve --db`."""
    if engine == "postgres":
        yield postgres_cluster().create_database()
        return
    with tempfile.TemporaryDirectory(prefix="taiwa-bench-") as tmp:
        yield Path(tmp) / "bench.sqlite3"


def on_both_engines(measure: Any, rounds: int, correct: Any, figure: Any,
                    higher_is_better: bool = False) -> dict[str, Any]:
    """Run `measure(engine)` `rounds` times on each engine in ABBA order (SQLite, PostgreSQL, PostgreSQL,
    SQLite…), so drift on a shared machine hits both alike. Each engine's result is its best run by
    `figure`, unless a run is incorrect (`correct(run)` false): then that run, so the report shows it."""
    order: list[str] = []
    for n in range(rounds):
        order += ["sqlite", "postgres"] if n % 2 == 0 else ["postgres", "sqlite"]
    runs: dict[str, list[Any]] = {"sqlite": [], "postgres": []}
    for engine in order:
        runs[engine].append(measure(engine))
    pick = max if higher_is_better else min
    return {engine: next((run for run in found if not correct(run)), None) or pick(found, key=figure)
            for engine, found in runs.items()}


def engine_suffix(engine: str) -> str:
    """How a measurement on `engine` is named (servers, profiles): nothing for SQLite, "-postgres"."""
    return "" if engine == "sqlite" else f"-{engine}"


# --- data ------------------------------------------------------------------------------------

async def prepare_taiwa(db_path: Path | str, participants: int) -> tuple[int, list[str], str]:
    """A session, a board and N participant tokens, written before the server starts."""
    from datetime import datetime, timedelta

    from realtime import store as board_store
    from server.auth import accounts
    from server.core.database import open_database
    from sessions import scheduling, store
    from sessions.models import SessionInput

    db = open_database(db_path)
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


async def api_token_for(db_path: Path | str, email: str = "bench@example.jp") -> str:
    """A fresh organizer API token (facilitator rights on the organizer's boards)."""
    from server.auth import accounts
    from server.core.database import open_database

    db = open_database(db_path)
    await db.open()
    account = await accounts.get_account_by_email(db, email)
    async with db.transaction() as conn:
        token = await accounts.create_api_token(conn, account.id)  # type: ignore[union-attr]
    await db.close()
    return token


@dataclass
class BurstRun:
    """A burst measured on the bare baseline and on Taiwa, with what reached Taiwa's board log on disk."""

    base: dict[str, Any]
    taiwa: dict[str, Any]
    rss: int
    logged: list[tuple[Any, ...]]
    profile: Path | None


def run_burst(name: str, participants: int, bare: Any, taiwa: Any, event_type: str) -> BurstRun:
    """Run `bare(base_url, participants)` on the bare server, then `taiwa(base_url, tokens, api_token, board)`
    on Taiwa with a fresh board of `participants`; read back the `event_type` rows of its log."""
    return taiwa_burst(name, participants, taiwa, event_type, base=bare_burst(name, participants, bare))


def bare_burst(name: str, participants: int, bare: Any) -> dict[str, Any]:
    """The baseline half of run_burst: `bare(base_url, participants)` on the bare server."""
    with bare_server(f"bare-{name}") as server:
        return asyncio.run(bare(server.base, participants))


def taiwa_burst(name: str, participants: int, taiwa: Any, event_type: str, engine: str = "sqlite",
                base: dict[str, Any] | None = None) -> BurstRun:
    """The Taiwa half of run_burst, on a scratch database of `engine`."""
    name += engine_suffix(engine)
    with scratch_database(engine) as db_path:
        board_id, tokens, _zone = asyncio.run(prepare_taiwa(db_path, participants))
        api_token = asyncio.run(api_token_for(db_path))
        server = taiwa_server(db_path, name)
        with server:
            result = asyncio.run(taiwa(server.base, tokens, api_token, board_id))
            rss = server.sample_rss()
        logged = read_db(db_path, "select data from board_events where board_id = ? and type = ?",
                         (board_id, event_type))
        profile = write_profile(server.profile, name)
    return BurstRun(base or {}, result, rss, logged, profile)


def read_db(db_path: Path | str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows read straight from the SQLite file, or from the PostgreSQL database with asyncpg, after the
    server stopped: what is durable. Deliberately not the app's engine (an independent reader checks
    it), so the SQL's `?` parameters are numbered here."""
    if isinstance(db_path, str) and db_path.startswith("postgresql://"):
        return asyncio.run(_read_postgres(db_path, sql, params))
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


async def _read_postgres(url: str, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    import asyncpg

    numbered = sql.split("?")
    sql = numbered[0] + "".join(f"${n}{part}" for n, part in enumerate(numbered[1:], 1))
    conn = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await conn.fetch(sql, *params)]
    finally:
        await conn.close()


# --- socket.io load ---

async def connect_clients(urls: list[str], auths: list[dict[str, Any]], handlers: list[Any] | None = None,
                          batch: int = 50) -> list[Any]:
    """Connect everyone over WebSocket, `batch` at a time; client i goes to urls[i % len(urls)]."""
    import socketio

    clients: list[socketio.AsyncClient] = []

    async def connect(index: int, auth: dict[str, Any]) -> Any:
        client = socketio.AsyncClient(reconnection=False)
        if handlers:
            client.on("event", handlers[index], namespace="/board")
        await client.connect(urls[index % len(urls)], namespaces=["/board"], auth=auth, transports=["websocket"],
                             wait_timeout=60)
        return client

    for start in range(0, len(auths), batch):
        clients += await asyncio.gather(*(connect(i, a) for i, a in enumerate(auths[start:start + batch], start)))
    return clients


async def disconnect_all(clients: list[Any]) -> None:
    await asyncio.gather(*(client.disconnect() for client in clients), return_exceptions=True)


async def ack_burst(clients: list[Any], calls: list[tuple[int, float, str, dict[str, Any]]]) -> dict[str, Any]:
    """Send each (client index, at seconds from now, event, payload) on time; ack latencies and failures."""
    latencies: list[float] = []
    failures: list[Any] = []
    began = time.perf_counter()

    async def call(index: int, at: float, event: str, payload: dict[str, Any]) -> None:
        await asyncio.sleep(max(0.0, began + at - time.perf_counter()))
        start = time.perf_counter()
        try:
            reply = await clients[index].call(event, payload, namespace="/board", timeout=60)
        except Exception as error:  # noqa: BLE001 - a lost ack is a failure, reported
            reply = {"ok": False, "error": repr(error)}
        latencies.append((time.perf_counter() - start) * 1000)
        if not (reply and reply.get("ok")):
            failures.append(reply)

    await asyncio.gather(*(call(*item) for item in calls))
    elapsed = time.perf_counter() - began
    return {"sent": len(calls), "acked": len(calls) - len(failures), "failures": failures[:5], "elapsed": elapsed,
            "throughput": len(calls) / elapsed, **summary(latencies)}


# --- report ----------------------------------------------------------------------------------

@dataclass
class Outcome:
    """One scenario's line in the report. `correct` is False on loss, inexact counts or
    over-capacity: the only failures that make `python -m bench` exit non-zero."""

    scenario: str
    title: str
    figures: str
    goal: str
    met: bool
    baseline: str
    ratio: str
    rss: str
    correct: bool
    checks: str
    details: list[str] = field(default_factory=list)
    profile: str = ""

    def row(self) -> str:
        return (f"| {self.title} | {self.figures} | {self.goal} | {'met' if self.met else '**missed**'} | "
                f"{self.baseline} | {self.ratio} | {self.rss} | {self.checks} |")


def postgres_outcome(baseline: Outcome, *, figures: str, metric: str, value: float, sqlite_value: float,
                     sqlite_figures: str, rss: str, correct: bool, checks: str, profile: Path | str | None,
                     higher_is_better: bool = False) -> Outcome:
    """The PostgreSQL row of a scenario: the same measurement as its SQLite row `baseline`, with the
    ratio of PostgreSQL's figure to SQLite's (goal: within POSTGRES_GOAL×, either way round)."""
    r = ratio(value, sqlite_value)
    if higher_is_better:
        met, goal = r >= 1 / POSTGRES_GOAL, f"exact counts; {metric} ≥ SQLite's ÷ {POSTGRES_GOAL:g}"
    else:
        met, goal = r <= POSTGRES_GOAL, f"exact counts; {metric} ≤ {POSTGRES_GOAL:g}× SQLite's"
    head, _, rest = baseline.title.partition(" (")
    return Outcome(scenario=f"{baseline.scenario}-postgres", title=f"{head} on PostgreSQL" + (f" ({rest}" if rest else ""),
                   figures=figures, goal=goal, met=correct and met, baseline=f"SQLite, same run: {sqlite_figures}",
                   ratio=f"{metric} {r:.2f}× SQLite", rss=rss, correct=correct, checks=checks,
                   profile=str(profile or ""))


def ms(value: float) -> str:
    return f"{value:.1f}"


def rss_per_100(kb: int, participants: int) -> str:
    if not kb:
        return "–"
    return f"{kb / 1024:.0f} MB peak, {kb / 1024 / max(participants, 1) * 100:.1f} MB/100"
