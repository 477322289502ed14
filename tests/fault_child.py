"""Helper processes for tests/test_faults.py (not a test module itself).

``python tests/fault_child.py serve``
    Imports torch and league once, then for every command line on stdin forks a process that the
    test SIGKILLs, printing ``pid N`` for it and ``dead STATUS`` once it is gone:

    ``open POOL``      prints ``open``, opens POOL for writing (recovering, and rebuilding the
                       index of a writer that died with it open), prints ``opened`` and waits;
    ``report RUN_DIR`` resumes the league of a finished run directory (its pool opened for
                       writing, as ``league.run --resume`` does), prints ``opened``, then writes
                       the run's report over and over, printing ``report K`` after each.
``python tests/fault_child.py read POOL STOP_FILE``
    Polls POOL read-only until STOP_FILE exists, checking that nothing it sees goes backwards and
    that every member's weights load (digest checked); prints ``reading`` once the pool is open,
    then ``ok POLLS`` (or a traceback and exit 1).

Forking saves the ~2 s torch import per kill; every line is flushed at once.
"""

from __future__ import annotations

import os
import random
import sys
import time
import traceback
from pathlib import Path

import torch

from league.pool import Pool


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def hold_open(path: str) -> None:
    say("open")
    with Pool.open(path, "a"):
        say("opened")
        while True:
            time.sleep(1)


def report_forever(run_dir: str) -> None:
    from league.config import load_config
    from league.orchestration.league import League
    from league.orchestration.report import write_report

    out = Path(run_dir)
    # Fewer anchor games than the run's own report: a kill test needs many reports, not good ones.
    config = load_config(out / "config.toml", ["report.anchor_episodes=8"])
    league = League(config, out, resume=True, log=open(os.devnull, "w"))
    say("opened")
    k = 0
    while True:
        write_report(league, out)
        k += 1
        say(f"report {k}")


def serve() -> None:
    for line in sys.stdin:
        cmd, arg = line.split(maxsplit=1)
        target = {"open": hold_open, "report": report_forever}[cmd]
        sys.stdout.flush()  # nothing buffered may be duplicated into the child
        pid = os.fork()
        if pid == 0:
            try:
                target(arg.strip())
            except BaseException:
                traceback.print_exc()
                sys.stdout.flush()
            finally:
                os._exit(3)
        say(f"pid {pid}")
        _, status = os.waitpid(pid, 0)
        say(f"dead {status}")


def read(path: str, stop: str) -> None:
    polls, n_seen, matches_seen = 0, 0, 0
    with Pool.open(path, "r") as pool:
        say("reading")
        while not os.path.exists(stop):
            members = pool.members()
            log = pool.matches()
            assert len(members) >= n_seen, f"members went from {n_seen} to {len(members)}"
            assert len(log) >= matches_seen, f"matches went from {matches_seen} to {len(log)}"
            n_seen, matches_seen = len(members), len(log)
            # active ones: pruning may delete a retired member's weights
            with_files = [m for m in members if m.active and m.spec.get("kind") != "random"]
            if with_files:
                assert pool.weights(random.choice(with_files).id)
            polls += 1
            time.sleep(0.002)
    say(f"ok {polls}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    if sys.argv[1] == "serve":
        serve()
    elif sys.argv[1] == "read":
        try:
            read(sys.argv[2], sys.argv[3])
        except BaseException:
            traceback.print_exc()
            sys.stdout.flush()
            sys.exit(1)
