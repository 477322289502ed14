"""Fixtures shared by several test modules."""

import subprocess
import sys

import pytest

TINY = ["game.name=tictactoe", "rotations=1", "bootstrap.max_steps=2048", "training.max_steps=2048",
        "bootstrap.eval_every=1024", "training.eval_every=1024", "bootstrap.eval_episodes=40",
        "training.eval_episodes=40", "evaluation.budget=24", "report.anchor_episodes=40", "ppo.n_envs=8"]
"""A tiny tic-tac-toe league through the real CLI: 4 turns of 2048 learner steps, ~15 s on 2 cores."""


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The finished tiny run, once per test session: ``(run directory, the CLI's CompletedProcess)``.

    Shared by every module that reads a finished run; tests must not write into it.
    """
    out = tmp_path_factory.mktemp("run") / "ttt"
    proc = subprocess.run([sys.executable, "-m", "league.run", "--out", str(out), *TINY],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out, proc


@pytest.fixture(scope="session")
def finished_run(tiny_run):
    """The tiny run's directory (a run directory: ``league.load_policy`` and the commands take it)."""
    return tiny_run[0]
