"""A league killed at any moment and resumed ends as the uninterrupted run of its config.

The slow test SIGKILLs a small tic-tac-toe league at random moments (1-3 kills a trial, each
followed by ``--resume``) and compares what it leaves with an uninterrupted run: every member
(role, version, parent, step, hparams, rating, games, active/retired, weights bit for bit), every
logged match (seating, ranks, seed, returns), every metrics.csv row (less its wall-time cells), the
run state (less the wall time) and the report's win rates against the random anchors.  Pruning is
on (``bottom_k``), so kills land in it too.  Each session is a child forked from the test after it
imported torch, so that the ~30 sessions do not each spend seconds importing it.

The fast tests pin the two mechanisms that make it so: an evaluation replayed from its log ends
where the uninterrupted one does, and a replay that does not match the log is refused.
"""

import csv
import hashlib
import json
import os
import random
import shutil
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

import pytest

from league.errors import ResumeMismatchError
from league.evaluation.evaluator import EvaluationConfig, Evaluator
from league.pool import Pool

CONFIG = str(Path(__file__).parents[1] / "configs" / "tictactoe.toml")
ARGS = ["--config", CONFIG, "rotations=2", "max_seconds=none",
        "bootstrap.max_steps=1024", "training.max_steps=1024", "bootstrap.eval_every=512",
        "training.eval_every=512", "bootstrap.eval_episodes=32", "training.eval_episodes=32",
        "ppo.n_envs=8", "evaluation.budget=40", "evaluation.episodes_per_match=4", "population.episodes=8",
        "report.anchor_episodes=16",
        'pruning.rules=["bottom_k"]', "pruning.min_games=4"]
TRIALS = 10
# metrics.csv columns that measure wall time; every other cell must repeat exactly.
TIMED = {"run_seconds", "elapsed", "steps_per_s", "rollout_s", "update_s"}


# ------------------------------------------------------------------------------ comparing runs

def snapshot(run_dir: Path) -> dict:
    """What a finished run leaves that must not depend on how often it was killed."""
    with Pool.open(run_dir / "pool") as pool:
        members = []
        for m in pool.members():
            digest = hashlib.sha256()
            for name, tensor in sorted(pool.weights(m.id).items()):
                digest.update(name.encode())
                digest.update(tensor.numpy().tobytes())
            members.append(dict(id=m.id, role=m.role, version=m.version, parent=m.parent, step=m.step,
                                hparams=dict(m.hparams), mu=m.mu, sigma=m.sigma, games=m.games,
                                active=m.active, retired=m.retired_reason, weights=digest.hexdigest()))
        matches = [dict(seats=r.seats, ids=r.member_ids, ranks=r.ranks, seed=r.seed, kind=r.kind,
                        returns=r.returns, episodes=r.episodes) for r in pool.matches()]
        state = {k: v for k, v in pool.state.items() if k != "elapsed"}  # wall time differs, of course
    report = json.loads((run_dir / "win_vs_random.json").read_text())
    with (run_dir / "metrics.csv").open(newline="") as fh:
        metrics = [{k: v for k, v in row.items() if k not in TIMED} for row in csv.DictReader(fh)]
    # Through JSON, so that tuples and lists compare alike.
    return json.loads(json.dumps(dict(members=members, matches=matches, metrics=metrics, state=state,
                                      report=report)))


def differences(ref: dict, got: dict) -> list[str]:
    out = []
    for key in ("members", "matches", "metrics"):
        if len(ref[key]) != len(got[key]):
            out.append(f"{key}: {len(ref[key])} in the uninterrupted run, {len(got[key])} here")
        for i, (a, b) in enumerate(zip(ref[key], got[key])):
            out += [f"{key}[{i}].{k}: {a[k]!r} != {b.get(k)!r}" for k in a if a[k] != b.get(k)]
    out += [f"{key} differs" for key in ("state", "report") if ref[key] != got[key]]
    return out


def session(argv: list[str], log: Path, kill_after: float | None = None,
            after_line: tuple[str, int] | None = None) -> tuple[bool, int]:
    """``python -m league.run argv`` in a forked child, SIGKILLed after ``kill_after`` seconds
    unless it ends first; (killed, exit status).  With ``after_line = (text, n)`` the seconds
    count from the ``n``-th line of this session's log that holds ``text`` (no kill if none
    comes).  The child inherits this process's imports (torch, the games), so a session starts
    in milliseconds instead of seconds."""
    start = log.stat().st_size if log.exists() else 0
    pid = os.fork()
    if pid == 0:  # the child: the CLI, its output to the log, never back into pytest
        rc = 99
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.stdout = sys.stderr = open(fd, "w", buffering=1)  # not a terminal: no progress bars
            from league.run import main

            rc = main(argv)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            os._exit(rc)
    deadline = None if kill_after is None or after_line is not None else time.monotonic() + kill_after
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return False, os.waitstatus_to_exitcode(status)
        if deadline is None and after_line is not None and kill_after is not None and log.exists():
            with log.open() as fh:
                fh.seek(start)
                if fh.read().count(after_line[0]) >= after_line[1]:
                    deadline = time.monotonic() + kill_after
        if deadline is not None and time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return True, -9
        time.sleep(0.01)


def text(log: Path) -> str:
    return log.read_text() if log.exists() else ""


