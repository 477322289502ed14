"""How strong does the league make its players, against ground truth and per second of wall time?

Each game's league runs through the real command line, ``python -m league.run --config <toml>
seed=S max_seconds=T`` (the shipped configs by default), and the finished pool is measured at
fractions of ``T`` (``benchmarks/strength_measure.py``: the league at time ``t`` is the members
created by then).  Beside it, in the same script, on the same machine and at the same wall time,
the anchors (``benchmarks/strength_anchors.py``):

``kuhn_poker`` (2 players)
    exact exploitability (OpenSpiel, NashConv / 2; uniform random scores 0.458) of the newest
    pair, of the uniform mixture of the trained members and of the population policy the run
    stored; beside vanilla CFR (the tabular limit), OpenSpiel's PyTorch NFSP, and OpenSpiel's
    PSRO with an RL oracle where it can run (the output says why not).
``tictactoe``
    each role's best member (leaderboard rank), greedy, in its own seat: non-loss rate against
    the minimax reference and win rate against uniform random; beside plain PPO against random
    (half the time per seat) and naive self-play (the league with ``sampling.scheme = latest``).
``connect_four``
    each role's best member, greedy: win rate against depth-2 and depth-4 minimax.

    python benchmarks/strength.py                       # full run: see FULL_SECONDS, ~1 h on 2 cores
    python benchmarks/strength.py --quick --games kuhn_poker     # smoke run, about a minute
    python benchmarks/strength.py --games tictactoe --seeds 5 --seconds 600
    python benchmarks/strength.py --report-only         # rebuild table and plots from the CSV
    python benchmarks/strength.py --games kuhn_poker --methods nfsp --out /tmp/nfsp   # one method; append
        # /tmp/nfsp/strength.csv's rows (not its header) to the full run's CSV, then --report-only

Writes to ``--out`` (default ``benchmarks/results``): ``strength.csv`` (raw per-seed rows, appended
as jobs finish), ``strength.md`` (median [min-max] over seeds at each time mark) and
``strength_<game>.png``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import csv
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

# Run as a script, Python puts benchmarks/ on the path, not the repository root that holds it.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import strength_anchors as anchors  # noqa: E402
from benchmarks.strength_measure import PoolAtTime, board_rows, kuhn_rows  # noqa: E402
from benchmarks.strength_report import CSV_FIELDS, CSV_NAME, report, run_footer  # noqa: E402
from league.pool import Pool  # noqa: E402

GAMES = ("kuhn_poker", "tictactoe", "connect_four")
METHODS = {"kuhn_poker": ("league", "cfr", "nfsp"),
           "tictactoe": ("league", "selfplay_latest", "ppo_vs_random"),
           "connect_four": ("league",)}
CONFIGS = {g: ROOT / "configs" / f"{g}.toml" for g in GAMES}
FULL_SECONDS = {"kuhn_poker": 300.0, "tictactoe": 480.0, "connect_four": 600.0}
"""The wall times of issue 11's targets."""
QUICK_SECONDS = {"kuhn_poker": 8.0, "tictactoe": 8.0, "connect_four": 10.0}
FRACTIONS = (0.25, 0.5, 0.75, 1.0)
QUICK_FRACTIONS = (0.5, 1.0)
NAIVE_SELFPLAY = ("sampling.scheme=latest", "learner.opponents=sampling", "game.references=[]")
"""What turns the league into naive self-play: always the newest opponent, no reference anchors."""
QUICK_LEAGUE = ("evaluation.budget=16", "report.anchor_episodes=20", "population.episodes=40")
"""--quick: end-of-turn work sized to the tiny budgets (the end-of-run report is outside max_seconds)."""
QUICK_EPISODES = 0.1
"""--quick: share of the reference episodes played."""


@dataclass
class Job:
    """One measured run: a method on a game with a seed and a wall-time budget."""

    game: str
    method: str
    seed: int
    seconds: float
    fractions: tuple[float, ...]
    config: Path
    overrides: tuple[str, ...] = ()
    episode_scale: float = 1.0
    keep: Path | None = None
    """Keep the league's output directory under here (else a temporary directory)."""
    reuse: bool = False
    """Measure the run already in ``keep`` (when it holds a pool) instead of running it again."""


