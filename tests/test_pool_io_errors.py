"""A full disk or an I/O error during a write: one-line ``PoolWriteError`` (errno kept), the pool as
it was before that operation (in this process and on disk), and writing again once space is back.

Faults are injected at every point where the writer writes (weights file writes and renames,
HDF5 table writes, resizes, flushes and the commit record), one point at a time; and the disk
really fills up on a small tmpfs (when the tests run as root and may mount one)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import h5py
import pytest
import torch

from league.errors import PoolError, PoolWriteError
from league.models import expected_shapes, mlp_spec
from league.pool import Pool
from league.pool.tables import TableFile
from league.pool.writer import Writer
from league.verify import verify

from diskfull import fill, small_tmpfs  # tests/diskfull.py

SPEC = mlp_spec(6, 3, [8])
RANDOM = {"kind": "random", "n_actions": 3}


def _weights(seed: int, spec: dict = SPEC) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=gen) for k, s in expected_shapes(spec).items()}


def _pool(root: Path) -> None:
    with Pool.create(root, game="g", roles=["a", "b"]) as pool:
        pool.add("b", {}, spec=RANDOM, hparams={}, step=0, anchor=True)
        pool.add("a", _weights(1), spec=SPEC, hparams={"lr": 1.0}, step=1, state={"turn": 1})
        pool.add("a", _weights(2), spec=SPEC, hparams={"lr": 2.0}, step=2)
        pool.record_match(["p0", "p1"], [1, 0], [1, 2], [(26.0, 8.0), (24.0, 8.0)])


def _snapshot(pool: Pool) -> tuple:
    return (pool.members(), pool.active(), pool.matches(), pool.state)


OPS = {
    "add": lambda p: p.add("a", _weights(9), spec=SPEC, hparams={"lr": 9.0}, step=9, parent=2, state={"turn": 2}),
    "add_many": lambda p: p.add_many([dict(role="a", weights=_weights(7), spec=SPEC, hparams={}, step=7),
                                      dict(role="b", weights={}, spec=RANDOM, hparams={"new": 1}, step=0)]),
    "record_match": lambda p: p.record_match(["p0", "p1"], [2, 1], [1, 2], [(30.0, 7.0), (20.0, 7.0)],
                                             seed=5, state={"turn": 3}),
    "set_state": lambda p: p.set_state({"turn": 4, "note": "x" * 5000}),
    "retire": lambda p: p.retire_many([1, 2], "pruned"),
}


class _Faults:
    """Counts the writer's write calls; the ``fail_at``-th raises ``OSError(code)``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail_at: int, code: int) -> None:
        self.calls, self.fail_at, self.code, self.fired = 0, fail_at, code, False
        real_write, real_replace = os.write, os.replace
        mp = monkeypatch
        mp.setattr(os, "write", self._wrap(real_write))
        mp.setattr(os, "replace", self._wrap(real_replace))
        for cls, name in ((TableFile, "write_span"), (TableFile, "write_commit"), (h5py.File, "flush"),
                          (h5py.Dataset, "resize")):
            mp.setattr(cls, name, self._wrap(getattr(cls, name)))

    def _wrap(self, real):
        def call(*args, **kwargs):
            k = self.calls
            self.calls += 1
            if k == self.fail_at:
                self.fired = True
                raise OSError(self.code, os.strerror(self.code))
            return real(*args, **kwargs)
        return call


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_a_failed_write_at_any_point_leaves_the_pool_as_before(tmp_path, monkeypatch, op, code):
    root = tmp_path / "pool"
    _pool(root)
    with Pool.open(root) as pool:
        before = _snapshot(pool)
    points = 0
    for fail_at in range(200):
        with Pool.open(root, "a") as pool:
            assert _snapshot(pool) == before
            with monkeypatch.context() as mp:
                faults = _Faults(mp, fail_at, code)
                try:
                    OPS[op](pool)
                except PoolWriteError as exc:
                    assert faults.fired
                    msg = str(exc)
                    assert exc.errno == code and "\n" not in msg and os.strerror(code) in msg, msg
                    assert str(root) in msg and "open the pool again" in msg
                else:
                    assert not faults.fired
                    break
            points += 1
            assert _snapshot(pool) == before      # this process's view rolled back
            with pytest.raises(PoolError, match="open it again"):
                pool.set_state({"after": "failure"})
        with Pool.open(root) as reader:           # on disk: as before
            assert _snapshot(reader) == before
        report = verify(root)
        assert report.clean, [str(p) for p in report.problems]
        assert not [p.name for p in (root / "weights").iterdir() if p.name.endswith(".tmp")]
    else:
        pytest.fail("the operation never completed")
    assert points >= 3, f"{op} has only {points} write points?"
    with Pool.open(root) as pool:                 # and the last try, without a fault, committed
        assert _snapshot(pool) != before
        assert verify(root).clean