def stage_at_kill(log: str) -> str:
    """Where the log says the run was when it was killed (for the coverage line the test prints)."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    for needle, stage in ((": training", "training"), ("added ", "evaluation"), ("nothing added", "evaluation"),
                          ("evaluated ", "pruning/population"), ("retired member", "population"),
                          ("population policy", "next turn or report"), ("report:", "exit")):
        if needle in last:
            return stage
    return "startup"


@pytest.mark.slow
def test_random_kills_then_resume_end_as_the_uninterrupted_run(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    import torch  # noqa: F401  (imported once here, inherited by every session)

    import league.orchestration  # noqa: F401
    import league.run  # noqa: F401

    t0 = time.monotonic()
    killed, rc = session(["--out", str(tmp_path / "ref"), *ARGS], tmp_path / "ref.log", None)
    length = time.monotonic() - t0
    assert rc == 0, (tmp_path / "ref.log").read_text()
    ref = snapshot(tmp_path / "ref")
    assert ref["members"] and ref["matches"]
    assert any(not m["active"] for m in ref["members"]), "pruning never ran: the kills cannot test it"

    rng = random.Random(15)
    kills, found, stages = 0, {}, []
    for trial in range(TRIALS):
        out, log = tmp_path / f"trial{trial}", tmp_path / f"trial{trial}.log"
        for k in range(rng.randint(1, 3)):
            if not (out / "config.toml").exists() and out.exists():
                # Killed after the pool was made but before config.toml was written: nothing
                # of the run's own was committed yet, so it starts over.
                shutil.rmtree(out)
            argv = ["--resume", str(out)] if out.exists() else ["--out", str(out), *ARGS]
            seen = text(log)
            # Half the kills at a random moment of the run's length; the rest aimed at the short
            # stages, a random moment after the line that starts them (the n-th in this session).
            aim = rng.choice(["time", "time", "evaluation", "pruning", "population", "report"])
            if aim == "time":
                killed, rc = session(argv, log, rng.uniform(0.05, 0.95) * length)
            else:
                line, delay = {"evaluation": ("added ", 0.5), "pruning": ("evaluated ", 0.01),
                               "population": ("evaluated ", 0.3), "report": ("population policy", 1.0)}[aim]
                killed, rc = session(argv, log, rng.uniform(0.0, delay), after_line=(line, rng.randint(1, 3)))
            if killed:
                kills += 1
                stages.append(stage_at_kill(text(log)[len(seen):]))
            else:
                assert rc == 0, log.read_text()
        if not (out / "config.toml").exists() and out.exists():
            shutil.rmtree(out)
        argv = ["--resume", str(out)] if out.exists() else ["--out", str(out), *ARGS]
        _, rc = session(argv, log, None)
        assert rc == 0, log.read_text()
        diff = differences(ref, snapshot(out))
        if diff:
            found[trial] = diff
    print(f"{kills} kills in {TRIALS} trials (run length {length:.1f} s), by stage: {dict(Counter(stages))}")
    assert kills >= TRIALS, f"only {kills} kills landed before their run ended"
    assert not found, "\n".join(f"trial {t}: {len(d)} differences, first: {d[:5]}" for t, d in found.items())


# ------------------------------------------------------------------------------ the evaluator's replay

class Member:
    def __init__(self, i: int, mu: float):
        self.id, self.role, self.mu, self.sigma, self.games = i, "p", mu, 8.0, 0


class Logged:
    """A match as a pool logs it, from the result the evaluator returned."""

    def __init__(self, result):
        self.seats = tuple(result.seating)
        self.member_ids = tuple(result.seating.values())
        self.ranks = tuple(result.ranks[s] for s in self.seats)
        self.seed, self.returns, self.episodes = result.seed, None, 1


def play_by_strength(seating):
    """Deterministic given the seating's seed: the higher id wins 70 % of its matches."""
    a, b = seating["a"], seating["b"]
    first = random.Random(seating.seed).random() < (0.7 if a > b else 0.3)
    return {"a": 1 if first else 2, "b": 2 if first else 1}


def evaluator(seed: int = 5) -> Evaluator:
    members = [Member(i, 20.0 + i) for i in range(6)]
    return Evaluator(["a", "b"], members, config=EvaluationConfig(budget=30, batch=4, seed=seed))


@pytest.mark.parametrize("done", [1, 4, 9, 29])
def test_a_replayed_evaluation_ends_where_the_uninterrupted_one_does(done):
    whole = evaluator()
    results = whole.run(play_by_strength)
    # Interrupted after `done` matches (mid-batch for most): a new evaluator from the same start
    # replays them and plays only the rest.
    resumed = evaluator()
    played = []
    rest = resumed.run(lambda s: played.append(dict(s)) or play_by_strength(s),
                       replay=[Logged(r) for r in results[:done]])
    assert len(played) == 30 - done
    assert [r.seating for r in rest] == [r.seating for r in results]
    assert [r.seed for r in rest] == [r.seed for r in results]
    assert resumed.ratings == whole.ratings and resumed.games == whole.games


def test_a_replay_that_does_not_match_the_log_is_refused_before_anything_is_played():
    results = evaluator(seed=5).run(play_by_strength)
    played = []
    with pytest.raises(ResumeMismatchError, match="logged match"):
        evaluator(seed=6).run(lambda s: played.append(s) or play_by_strength(s),
                              replay=[Logged(r) for r in results[:6]])
    assert played == []