@dataclass
class JobResult:
    job: Job
    rows: list[dict[str, object]] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


def _run_league(job: Job, extra: Sequence[str]) -> list[tuple[float, str, float]]:
    """The real CLI, then the pool measured at each mark."""
    with tempfile.TemporaryDirectory(prefix=f"strength_{job.game}_") as tmp:
        base = job.keep if job.keep is not None else Path(tmp)
        out = base / f"{job.game}_{job.method}_seed{job.seed}"
        cmd = [sys.executable, "-m", "league.run", "--config", str(job.config), "--out", str(out), "--quiet",
               f"seed={job.seed}", f"max_seconds={job.seconds:g}", *job.overrides, *extra]
        reused = job.reuse and (out / "pool").exists()
        wall = None
        if not reused:
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=4 * job.seconds + 900)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd[1:])} exited {proc.returncode}: {proc.stderr.strip()[-800:]}")
        with Pool.open(out / "pool") as pool:
            view = PoolAtTime(pool)
            # The end mark is the whole pool, whenever its last member came: the league's budget
            # bounds training, not the end-of-run report.
            marks = {f: (None if f >= 1.0 else f * job.seconds) for f in job.fractions}
            rows = (kuhn_rows(view, marks) if job.game == "kuhn_poker"
                    else board_rows(view, job.game, marks, job.episode_scale))
            rows += [(1.0, "process_seconds", wall)] if wall is not None else []  # a reused run's is unknown
            rows += [(1.0, "run_seconds", float(pool.state.get("elapsed", 0.0))),
                     (1.0, "steps", float(pool.state.get("steps", 0))),
                     (1.0, "members", float(sum(not m.anchor for m in pool.members())))]
        return rows


def run_job(job: Job) -> JobResult:
    torch.set_num_threads(1)  # the machine's cores are shared: one per worker
    start = time.perf_counter()
    result = JobResult(job)
    try:
        if job.method == "league":
            rows = _run_league(job, ())
        elif job.method == "selfplay_latest":
            rows = _run_league(job, NAIVE_SELFPLAY)
        elif job.method == "cfr":
            rows = anchors.run_cfr(job.seconds, job.fractions)
        elif job.method == "nfsp":
            rows = anchors.run_nfsp(job.seconds, job.fractions, job.seed)
        elif job.method == "ppo_vs_random":
            rows = anchors.run_ppo_vs_random(job.config, job.overrides, job.seconds, job.fractions, job.seed,
                                             job.episode_scale)
        else:
            raise ValueError(f"unknown method {job.method!r}")
        if job.method in ("cfr", "nfsp", "ppo_vs_random"):
            rows.append((1.0, "process_seconds", time.perf_counter() - start))
        # The marks themselves, so a mark at which nothing could be measured still gets its column.
        rows += [(f, "mark_seconds", f * job.seconds) for f in job.fractions]
        result.rows = [{"game": job.game, "method": job.method, "seed": job.seed, "budget": job.seconds,
                        "fraction": f, "metric": m, "value": float(v)} for f, m, v in rows]
    except Exception as exc:  # one failed run must not lose the others' results
        result.error = f"{type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - start
    return result


def _worker_init() -> None:
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _per_game(values: Sequence[str], kind: type, name: str) -> dict[str, object]:
    """``--seconds 300`` (every game) or ``--seconds kuhn_poker=300 tictactoe=480``."""
    out: dict[str, object] = {}
    for v in values:
        game, sep, rest = v.partition("=")
        if not sep:
            out.update({g: kind(v) for g in GAMES})
        elif game in GAMES:
            out[game] = kind(rest)
        else:
            raise SystemExit(f"strength.py: {name} {v!r}: unknown game {game!r}; valid: {', '.join(GAMES)}")
    return out


def _overrides_for(game: str, items: Sequence[str]) -> list[str]:
    """The ``--override`` items for ``game``: ``GAME:KEY=VALUE`` for that game, ``KEY=VALUE`` for all."""
    out = []
    for item in items:
        prefix, sep, rest = item.partition(":")
        if sep and prefix in GAMES:
            if prefix == game:
                out.append(rest)
        else:
            out.append(item)
    return out