def test_a_nearly_full_disk_refuses_before_writing_and_works_once_space_is_freed(tmp_path, monkeypatch):
    root = tmp_path / "pool"
    _pool(root)
    free = {"bytes": 10 << 10}
    real = os.statvfs

    class _Stat:
        def __init__(self, st):
            self.f_frsize, self.f_bavail = 1, free["bytes"]

    monkeypatch.setattr(os, "statvfs", lambda p: _Stat(real(p)))
    with Pool.open(root, "a") as pool:
        before = _snapshot(pool)
        for op in OPS.values():
            with pytest.raises(PoolWriteError, match="no room to .* nothing was written") as info:
                op(pool)
            assert info.value.errno == errno.ENOSPC and "\n" not in str(info.value)
            assert _snapshot(pool) == before
        free["bytes"] = 1 << 40
        OPS["add"](pool)      # the same writer goes on: nothing had been written
        assert len(pool) == 4
    assert verify(root).clean


# ------------------------------------------------------------------------ a real full disk

@pytest.fixture
def small_fs(tmp_path):
    """A 4 MiB tmpfs mounted for this test (skips unless root may mount one)."""
    yield from small_tmpfs(tmp_path, "4m", "the injected-fault tests cover the write paths")


def test_a_really_full_disk_gives_one_line_errors_and_loses_nothing(small_fs, monkeypatch):
    root = small_fs / "pool"
    big = mlp_spec(64, 9, [96, 96])   # ~20k params: 80 KB a member
    with Pool.create(root, game="g", roles=["a"]) as pool:
        pool.add("a", {}, spec={"kind": "random", "n_actions": 9}, hparams={}, step=0, anchor=True)
        # 1. the room check refuses before anything is written; the same writer goes on when freed
        fill(small_fs / "filler", leave=600 << 10)
        added = []
        with pytest.raises(PoolWriteError, match="no room to add members") as info:
            for i in range(100):
                added.append(pool.add("a", _weights(i, big), spec=big, hparams={}, step=i).id)
        assert info.value.errno == errno.ENOSPC and "\n" not in str(info.value)
        before = _snapshot(pool)
        (small_fs / "filler").unlink()
        pool.add("a", _weights(100, big), spec=big, hparams={}, step=100)
        assert len(pool) == len(before[0]) + 1
    # 2. the space goes between the check and the writes (another process filled the disk): the
    #    real ENOSPC of the weights file or of HDF5, each a one-line error and nothing committed
    for leave, op in ((40 << 10, "add"), (2 << 10, "record_match"), (2 << 10, "set_state")):
        with Pool.open(root) as reader:
            before = _snapshot(reader)
        fill(small_fs / "filler", leave=leave)
        with monkeypatch.context() as mp:
            mp.setattr(Writer, "ensure_room", lambda self, n, what: None)
            with Pool.open(root, "a") as pool:
                with pytest.raises(PoolWriteError) as info:
                    for i in range(1000):
                        if op == "add":
                            pool.add("a", _weights(i, big), spec=big, hparams={}, step=i)
                        elif op == "record_match":
                            pool.record_match(["p0", "p1"], [1, 2], [1, 2], [(25.0 + i, 8.0), (25.0, 8.0)],
                                              state={"i": i, "pad": "x" * 2000})
                        else:
                            pool.set_state({"i": i, "pad": "y" * 4000})
                        before = _snapshot(pool)   # what each returned call committed
                msg = str(info.value)
                assert info.value.errno == errno.ENOSPC and "No space left on device" in msg and "\n" not in msg, msg
                assert _snapshot(pool) == before
        (small_fs / "filler").unlink()
        with Pool.open(root, "a") as pool:       # recovers; everything returned is there
            assert _snapshot(pool) == before
            pool.add("a", _weights(999, big), spec=big, hparams={}, step=999)
        report = verify(root)
        assert report.clean, [str(p) for p in report.problems]
