"""Every shipped config in ``configs/`` runs through the real CLI on a tiny budget, to a pool and
a leaderboard: a shipped example cannot break unnoticed (``configs/simple_tag.toml`` once did)."""

import subprocess
import sys
from pathlib import Path

import pytest

from league.pool import Pool

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.toml"))
# Overrides that shrink any config to seconds; the config's own game and settings stay.
TINY = ["rotations=1", "bootstrap.max_steps=512", "training.max_steps=512", "bootstrap.eval_every=512",
        "training.eval_every=512", "bootstrap.eval_episodes=8", "training.eval_episodes=8",
        "evaluation.budget=4", "report.anchor_episodes=8", "ppo.n_envs=4", "population.episodes=4",
        "population.support_episodes=0"]
SLOW = {"kuhn_poker_4p", "texas_holdem"}  # measured > 20 s on 2 cores


@pytest.mark.parametrize("config", [pytest.param(c, id=c.stem, marks=[pytest.mark.slow] if c.stem in SLOW else [])
                                    for c in CONFIGS])
def test_shipped_config_runs_to_a_pool_and_a_leaderboard(config, tmp_path):
    out = tmp_path / config.stem
    proc = subprocess.run([sys.executable, "-m", "league.run", "--config", str(config), "--out", str(out), *TINY],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "leaderboard.md").stat().st_size > 0
    with Pool.open(out / "pool") as pool:
        assert any(not m.anchor for m in pool.members())
        assert len(pool.matches()) > 0