def _jobs(args: argparse.Namespace) -> tuple[list[Job], list[str]]:
    seconds = {**(QUICK_SECONDS if args.quick else FULL_SECONDS), **_per_game(args.seconds, float, "--seconds")}
    configs = {**CONFIGS, **_per_game(args.config, Path, "--config")}
    fractions = QUICK_FRACTIONS if args.quick else FRACTIONS
    seeds = args.seeds or (2 if args.quick else 3)
    notes, jobs = [], []
    for game in args.games:
        overrides = [*_overrides_for(game, args.override), *(QUICK_LEAGUE if args.quick else ())]
        for method in (m for m in METHODS[game] if args.methods is None or m in args.methods):
            if method == "nfsp" and (why := anchors.nfsp_unavailable()):
                notes.append(f"NFSP was not run: {why}.")
                continue
            # CFR is deterministic: one run stands for every seed.
            for seed in range(1 if method == "cfr" else seeds):
                jobs.append(Job(game, method, seed, float(seconds[game]), fractions, Path(configs[game]),
                                tuple(overrides), QUICK_EPISODES if args.quick else 1.0, args.keep_runs,
                                args.reuse_runs))
        if game == "kuhn_poker" and (why := anchors.psro_unavailable()):
            notes.append(why)
    # Longest first, so the last jobs to finish are short ones and every worker stays busy.
    jobs.sort(key=lambda j: -j.seconds)
    return jobs, notes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run of every code path")
    parser.add_argument("--games", nargs="+", default=list(GAMES), choices=GAMES)
    parser.add_argument("--methods", nargs="+", default=None, choices=sorted({m for ms in METHODS.values() for m in ms}),
                        help="run only these methods (default: every method of each game); with --out elsewhere, "
                             "the CSV rows can be appended to a full run's and rebuilt with --report-only")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per method (default 3; --quick 2)")
    parser.add_argument("--seconds", nargs="+", default=[], metavar="[GAME=]S",
                        help="wall seconds per run, for every game or per game (default: kuhn_poker 300, "
                             "tictactoe 480, connect_four 600; --quick 8 / 8 / 10)")
    parser.add_argument("--config", action="append", default=[], metavar="GAME=PATH",
                        help="league config of a game (default configs/<game>.toml)")
    parser.add_argument("--override", action="append", default=[], metavar="[GAME:]KEY=VALUE",
                        help="extra league config override, for every game or one game's (repeatable)")
    parser.add_argument("--workers", type=int, default=2, help="jobs run at once (one core each)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results",
                        help="output directory (default benchmarks/results)")
    parser.add_argument("--keep-runs", type=Path, default=None, help="keep the leagues' output directories here")
    parser.add_argument("--reuse-runs", action="store_true",
                        help="with --keep-runs: measure the leagues already kept there instead of running them "
                             "again (their process wall time is then not recorded)")
    parser.add_argument("--report-only", action="store_true", help="rebuild the table and plots from the CSV")
    args = parser.parse_args(argv)
    if args.reuse_runs and args.keep_runs is None:
        parser.error("--reuse-runs needs --keep-runs DIR (the directory that holds the runs)")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        print(report(args.out, None))
        return 0
    if args.keep_runs is not None:
        args.keep_runs = args.keep_runs.resolve()
        args.keep_runs.mkdir(parents=True, exist_ok=True)
    jobs, notes = _jobs(args)
    footer = run_footer(argv if argv is not None else sys.argv[1:], args, notes)
    start = time.perf_counter()
    failed = 0
    with (args.out / CSV_NAME).open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx, initializer=_worker_init) as ex:
            futures = [ex.submit(run_job, job) for job in jobs]
            for done, future in enumerate(cf.as_completed(futures), 1):
                res = future.result()
                writer.writerows(res.rows)
                fh.flush()  # a benchmark killed half-way still leaves every finished job's rows
                failed += res.error is not None
                status = f"FAILED {res.error}" if res.error else f"{len(res.rows)} rows"
                print(f"[{done}/{len(jobs)} {time.perf_counter() - start:.0f}s] {res.job.game} {res.job.method} "
                      f"seed {res.job.seed}: {res.seconds:.0f}s, {status}", flush=True)
    footer = footer.replace("{TOTAL}", f"{(time.perf_counter() - start) / 60:.1f}")
    print(report(args.out, footer))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
