"""Fault injection: each fault ends with ``league verify`` reporting exactly the damage done.

- a writer SIGKILLed at random moments during ``add`` and during ``record_match`` (a forked
  child, so no interpreter start per kill): no damage, before and after the next writer recovers;
- a bit flip, a truncation and a deletion of weights files, and a damaged commit record slot: one
  problem line each, naming what was damaged, and nothing else.
"""

from __future__ import annotations

import os
import random
import select
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from league.models import expected_shapes, mlp_spec
from league.pool import Pool, store
from league.verify import main, verify

SPEC = mlp_spec(6, 3, [8])
RANDOM = {"kind": "random", "n_actions": 3}
KILLS = 6


def _numpy_weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in expected_shapes(SPEC).items()}


def _writer_child(root: Path, what: str, seed: int, fd: int) -> None:
    """In a forked child: write as fast as possible, one line to ``fd`` per returned call."""
    rng = np.random.default_rng(seed)
    with Pool.open(root, "a") as pool:
        os.write(fd, b"opened\n")
        n = len(pool)
        while True:
            if what == "add":
                m = pool.add("a", _numpy_weights(rng), spec=SPEC, hparams={"seed": seed}, step=int(rng.integers(1e6)),
                             state={"seed": seed, "n": n})
                n += 1
                os.write(fd, f"add {m.id}\n".encode())
            else:
                ids = [int(i) for i in rng.choice(n, size=2, replace=False)]
                rec = pool.record_match(["p0", "p1"], ids, [1, 2], [(float(rng.uniform(10, 40)), 5.0), (20.0, 6.0)],
                                        seed=seed, state={"seed": seed})
                os.write(fd, f"match {rec.index}\n".encode())


def _kill_while_writing(root: Path, what: str, seed: int, rng: random.Random) -> list[str]:
    """Fork a writer, SIGKILL it after a random delay; the lines of the calls that returned."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: never returns into pytest
        try:
            os.close(r)
            _writer_child(root, what, seed, w)
        finally:
            os._exit(3)
    os.close(w)
    buf = b""
    deadline = time.monotonic() + 60
    while b"opened\n" not in buf and time.monotonic() < deadline:
        if select.select([r], [], [], 1.0)[0]:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            buf += chunk
    assert b"opened\n" in buf, f"the writer did not start: {buf[-500:]!r}"
    time.sleep(rng.uniform(0.01, 0.25))
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    while chunk := os.read(r, 65536):
        buf += chunk
    os.close(r)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, buf[-500:]
    return buf.decode().split("\n")[1:-1]


@pytest.mark.parametrize("what", ["add", "record_match"])
def test_sigkill_during_writes_leaves_no_damage_for_verify(tmp_path, what, capsys):
    root = tmp_path / "pool"
    with Pool.create(root, game="g", roles=["a"]) as pool:
        pool.add("a", {}, spec=RANDOM, hparams={}, step=0, anchor=True)
        rng0 = np.random.default_rng(0)
        for i in range(3):
            pool.add("a", _numpy_weights(rng0), spec=SPEC, hparams={}, step=i)
    rng = random.Random(15)
    returned = 0
    for trial in range(KILLS):
        lines = _kill_while_writing(root, what, trial, rng)
        returned += len(lines)
        before = verify(root)                     # the dead writer's files, as it left them
        assert before.clean, [str(p) for p in before.problems]
        with Pool.open(root, "a") as pool:        # the next writer recovers
            if what == "add":
                assert len(pool) >= 4 + returned or returned == 0
            else:
                assert len(pool.matches()) >= returned
        after = verify(root)
        assert after.clean and after.leftovers == 0, [str(p) for p in after.problems]
    assert returned > 20, "the writers were killed too early to test anything"
    assert main([str(root)]) == 0
    assert capsys.readouterr().out.strip().endswith(": clean")


def _damage_pool(tmp_path: Path) -> Path:
    root = tmp_path / "pool"
    rng = np.random.default_rng(1)
    with Pool.create(root, game="g", roles=["a", "b"]) as pool:
        pool.add("b", {}, spec=RANDOM, hparams={}, step=0, anchor=True)
        for i in range(6):
            pool.add("a", _numpy_weights(rng), spec=SPEC, hparams={"i": i}, step=i, state={"i": i})
        for i in range(4):
            pool.record_match(["p0", "p1"], [1 + i, 0], [1, 2], [(26.0 + i, 7.0), (24.0, 7.0)])
    return root


def test_damaged_weights_and_commit_record_are_reported_exactly(tmp_path, capsys):
    root = _damage_pool(tmp_path)
    assert verify(root).clean
    wdir = root / "weights"
    # a bit flip deep inside the tensor data (safetensors alone would load it)
    data = bytearray((wdir / "2.safetensors").read_bytes())
    data[len(data) - 17] ^= 0x04
    (wdir / "2.safetensors").write_bytes(bytes(data))
    # a truncation, and a deletion
    (wdir / "4.safetensors").write_bytes((wdir / "4.safetensors").read_bytes()[:-64])
    (wdir / "5.safetensors").unlink()
    # the newest commit record slot damaged: the pool falls back to the previous commit
    import h5py
    index = root / store.INDEX_FILE
    with h5py.File(index, "r+") as f:
        slots = f["counts"][...]
        newest = store.Commit.decode(slots).gen % 2
        slots[newest, 3] += 1
        f["counts"][...] = slots
    code = main([str(root)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    problems = out[:-1]
    assert len(problems) == 4, out
    assert problems[0].startswith(f"commit record: slot {newest} is damaged")
    by_member = {line.split(":")[0]: line for line in problems[1:]}
    assert set(by_member) == {"member 2", "member 4", "member 5"}
    assert "is damaged: its blake2b-128 digest" in by_member["member 2"]
    assert "is damaged: its blake2b-128 digest" in by_member["member 4"]
    assert "is missing" in by_member["member 5"]
    assert out[-1].endswith(": 4 problems")
    assert verify(root).damaged_members == [2, 4, 5]
