"""Crash safety of the pool: a writer SIGKILLed at random moments loses nothing whose call had
returned, the next writer recovers the index, and readers polling meanwhile never see an error.

The writers are forked by tests/pool_crash_child.py (which imports torch once, so each trial
costs the kill, not an interpreter start)."""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from league.pool import Pool

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the helper script is not a package module
from pool_crash_child import SPEC, weights_hash  # noqa: E402
CHILD = str(HERE / "pool_crash_child.py")
ROOT = HERE.parent
N_TRIALS = 24


class _Lines:
    """Lines of a child's stdout, readable with a timeout."""

    def __init__(self, stream) -> None:
        self.q: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self.q.put(line.rstrip("\n"))
        self.q.put("<eof>")

    def next(self, timeout: float = 60.0) -> str:
        return self.q.get(timeout=timeout)

    def until(self, prefix: str, seen: list[str]) -> str:
        while True:
            line = self.next()
            if line.startswith(prefix):
                return line
            assert line != "<eof>", f"child ended early; its last lines: {seen[-20:]}"
            seen.append(line)


def _check(root: Path, added: dict[int, str], fresh: set[int], retired: set[int],
           matches: dict[int, tuple[int, ...]], n_before: int) -> int:
    """The pool after a kill: everything that returned is there, intact, and consistent."""
    with Pool.open(root, "a") as pool:  # recovers the dead writer's index
        members = pool.members()
        assert [m.id for m in members] == list(range(len(members)))
        for mid in added:
            assert mid < len(members), f"member {mid} was returned by add but is gone"
        for mid in fresh:
            assert weights_hash(pool.weights(mid)) == added[mid], f"weights of member {mid} changed"
        for m in members[n_before:]:  # also members committed just before the kill, unannounced
            pool.weights(m.id)
        for mid in retired:
            assert not members[mid].active
        log = pool.matches()
        for index, ids in matches.items():
            assert log[index].member_ids == ids
        # the write-ahead log was applied exactly: games = logged matches that seat the member
        games = Counter(i for rec in log for i in set(rec.member_ids))
        assert [m.games for m in members] == [games[m.id] for m in members]
        assert not (root / "index.h5.bak").exists()
        assert not [p for p in (root / "weights").iterdir() if p.name.endswith(".tmp")]
    with Pool.open(root, "r") as pool:
        assert len(pool.members()) == len(members)
        assert [m.games for m in pool.members()] == [m.games for m in members]
    return len(members)


