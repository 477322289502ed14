"""Helper processes for tests/test_pool_crash.py (not a test module itself).

``python tests/pool_crash_child.py serve POOL``
    Imports torch and league once, then for every ``write SEED`` line on stdin forks a writer
    that opens POOL for writing and adds members (with some record_match and retire calls) as
    fast as it can, printing ``pid N`` first, then ``open`` just before ``Pool.open`` and one
    line per returned call; the test SIGKILLs that writer and the server prints ``dead``.
    Forking saves the ~2 s torch import per trial, so 20+ kills fit in a short test.
``python tests/pool_crash_child.py read POOL SECONDS``
    Polls POOL read-only for SECONDS while writers come and go, checking that what it sees
    never goes backwards, and prints ``ok POLLS MAX_MEMBERS`` (or a traceback and exit 1).

Every printed line is flushed right after the call returns, so the test knows exactly which
calls had returned when the kill landed.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import time
import traceback

import torch

from league.models import expected_shapes, mlp_spec
from league.pool import Pool

SPEC = mlp_spec(6, 3, [8])
RANDOM = {"kind": "random", "n_actions": 3}
DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


def weights_hash(tensors: dict[str, torch.Tensor]) -> str:
    """Hash of names, dtypes, shapes and raw bytes: equal only for bit-identical weights."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}:".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:20]


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def write_forever(path: str, seed: int) -> None:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    shapes = expected_shapes(SPEC)
    say("open")
    with Pool.open(path, "a") as pool:
        say("opened")
        active = [m.id for m in pool.active()]
        while True:
            r = rng.random()
            if r < 0.15 and len(active) >= 2:
                ids = rng.sample(active, 2)
                rec = pool.record_match(["p0", "p1"], ids, [1, 2], [(rng.uniform(0, 50), rng.uniform(1, 8))
                                                                    for _ in ids], seed=rng.randrange(1000))
                say(f"match {rec.index} {ids[0]} {ids[1]}")
            elif r < 0.22 and active:
                victim = active.pop(rng.randrange(len(active)))
                pool.retire(victim, "crash-test")
                say(f"retire {victim}")
            else:
                if r > 0.95:
                    weights: dict[str, torch.Tensor] = {}
                    m = pool.add("b", weights, spec=RANDOM, hparams={}, step=0, anchor=True,
                                 state={"seed": seed})
                else:
                    dtype = DTYPES[rng.randrange(len(DTYPES))]
                    weights = {k: torch.randn(s, generator=gen).to(dtype) for k, s in shapes.items()}
                    m = pool.add("a", weights, spec=SPEC, hparams={"seed": seed}, step=rng.randrange(10**6))
                active.append(m.id)
                say(f"add {m.id} {weights_hash(weights)}")


def serve(path: str) -> None:
    for line in sys.stdin:
        cmd, arg = line.split()
        if cmd != "write":
            continue
        sys.stdout.flush()  # nothing buffered may be duplicated into the child
        pid = os.fork()
        if pid == 0:
            try:
                write_forever(path, int(arg))
            except BaseException:
                traceback.print_exc()
                sys.stdout.flush()
            finally:
                os._exit(3)
        say(f"pid {pid}")
        _, status = os.waitpid(pid, 0)
        say(f"dead {status}")


def read(path: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    polls, n_seen, matches_seen = 0, 0, 0
    with Pool.open(path, "r") as pool:
        while time.monotonic() < deadline:
            active = pool.active()  # before members: members only grow, so active <= members
            members = pool.members()
            log = pool.matches()
            assert len(members) >= n_seen, f"members went from {n_seen} to {len(members)}"
            assert len(log) >= matches_seen, f"matches went from {matches_seen} to {len(log)}"
            assert {m.id for m in active} <= {m.id for m in members}
            n_seen, matches_seen = len(members), len(log)
            if members:
                m = members[random.randrange(len(members))]
                w = pool.weights(m.id)
                assert (w == {}) == (m.spec["kind"] == "random")
            polls += 1
            time.sleep(0.002)
    say(f"ok {polls} {n_seen}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif sys.argv[1] == "read":
        try:
            read(sys.argv[2], float(sys.argv[3]))
        except BaseException:
            traceback.print_exc()
            sys.stdout.flush()
            sys.exit(1)
