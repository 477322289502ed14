"""Kill a league run with SIGKILL at random moments, resume it, and check the pool it leaves."""

import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from league.pool import Pool

ARGS = ["game.name=tictactoe", "rotations=2", "bootstrap.max_steps=3072", "training.max_steps=3072",
        "bootstrap.eval_every=1024", "training.eval_every=1024", "bootstrap.eval_episodes=32",
        "training.eval_episodes=32", "evaluation.budget=40", "report.anchor_episodes=16", "ppo.n_envs=8",
        ]
TURNS = 6  # 2 roles x (bootstrap + 2 rotations)
ADDED = re.compile(r"added (\S+) v(\d+) \(member (\d+)\)")


def start(*args):
    return subprocess.Popen([sys.executable, "-m", "league.run", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def check_pool(path, expect_complete):
    with Pool.open(path) as pool:
        members = pool.members()
        anchors = [m for m in members if m.anchor]
        trained = [m for m in members if not m.anchor]
        assert len(anchors) == 2
        # No turn added its member twice, and versions are contiguous per role.
        turns = Counter(m.hparams["turn"] for m in trained)
        assert all(c == 1 for c in turns.values()), turns
        for role in pool.roles:
            versions = sorted(m.version for m in pool.members(role))
            assert versions == list(range(len(versions)))
        for m in trained:
            assert set(pool.weights(m.id))  # loads
        if expect_complete:
            # Bootstrap turns always add; a rotation turn adds unless its start stayed the best.
            assert {0, 1} <= set(turns) <= set(range(TURNS))
            # Each turn's evaluation budget was played exactly once, interrupted or not.
            assert len(pool.matches()) == TURNS * 40
            assert pool.state["done"] is True
        return {m.id: (m.role, m.version, m.hparams["turn"]) for m in trained}


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume(tmp_path):
    # Time an uninterrupted run first, to spread the kills over its whole length.
    t0 = time.monotonic()
    ref = start("--out", str(tmp_path / "ref"), *ARGS)
    _, err = ref.communicate(timeout=600)
    assert ref.returncode == 0, err
    length = time.monotonic() - t0
    reference = check_pool(tmp_path / "ref" / "pool", expect_complete=True)

    rng = random.Random(1234)
    for trial in range(4):
        out = tmp_path / f"trial{trial}"
        proc = start("--out", str(out), *ARGS)
        time.sleep(rng.uniform(0.15, 0.95) * length)
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
        # Members whose add returned (the run says so right after add) must survive the kill.
        announced = {int(m.group(3)): (m.group(1), int(m.group(2))) for m in ADDED.finditer(err)}
        if not (out / "pool").exists():
            continue  # killed before the pool existed: nothing to resume
        before = check_pool(out / "pool", expect_complete=False)
        for mid, (role, version) in announced.items():
            assert before[mid][:2] == (role, version)
        res = start("--resume", str(out))
        _, err = res.communicate(timeout=600)
        assert res.returncode == 0, err
        after = check_pool(out / "pool", expect_complete=True)
        # Nothing committed before the kill was lost or changed.
        for mid, what in before.items():
            assert after[mid] == what
        # The same members exist as in the uninterrupted run (same roles, versions and turns).
        assert sorted(after.values()) == sorted(reference.values())


def _config_only_dir(tmp_path):
    """A run directory as a kill between writing config.toml and creating the pool leaves it."""
    from league.config import load_config
    from league.config.toml import dump_toml

    out = tmp_path / "cut"
    out.mkdir()
    (out / "config.toml").write_text(dump_toml(load_config(None, ARGS).to_dict()))
    return out


def test_resume_of_a_run_killed_before_its_pool_existed_starts_it(tmp_path):
    out = _config_only_dir(tmp_path)
    res = start("--resume", str(out))
    _, err = res.communicate(timeout=600)
    assert res.returncode == 0, err
    assert "has no pool yet" in err
    check_pool(out / "pool", expect_complete=True)


def test_a_fresh_run_may_use_a_directory_that_holds_only_a_config(tmp_path):
    out = _config_only_dir(tmp_path)
    res = start("--out", str(out), "-q", *ARGS)
    _, err = res.communicate(timeout=600)
    assert res.returncode == 0, err
    check_pool(out / "pool", expect_complete=True)
