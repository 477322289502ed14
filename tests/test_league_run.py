"""End to end through the real CLI: a tiny tic-tac-toe league, its outputs, and bad input."""

import csv
import json
import subprocess
import sys
import tomllib

import pytest

from league.config import RunConfig, load_config
from league.config.toml import from_dict
from league.pool import Pool

from conftest import TINY  # test_ray_backend imports it from here


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "league.run", *args], capture_output=True, text=True,
                          timeout=timeout)


# tiny_run: the session's tiny run, (out, proc) (tests/conftest.py).


def test_outputs_are_written(tiny_run):
    out, proc = tiny_run
    for name in ("config.toml", "metrics.csv", "leaderboard.md", "leaderboard.html", "win_vs_random.json"):
        assert (out / name).stat().st_size > 0, name
    # The leaderboard is printed and saved.
    assert "# League leaderboard: tictactoe" in proc.stdout
    assert proc.stdout.strip() == (out / "leaderboard.md").read_text().strip()
    html = (out / "leaderboard.html").read_text()
    # Rating by version per role (2), training curves, the player_1 x player_2 payoff panel, the
    # reliability diagram, rating against time; tests/test_report_html.py looks at them in a browser.
    assert html.count("<img") == 6


def test_pool_holds_anchors_and_one_member_per_turn(tiny_run):
    out, _ = tiny_run
    with Pool.open(out / "pool") as pool:
        members = pool.members()
        assert [m.anchor for m in members].count(True) == 2
        # Versions count up from the anchor (v0) without gaps; every bootstrap turn adds its
        # member, a rotation turn adds one unless its starting member stayed the best.
        for role in ("player_1", "player_2"):
            assert sorted(m.version for m in pool.members(role)) == list(range(len(pool.members(role))))
        turns = [m.hparams["turn"] for m in members if not m.anchor]
        assert len(turns) == len(set(turns)) and {0, 1} <= set(turns) <= {0, 1, 2, 3}
        # Rotation members start from their role's best member: parent is set and of the same role.
        for m in members:
            if m.hparams.get("phase") == "rotation":
                assert pool.member(m.parent).role == m.role
        matches = pool.matches()
        assert len(matches) == 4 * 24  # the evaluation budget after every turn
        assert all(m.kind == "eval" and set(m.seats) == {"player_1", "player_2"} for m in matches)
        assert sum(m.games for m in members) == 2 * len(matches)
        state = pool.state
        assert state["turn"] == 4 and state["done"] is True


def test_resolved_config_reloads_to_the_same_config(tiny_run):
    out, _ = tiny_run
    saved = load_config(out / "config.toml")
    assert saved == load_config(None, TINY)
    assert saved.game.name == "tictactoe" and saved.rotations == 1


def test_metrics_csv_has_a_row_per_update_tagged_by_turn(tiny_run):
    out, _ = tiny_run
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert {r["turn"] for r in rows} == {"0", "1", "2", "3"}
    assert all(float(r["steps_per_s"]) > 0 for r in rows)


def test_win_rates_against_the_anchor_are_measured_for_every_trained_member(tiny_run):
    out, _ = tiny_run
    measured = json.loads((out / "win_vs_random.json").read_text())
    with Pool.open(out / "pool") as pool:
        trained = {str(m.id) for m in pool.members() if not m.anchor}
    assert set(measured) == trained
    assert all(v["episodes"] == 40 and 0 <= v["win_rate"] <= 1 for v in measured.values())


def test_an_existing_run_directory_is_not_overwritten(tiny_run):
    out, _ = tiny_run
    before = (out / "pool" / "index.h5").read_bytes()
    proc = run_cli("--out", str(out), *TINY)
    assert proc.returncode == 2
    assert "--resume" in proc.stderr and "Traceback" not in proc.stderr
    assert (out / "pool" / "index.h5").read_bytes() == before


@pytest.mark.parametrize("args,needle", [
    (["game.name=chess9"], "unknown game 'chess9'"),
    (["trainig.max_steps=5"], "unknown config key 'trainig'"),
    (["training.max_steps=many"], "training.max_steps"),
    (["sampling.scheme=best"], "sampling"),
    (["--config", "/nonexistent/x.toml"], "does not exist"),
    (["rotations"], "key=value"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, needle):
    proc = run_cli("--out", str(tmp_path / "o"), *args, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert not (tmp_path / "o" / "pool").exists()


def test_resume_refuses_a_directory_without_a_run(tmp_path):
    proc = run_cli("--resume", str(tmp_path), timeout=120)
    assert proc.returncode == 2 and "not a league run directory" in proc.stderr


def test_every_example_config_loads(tmp_path):
    import pathlib

    import envs

    configs = sorted(pathlib.Path(__file__).parents[1].joinpath("configs").glob("*.toml"))
    names = set()
    for path in configs:
        cfg = load_config(path)
        envs.make(cfg.game.name, **cfg.game.kwargs)
        names.add(cfg.game.name)
    assert names == set(envs.games())


def test_defaults_are_the_original_scenario():
    cfg = RunConfig()
    assert cfg.game.name == "texas_holdem" and cfg.rotations >= 2
    assert from_dict(RunConfig, tomllib.loads("")) == cfg


def test_a_step_budget_too_small_for_one_update_adds_no_copy_of_the_start_member(tmp_path):
    # After the bootstrap (2 x 2048 steps) one learner step is left: each rotation turn trains
    # nothing, and must not add its start member again as a new member.
    out = tmp_path / "run"
    proc = run_cli("--out", str(out), *TINY, "max_steps=4097")
    assert proc.returncode == 0, proc.stderr
    with Pool.open(out / "pool") as pool:
        trained = [m for m in pool.members() if not m.anchor]
        assert [m.hparams["phase"] for m in trained] == ["bootstrap", "bootstrap"]
        assert all(m.hparams["train_steps"] > 0 for m in trained)
