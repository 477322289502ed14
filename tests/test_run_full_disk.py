"""A disk that fills up during a run: one line and a non-zero exit, nothing committed lost, and
``--resume`` completes the run once space is freed.

Two ways: an ``ENOSPC`` injected into the pool's commit writes of a run in this process, and a
real, size-limited tmpfs that a filler file leaves almost full (when root may mount one)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from league.pool import Pool
from league.pool.tables import TableFile
from league.run import main
from league.verify import verify

from diskfull import fill, small_tmpfs  # tests/diskfull.py

SMALL = ["game.name=tictactoe", "rotations=1", "bootstrap.max_steps=512", "training.max_steps=512",
         "bootstrap.eval_every=256", "training.eval_every=256", "bootstrap.eval_episodes=8",
         "training.eval_episodes=8", "evaluation.budget=8", "report.anchor_episodes=8", "ppo.n_envs=8"]


def _committed(root: Path) -> tuple[list[tuple], list]:
    """What the pool has committed that later writes may not change: every member's identity,
    spec, step and digest with a copy of its weights, and the match log."""
    with Pool.open(root) as pool:
        members = [(m.id, m.role, m.version, m.parent, m.step, m.spec, m.anchor, pool.digest(m.id),
                    {} if m.spec["kind"] == "random" else pool.weights(m.id)) for m in pool.members()]
        return members, pool.matches()


def _check_kept(root: Path, before: tuple[list[tuple], list]) -> None:
    members, matches = before
    now_members, now_matches = _committed(root)
    assert len(now_members) >= len(members)
    for old, new in zip(members, now_members):
        assert old[:8] == new[:8]
        assert old[8].keys() == new[8].keys() and all(torch.equal(old[8][k], new[8][k]) for k in old[8])
    assert now_matches[:len(matches)] == matches
    with Pool.open(root) as pool:
        assert pool.state["done"] is True
    report = verify(root)
    assert report.clean and report.leftovers == 0, [str(p) for p in report.problems]


def test_an_injected_enospc_mid_run_then_resume_completes_it(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    real = TableFile.write_commit
    calls = {"n": 0}

    def failing(self, c):
        calls["n"] += 1
        if calls["n"] == 8:      # past the anchors and the first trained member
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, c)

    with monkeypatch.context() as mp:
        mp.setattr(TableFile, "write_commit", failing)
        code = main(["--quiet", "--out", str(out), *SMALL])
    err = capsys.readouterr().err
    assert code == 1 and calls["n"] >= 8   # the 9th: the rollback rewrites the last commit record
    assert err.count("\n") == 1 and "No space left on device" in err and "nothing of it was committed" in err, err
    before = _committed(out / "pool")
    assert any(not m[6] for m in before[0]), "the fault came before any trained member was committed"
    assert main(["--quiet", "--resume", str(out)]) == 0
    _check_kept(out / "pool", before)
    assert (out / "leaderboard.md").exists()


@pytest.fixture
def small_fs(tmp_path):
    """An 8 MiB tmpfs mounted for this test (skips unless root may mount one)."""
    yield from small_tmpfs(tmp_path, "8m", "the injected ENOSPC test covers the run")


@pytest.mark.slow  # two CLI runs
def test_a_really_full_disk_mid_run_then_resume_completes_it(small_fs):
    out = small_fs / "run"
    # Room for the pool, its anchors and a few members: the pool keeps 1 MiB spare, a member is ~25 KB.
    fill(small_fs / "filler", leave=(1 << 20) + (120 << 10))
    proc = subprocess.run([sys.executable, "-m", "league.run", "--quiet", "--out", str(out), *SMALL],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, (proc.returncode, proc.stderr)   # an I/O failure, not a crash
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "No space left on device" in proc.stderr or "no room to" in proc.stderr, proc.stderr
    before = _committed(out / "pool")
    assert any(not m[6] for m in before[0]), "the disk was full before any trained member was committed"
    (small_fs / "filler").unlink()
    again = subprocess.run([sys.executable, "-m", "league.run", "--quiet", "--resume", str(out)],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    _check_kept(out / "pool", before)
