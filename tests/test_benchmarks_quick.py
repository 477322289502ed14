"""Smoke runs of the benchmark scripts, as CI runs them: every code path on tiny budgets.

The numbers of these runs mean nothing; what is checked is that every scheme, game, metric and
seed made it into the raw CSV, and that the table and plots were written.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
def test_sampling_schemes_quick(tmp_path: Path) -> None:
    pytest.importorskip("pyspiel")
    sys.path.insert(0, str(ROOT))
    from benchmarks.sampling_schemes import GAMES, METRICS, SCHEMES

    _run("sampling_schemes.py", "--quick", "--out", str(tmp_path), timeout=600)
    with (tmp_path / "sampling_schemes.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    seen = {(r["game"], r["scheme"], r["seed"], r["metric"]) for r in rows}
    want = {(g, s, str(seed), m) for g in GAMES for s in SCHEMES for seed in (0, 1) for m in METRICS[g]}
    assert want <= seen, f"missing: {sorted(want - seen)[:5]}"
    for r in rows:
        value = float(r["value"])
        if r["metric"].endswith("_expl"):
            assert -1e-9 <= value <= 1.0 + 1e-9, r  # exploitability of rps / Kuhn lies in [0, 1]
        else:
            assert 0.0 <= value <= 1.0, r  # a rate
    # Every turn of rps is measured, so its curves have more than one point per seed.
    rps_steps = {r["steps"] for r in rows if r["game"] == "rps" and r["scheme"] == "latest" and r["seed"] == "0"}
    assert len(rps_steps) >= 3
    table = (tmp_path / "sampling_schemes.md").read_text()
    for name in (*GAMES, *SCHEMES):
        assert name in table
    assert " ± " in table  # two seeds give an interval
    for game in GAMES:
        png = tmp_path / f"sampling_schemes_{game}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_evaluation_quick(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.evaluation import SCHEDULES

    _run("evaluation.py", "--quick", "--out", str(tmp_path), timeout=300)
    table = (tmp_path / "evaluation.md").read_text()
    for name in (*SCHEDULES, "1v1", "4-seat FFA"):
        assert name in table
    assert (tmp_path / "evaluation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (tmp_path / "evaluation.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["setting"], r["schedule"]) for r in rows} == {(s, k) for s in ("1v1", "4-seat FFA")
                                                             for k in SCHEDULES}
    taus = [float(r["kendall_tau"]) for r in rows]
    assert all(-1.0 <= t <= 1.0 for t in taus)
    # After a tenth of a round robin's games the ranking is already far better than chance.
    end = {}
    for r in rows:
        end[r["setting"]] = max(end.get(r["setting"], 0), int(r["matches"]))
    last = [float(r["kendall_tau"]) for r in rows if int(r["matches"]) == end[r["setting"]]]
    assert len(last) == 2 * len(SCHEDULES) * 2 and min(last) > 0.4


@pytest.mark.slow
def test_strength_quick_kuhn(tmp_path: Path) -> None:
    pytest.importorskip("pyspiel")
    import importlib.util

    _run("strength.py", "--quick", "--games", "kuhn_poker", "--out", str(tmp_path), timeout=600)
    table = (tmp_path / "strength.md").read_text()
    rows = ["| league | newest pair |", "| league | uniform mixture of trained members |",
            "| league | population policy (stored; end of run only) |", "| CFR | average policy |"]
    nfsp_runs = importlib.util.find_spec("tree") is not None  # OpenSpiel's PyTorch NFSP needs dm-tree
    rows.append("| NFSP (OpenSpiel, PyTorch) | average policy |" if nfsp_runs else "NFSP was not run")
    for row in rows:
        assert row in table, f"{row!r} missing from:\n{table}"
    assert "## Run" in table and "Code at " in table and "cores" in table  # code version and machine
    assert (tmp_path / "strength_kuhn_poker.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (tmp_path / "strength.csv").open(newline="") as fh:
        found = list(csv.DictReader(fh))
    expl = [r for r in found if r["metric"].startswith("expl_")]
    assert {r["method"] for r in expl} == {"league", "cfr", *(["nfsp"] if nfsp_runs else [])}
    assert {r["seed"] for r in expl if r["method"] == "league"} == {"0", "1"}
    # Exploitability of any Kuhn policy lies in [0, 1]; CFR gets far below uniform random (0.458) at once.
    assert all(0.0 <= float(r["value"]) <= 1.0 for r in expl)
    assert all(float(r["value"]) < 0.1 for r in expl if r["method"] == "cfr")


@pytest.mark.slow
def test_rating_calibration_quick(tmp_path: Path) -> None:
    _run("rating_calibration.py", "--quick", "--games", "texas_holdem", "--out", str(tmp_path),
         "--runs", str(tmp_path / "runs"), "game.kwargs={num_players=2}", timeout=600)
    text = (tmp_path / "rating_calibration.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| texas_holdem |")]
    assert [r.split("|")[6].strip() for r in rows] == ["logged", "refit"]
    for row in rows:
        ece = float(row.split("|")[8])
        lo, hi = map(float, row.split("|")[9].split("–"))
        assert 0.0 <= lo <= hi <= 1.0 and 0.0 <= ece <= 1.0
    assert (tmp_path / "rating_calibration.png").stat().st_size > 10_000


@pytest.mark.slow
def test_evaluation_throughput_quick(tmp_path: Path) -> None:
    # Every side measured (raw, both sequential paths before and after the engine, the engine
    # with networks and with random play), and the sequential paths' ranks equal the engine's.
    out = tmp_path / "evaluation_throughput.md"
    _run("evaluation_throughput.py", "--games", "texas_holdem", "connect_four", "--concurrency", "8",
         "--scale", "0.05", "--repeats", "1", "--out", str(out), timeout=600)
    rows = [line.split("|") for line in out.read_text().splitlines() if line.startswith(("| texas", "| connect"))]
    assert [r[1].strip().split()[0] for r in rows] == ["texas_holdem", "connect_four"]
    for r in rows:
        assert all(float(c.replace(",", "").split("x")[0].split()[0]) > 0 for c in r[3:12])
        assert r[12].strip().startswith("yes")