@pytest.mark.slow
def test_writer_killed_at_random_moments_loses_nothing_and_readers_never_fail(tmp_path):
    root = tmp_path / "pool"
    Pool.create(root, game="g", roles=["a", "b"]).close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, CHILD, "serve", str(root)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
    reader = subprocess.Popen([sys.executable, CHILD, "read", str(root), "12"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
    lines = _Lines(server.stdout)
    rng = random.Random(20261125)
    added: dict[int, str] = {}
    retired: set[int] = set()
    matches: dict[int, tuple[int, ...]] = {}
    n_members = 0
    kills_before_open = 0
    try:
        for trial in range(N_TRIALS):
            server.stdin.write(f"write {trial}\n")
            server.stdin.flush()
            seen: list[str] = []
            pid = int(lines.until("pid ", seen).split()[1])
            lines.until("open", seen)
            # Kill anywhere: during recovery of the previous kill, or among the writes.
            time.sleep(rng.choice([0.0, 0.002, 0.01]) if trial % 4 == 0 else rng.uniform(0.0, 0.3))
            os.kill(pid, signal.SIGKILL)
            status = int(lines.until("dead ", seen).split()[1])
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, seen[-20:]
            fresh: set[int] = set()
            for line in seen:
                word, *args = line.split()
                if word == "add":
                    added[int(args[0])] = args[1]
                    fresh.add(int(args[0]))
                elif word == "retire":
                    retired.add(int(args[0]))
                elif word == "match":
                    matches[int(args[0])] = (int(args[1]), int(args[2]))
                elif word not in ("opened", "open"):   # the child's "open" may come before its "pid"
                    pytest.fail(f"unexpected output from the writer: {line}")
            kills_before_open += "opened" not in seen
            n_members = _check(root, added, fresh, retired, matches, n_members)
    finally:
        server.kill()
        server.wait()
    out, _ = reader.communicate(timeout=60)
    assert reader.returncode == 0 and out.startswith("ok"), out
    polls = int(out.split()[1])
    assert polls > 50, out
    assert len(added) > 100, "the writers were killed too early to test anything"
    # all members still load bit-identical at the end
    with Pool.open(root) as pool:
        for mid, digest in added.items():
            assert weights_hash(pool.weights(mid)) == digest


def test_a_writer_that_died_with_the_index_open_is_recovered(tmp_path):
    root = tmp_path / "pool"
    Pool.create(root, game="g", roles=["a"]).close()
    code = ("import os, sys, torch\n"
            "from league.pool import Pool\nfrom league.models import build_network, mlp_spec\n"
            "spec = mlp_spec(6, 3, [8])\np = Pool.open(sys.argv[1], 'a')\n"
            "for i in range(3): p.add('a', build_network(spec).state_dict(), spec=spec, hparams={}, step=i)\n"
            "p.record_match(['x', 'y'], [0, 1], [1, 2], [(30.0, 5.0), (20.0, 5.0)])\n"
            "os._exit(0)  # dies without closing: index.h5 stays flagged open for write\n")
    with Pool.open(root) as early_reader:
        subprocess.run([sys.executable, "-c", code, str(root)], check=True, cwd=ROOT, timeout=120)
        assert len(early_reader.members()) == 3  # a reader works on the dead writer's file
        ino = os.stat(root / "index.h5").st_ino
        with Pool.open(root, "a") as pool:
            assert os.stat(root / "index.h5").st_ino != ino  # rebuilt and replaced
            assert [m.games for m in pool.members()] == [1, 1, 0]
            pool.add("a", {k: v for k, v in pool.weights(0).items()}, spec=SPEC, hparams={}, step=9)
        assert len(early_reader.members()) == 4  # the reader followed the new file
    assert sorted(p.name for p in root.iterdir()) == ["index.h5", "weights", "writer.lock"]


def test_a_logged_match_whose_ratings_were_not_applied_is_replayed(tmp_path, monkeypatch):
    root = tmp_path / "pool"
    with Pool.create(root, game="g", roles=["a"]) as pool:
        for _ in range(2):
            pool.add("a", {}, spec={"kind": "random", "n_actions": 2}, hparams={}, step=0)
        real_apply = Pool._apply_post

        def crash_after_commit(self, post, *, write):
            if write:
                raise OSError("simulated crash after the match was committed")
            return real_apply(self, post, write=write)

        monkeypatch.setattr(Pool, "_apply_post", crash_after_commit)
        with pytest.raises(OSError, match="simulated"):
            pool.record_match(["x", "y"], [0, 1], [2, 1], [(20.0, 6.0), (30.0, 6.0)])
        monkeypatch.setattr(Pool, "_apply_post", real_apply)
        with Pool.open(root) as reader:  # readers apply the logged values themselves
            assert [(m.mu, m.games) for m in reader.members()] == [(20.0, 1), (30.0, 1)]
    with Pool.open(root, "a") as pool:
        assert [(m.mu, m.sigma, m.games) for m in pool.members()] == [(20.0, 6.0, 1), (30.0, 6.0, 1)]
        assert len(pool.matches()) == 1


def test_leftovers_of_a_rebuild_that_died_are_resolved(tmp_path):
    root = tmp_path / "pool"
    with Pool.create(root, game="g", roles=["a"]) as pool:
        pool.add("a", {}, spec={"kind": "random", "n_actions": 2}, hparams={}, step=0)
    os.replace(root / "index.h5", root / "index.h5.bak")      # died between backup and replace
    (root / "index.h5.rebuild.tmp").write_bytes(b"half a file")
    (root / "weights" / "7.safetensors.tmp").write_bytes(b"half a file")
    (root / "weights" / "3.safetensors").write_bytes(b"never committed")
    with Pool.open(root, "a") as pool:
        assert len(pool) == 1
    assert sorted(p.name for p in root.iterdir()) == ["index.h5", "weights", "writer.lock"]
    assert list((root / "weights").iterdir()) == []
