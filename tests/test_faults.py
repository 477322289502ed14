"""Fault injection: each fault ends with ``league verify`` reporting exactly the damage done.

- a writer SIGKILLed at random moments during ``add`` and during ``record_match`` (a forked
  child, so no interpreter start per kill): no damage, before and after the next writer recovers;
- a bit flip, a truncation and a deletion of weights files, and a damaged commit record slot: one
  problem line each, naming what was damaged, and nothing else;
- a writer SIGKILLed while it rebuilds the index of a writer that died with it open (recovery),
  and a resumed league SIGKILLed while it writes its report: no damage either, while a reader
  polling the pool through all of it (tests/fault_child.py) never sees an error.
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

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

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
    assert "is damaged: its xxh3_128 digest" in by_member["member 2"]
    assert "is damaged: its xxh3_128 digest" in by_member["member 4"]
    assert "is missing" in by_member["member 5"]
    assert out[-1].endswith(": 4 problems")
    assert verify(root).damaged_members == [2, 4, 5]


# ------------------------------------------------------------------ kills in recovery and report

HERE = Path(__file__).resolve().parent
CHILD = str(HERE / "fault_child.py")


class _Server:
    """tests/fault_child.py serve: forks the processes to kill, without an interpreter start each."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, CHILD, "serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        self.child: int | None = None
        self.early: list[str] = []   # the child's lines that came before the server's "pid N"

    def line(self, timeout: float = 120) -> str:
        if self.early:
            return self.early.pop(0)
        assert self.proc.stdout is not None
        if not select.select([self.proc.stdout], [], [], timeout)[0]:
            raise AssertionError("the child process said nothing")
        return self.proc.stdout.readline().strip()

    def start(self, command: str) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        before = []
        while not (first := self.line()).startswith("pid "):
            before.append(first)   # parent and child write to one pipe: either may come first
        self.early = before + self.early
        self.child = int(first.split()[1])
        return self.child

    def wait_for(self, want: str, timeout: float = 120) -> list[str]:
        """Lines up to and including the one starting with ``want``."""
        seen = []
        while not seen or not seen[-1].startswith(want):
            seen.append(self.line(timeout))
            assert not seen[-1].startswith(("Traceback", "dead")), seen
        return seen

    def kill(self, pid: int) -> list[str]:
        """SIGKILL ``pid``; the lines it printed before it died."""
        os.kill(pid, signal.SIGKILL)
        seen = []
        while not (seen and seen[-1].startswith("dead")):
            seen.append(self.line())
        status = int(seen[-1].split()[1])
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, seen
        return seen[:-1]

    def close(self) -> None:
        """End the server, and a forked child still alive after a failed assertion."""
        if self.child is not None:
            try:
                os.kill(self.child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@contextmanager
def _polling_reader(root: Path, tmp_path: Path) -> Iterator[None]:
    """A reader process polling ``root`` for the whole block; fails the test if it saw an error."""
    stop = tmp_path / f"stop-{random.randrange(10**9)}"
    reader = subprocess.Popen([sys.executable, CHILD, "read", str(root), str(stop)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    assert reader.stdout is not None
    first = reader.stdout.readline().strip()
    assert first == "reading", first + reader.stdout.read()
    try:
        yield
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=120)
    assert reader.returncode == 0 and out.strip().startswith("ok "), out
    assert int(out.split()[1]) > 10, out


def _bigger_pool(root: Path) -> None:
    """Enough rows and matches that a rebuild takes long enough to be killed inside."""
    rng = np.random.default_rng(3)
    with Pool.create(root, game="g", roles=["a"]) as pool:
        pool.add("a", {}, spec=RANDOM, hparams={}, step=0, anchor=True)
        pool.add_many([dict(role="a", weights=_numpy_weights(rng), spec=SPEC, hparams={"i": i}, step=i)
                       for i in range(40)])
        for i in range(600):
            ids = [int(k) for k in rng.choice(41, size=2, replace=False)]
            pool.record_match(["p0", "p1"], ids, [1, 2], [(25.0, 8.0), (25.0, 8.0)], state={"i": i})


def test_sigkill_during_index_rebuild_leaves_no_damage_and_the_reader_sees_no_error(tmp_path):
    root = tmp_path / "pool"
    _bigger_pool(root)
    rng = random.Random(16)
    server = _Server()
    inside = 0
    try:
        with _polling_reader(root, tmp_path):
            # A writer that dies holding the index open: the next one must rebuild it.
            pid = server.start(f"open {root}")
            server.wait_for("opened")
            server.kill(pid)
            # How long a rebuild takes here (open -> opened), measured on one left to finish.
            pid = server.start(f"open {root}")
            server.wait_for("open")
            t0 = time.monotonic()
            server.wait_for("opened")
            rebuild = time.monotonic() - t0
            server.kill(pid)   # and it dies holding it open too
            for trial in range(KILLS + 4):
                pid = server.start(f"open {root}")
                server.wait_for("open")
                time.sleep(rng.uniform(0.0, 1.2 * rebuild))
                printed = server.kill(pid)
                inside += "opened" not in printed
                before = verify(root)       # what the killed rebuild left
                assert before.clean, [str(p) for p in before.problems]
                if "opened" not in printed and trial % 2:
                    continue                # a rebuild killed midway: the next one starts from that
                # make sure the next trial has a rebuild to do
                pid = server.start(f"open {root}")
                server.wait_for("opened")
                server.kill(pid)
            with Pool.open(root, "a") as pool:    # the last recovery, left to finish
                assert len(pool) == 41 and len(pool.matches()) == 600
    finally:
        server.close()
    print(f"{inside} of {KILLS + 4} kills landed inside a rebuild of {rebuild * 1e3:.0f} ms")
    assert inside >= 3, f"only {inside} kills landed inside a rebuild of {rebuild * 1e3:.0f} ms"
    after = verify(root)
    assert after.clean and after.leftovers == 0, [str(p) for p in after.problems]


@pytest.mark.slow  # a report takes seconds: ~1 min under load
def test_sigkill_during_the_report_leaves_no_damage_and_the_reader_sees_no_error(finished_run, tmp_path):
    run = tmp_path / "ttt"
    shutil.copytree(finished_run, run)
    root = run / "pool"
    with Pool.open(root) as pool:
        members, matches, state = pool.members(), pool.matches(), pool.state
    rng = random.Random(17)
    server = _Server()
    try:
        with _polling_reader(root, tmp_path):
            # One report left to finish: how long one takes here.
            pid = server.start(f"report {run}")
            server.wait_for("opened")
            t0 = time.monotonic()
            server.wait_for("report 1")
            one = time.monotonic() - t0
            server.kill(pid)
            board = (run / "leaderboard.md").read_bytes()
            for _ in range(4):
                pid = server.start(f"report {run}")
                server.wait_for("opened")
                time.sleep(rng.uniform(0.0, 1.5 * one))
                server.kill(pid)
                report = verify(root)
                assert report.clean, [str(p) for p in report.problems]
                # the report's files are replaced whole: the old board or an equal new one
                assert (run / "leaderboard.md").read_bytes() == board
    finally:
        server.close()
    with Pool.open(root, "a") as pool:      # the next writer recovers; nothing changed
        assert (pool.members(), pool.matches(), pool.state) == (members, matches, state)
    after = verify(root)
    assert after.clean and after.leftovers == 0, [str(p) for p in after.problems]


def test_a_run_that_seats_a_damaged_member_stops_with_one_line_naming_it(finished_run, tmp_path):
    # One flipped bit in a trained member's weights: resuming the run for one more rotation seats
    # it (as the learner's start, an opponent or an evaluated member) and must stop with one line
    # naming the member, not train on wrong weights; nothing stored changes.
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    with Pool.open(run / "pool", "r") as pool:
        trained = [m.id for m in pool.members() if not m.anchor]
        n_members, n_matches = len(pool.members()), len(pool.matches())
    for member_id in trained:
        path = run / "pool" / "weights" / f"{member_id}.safetensors"
        data = bytearray(path.read_bytes())
        data[-3] ^= 1
        path.write_bytes(bytes(data))
    proc = subprocess.run([sys.executable, "-m", "league.run", "--resume", str(run), "rotations=2", "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "digest" in lines[0] and "member" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    with Pool.open(run / "pool", "r") as pool:
        assert len(pool.members()) == n_members and len(pool.matches()) == n_matches
