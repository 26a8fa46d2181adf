"""`python -m bench --quick` (what `make bench-quick` runs in CI): every scenario runs small and is
correct — nothing lost, counts exact, capacity kept. Times are not asserted: the machine is shared."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCENARIOS = ("1. Baseline", "2. Board fan-out", "3. Vote burst", "4. Poll burst", "5. Registration burst",
             "6a. /sessions", "6b. /calendar.ics", "7. Scale-out", "8. /sessions with ふりがな", "9. Caption fan-out")


def test_quick_benchmark_runs_every_scenario_without_loss_or_inexact_counts(tmp_path: Path) -> None:
    report = tmp_path / "quick.md"
    run = subprocess.run([sys.executable, "-m", "bench", "--quick", "--output", str(report)], cwd=ROOT,
                         capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stderr[-4000:]
    text = report.read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ") and "---" not in line}
    for name in SCENARIOS:
        row = next((line for title, line in rows.items() if title.startswith(name)), None)
        assert row is not None, f"{name} missing from the report:\n{text}"
        assert "CRASHED" not in row and "INEXACT" not in row and "NO" not in row.split("|")[-2], row
        for lost in re.findall(r"lost(?: acks)? (\d+)", row):
            assert lost == "0", row
    assert "all scenarios correct" in text
    votes = rows[next(t for t in rows if t.startswith("3. Vote burst"))]
    assert "acked 250/250" in votes and "tallies after reveal exact" in votes and "250/250 (exact)" in votes
    assert "tally exact (50)" in rows[next(t for t in rows if t.startswith("4. Poll burst"))]
    registrations = rows[next(t for t in rows if t.startswith("5. Registration burst"))]
    assert "confirmed 5 (on disk 5)" in registrations and "positions 1..95 exact" in registrations
    assert "same as arrival order on disk: yes" in registrations
