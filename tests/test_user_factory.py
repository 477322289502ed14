"""A user's own env factory, ``game.name=user_factory_game:make_env`` with the module on
``PYTHONPATH`` only (a name no other test imports, so none can hide it), runs through the real
CLI on the local backend and on Ray (a real local Ray instance the CLI starts, its league actor
and a rollout shard each resolving the name in their own process)."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

from league.pool import Pool

from test_conformance import TINY as QUIET_TINY

TINY = [a for a in QUIET_TINY if a != "--quiet"]  # the Ray run says on stderr that it is one

MODULE = """
from pettingzoo.classic import connect_four_v3


def make_env(**kwargs):
    return connect_four_v3.raw_env(**kwargs)
"""


def run_cli(tmp_path, *args):
    (tmp_path / "user_factory_game.py").write_text(textwrap.dedent(MODULE))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "league.run", "--out", str(out), "game.name=user_factory_game:make_env",
                           *TINY, *args], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with Pool.open(out / "pool") as pool:
        assert {m.role for m in pool.members() if not m.anchor} == {"player_0", "player_1"}
        assert len(pool.matches()) > 0
    board = subprocess.run([sys.executable, "-m", "league.leaderboard", str(out / "pool")],
                           capture_output=True, text=True, timeout=120, env=env)
    assert board.returncode == 0 and "# Leaderboard: user_factory_game:make_env" in board.stdout, board.stderr
    return proc


def test_the_module_is_not_importable_without_the_pythonpath():
    # Otherwise the runs below would not show that the name travels by import path.
    assert importlib.util.find_spec("user_factory_game") is None


@pytest.mark.slow  # ~30 s on 2 busy cores (two subprocesses); test_from_pettingzoo has a faster one
def test_a_user_factory_runs_through_the_cli(tmp_path):
    run_cli(tmp_path)


@pytest.mark.slow  # ~30 s on 2 busy cores, most of it starting Ray
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed: pip install -e '.[ray]'")
def test_a_user_factory_runs_on_the_ray_backend(tmp_path):
    proc = run_cli(tmp_path, "--backend", "ray", "--workers", "1", "--rollout-shards", "1")
    assert "league: on Ray with" in proc.stderr
