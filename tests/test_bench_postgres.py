"""`python -m bench --quick --db postgres` (`make bench-quick DB=postgres`): the board fan-out, vote burst,
registration burst and listing run on SQLite and on a throwaway PostgreSQL cluster in the same run, and each
has a PostgreSQL row with its ratio to SQLite and exact counts read back from PostgreSQL. Times are not
asserted: the machine is shared."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg_cluster import binaries

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(binaries() is None, reason="PostgreSQL is not installed (make test-deps)")


def test_quick_benchmark_on_postgres_has_a_row_per_scenario_with_its_ratio_and_exact_counts(tmp_path: Path) -> None:
    report = tmp_path / "quick-postgres.md"
    only = [arg for name in ("fanout", "votes", "registration", "listing") for arg in ("--only", name)]
    run = subprocess.run([sys.executable, "-m", "bench", "--quick", "--db", "postgres", *only, "--output", str(report)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    text = report.read_text(encoding="utf-8")
    assert re.search(r"PostgreSQL \d+\.\d+", text) and "fsync on" in text
    rows = {line.split("|")[1].strip(): line.split("|") for line in text.splitlines()
            if line.startswith("| ") and "---" not in line}
    on_postgres = {title: cells for title, cells in rows.items() if " on PostgreSQL" in title}
    assert [title.split(" on ")[0] for title in on_postgres] == [
        "2. Board fan-out", "3. Vote burst", "5. Registration burst", "6a. /sessions"], text
    for title, cells in on_postgres.items():
        ratio, checks = cells[6], cells[8]
        assert re.fullmatch(r" (p95|p99 ack|throughput|p50) \d+\.\d\d× SQLite ", ratio), (title, ratio)
        assert "SQLite, same run:" in cells[5]
        assert "INEXACT" not in checks and "NO" not in checks and "CRASHED" not in checks, (title, checks)
    fanout, votes, registrations, listing = on_postgres.values()
    assert "lost 0, duplicates 0, acked 30/30, in the log 30/30 (read back from PostgreSQL)" in fanout[8]
    assert "tallies after reveal exact" in votes[8] and "read back from PostgreSQL 250/250 (exact)" in votes[8]
    assert "confirmed 5 (in PostgreSQL 5)" in registrations[8] and "positions 1..95 exact" in registrations[8]
    assert "same as arrival order in PostgreSQL: yes" in registrations[8]
    assert "statuses [200]" in listing[8] and "lists the same 20 sessions as on SQLite: yes" in listing[8]
    assert "all scenarios correct" in text
