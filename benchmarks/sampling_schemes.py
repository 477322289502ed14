"""Which opponent-sampling scheme trains the best league?  Measured against ground truth.

Every scheme of ``league.population.sampling``, and ``nash`` (PSRO: opponents drawn from the other
roles' Nash population policy, ``learner.opponents = "population"``), runs the same real league
(``league.orchestration.League``):
same game, same per-role hyperparameters (drawn from the run seed), same learner-step budget
(every turn runs to ``max_steps``: no target, no patience, so the budget is exactly equal), same
evaluation and pruning.  After every turn the league is measured against something that does not
depend on the league's own ratings:

``rps`` (one round per episode, so the policy at the first observation *is* the strategy)
    exploitability of the newest member of each role (the best pure reply's payoff, averaged over
    the two roles, i.e. NashConv / 2), and of the population mixture of each role's active
    trained members, uniform and rating-weighted (weights ``exp(mu / beta)``).
``kuhn_poker`` (2 players)
    OpenSpiel's exact exploitability (NashConv / 2) of the tabular policy read out of the newest
    members, and of the population mixtures (reach-weighted, ``benchmarks/groundtruth.py``).
``tictactoe``, ``connect_four``
    win / draw / loss rate of each role's best-rated member (conservative rating), in its own
    seat, against the game's minimax reference (depth-limited in connect four) and against
    uniform random, averaged over the two roles; measured after every rotation.

Anchors (the uniform-random members every league starts with) are left out of the population
mixtures: in rps the anchor *is* the equilibrium and would flatter whichever scheme prunes least.

    python benchmarks/sampling_schemes.py            # full run, 20-45 min on 2 cores (load)
    python benchmarks/sampling_schemes.py --quick    # smoke run, ~2 min
    python benchmarks/sampling_schemes.py --report-only   # rebuild table and plots from the CSV

Writes to ``--out`` (default ``benchmarks/results``): ``sampling_schemes.csv`` (raw per-seed
numbers, one row per game, scheme, seed, turn and metric, appended as runs finish),
``sampling_schemes.md`` (mean +- 95 % t-interval over seeds at the end of the run, and the mean over
the run), ``sampling_schemes_<game>.png`` (each metric against learner steps).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import csv
import io
import math
import multiprocessing
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyspiel
import torch

# Run as a script, Python puts benchmarks/ on the path, not the repository root that holds it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import envs  # noqa: E402
from benchmarks.groundtruth import (  # noqa: E402
    ProbsFn, kuhn_exploitability, kuhn_mixture_policy, kuhn_tabular_policy, mixture, network_probs,
    rps_exploitability, rps_strategy, uniform_probs)
from league.training.callbacks import EvalCallback  # noqa: E402
from league.config import load_config  # noqa: E402
from league.orchestration import League, Turn  # noqa: E402
from league.models import load_network  # noqa: E402

SCHEMES = ("latest", "uniform", "pfsp_hard", "pfsp_var", "window", "alphastar_main", "nash")
PSRO_SCHEMES = {"nash": ("learner.opponents=population", "population.solver=nash")}
"""Opponents drawn from the other roles' population policy (PSRO) rather than by a sampling scheme:
the name is the meta-solver's."""
GAMES = ("rps", "kuhn_poker", "tictactoe", "connect_four")
CSV_FIELDS = ("game", "scheme", "seed", "turn", "rotation", "steps", "metric", "value")
CSV_NAME = "sampling_schemes.csv"


@dataclass(frozen=True)
class Setup:
    """How one game's leagues are sized (the same for every scheme and seed)."""

    kwargs: dict[str, Any]
    """``envs.make`` keyword arguments."""
    rotations: int
    """League rotations after the bootstrap."""
    bootstrap_steps: int
    """Learner steps of each role's bootstrap turn (against the random anchors)."""
    turn_steps: int
    """Learner steps of each league turn."""
    eval_budget: int
    """Rated evaluation matches after each turn (what the ratings, hence PFSP, are built from)."""
    ref_episodes: int = 0
    """Board games: episodes per role against each reference when measuring."""
    width: int = 32
    """Hidden width of every network (one hidden layer)."""
    seeds: int = 3
    """Seeds per scheme (the command line's --seeds overrides it for every game)."""
    extra: tuple[str, ...] = ()
    """More ``key=value`` config overrides."""

    def overrides(self, game: str, scheme: str, seed: int) -> list[str]:
        """The ``RunConfig`` overrides of one run."""
        kwargs = ", ".join(f"{k} = {v!r}" for k, v in self.kwargs.items())
        # Two evaluations per turn: the turn keeps the better of them (and of its start).
        every = max(1, self.turn_steps // 2)
        return [
            f"seed={seed}", f"rotations={self.rotations}", f"game.name={game}", f"game.kwargs={{{kwargs}}}",
            *(PSRO_SCHEMES[scheme] if scheme in PSRO_SCHEMES else (f"sampling.scheme={scheme}",)),
            f"bootstrap.max_steps={self.bootstrap_steps}", f"bootstrap.eval_every={self.bootstrap_steps}",
            "bootstrap.patience=none", "bootstrap.eval_episodes=100",
            f"training.max_steps={self.turn_steps}", f"training.eval_every={every}",
            "training.patience=none", "training.eval_episodes=100",
            f"evaluation.budget={self.eval_budget}", "report.anchor_episodes=0", "report.progress=false",
            # One rollout length for every role, so that the step budget is equal to the step.
            f"hparams.width=[{self.width}]", "hparams.depth=[1, 1]", "hparams.n_steps=[64]",
            "hparams.epochs=[2, 4]", "ppo.n_envs=16", "ppo.minibatches=4",
            *self.extra,
        ]


# PPO for the matrix-like games: short rollouts (many small updates per turn) and a fixed
# learning rate, so a turn can move a policy far enough for the league's dynamics to show; with
# the board-game defaults every rps policy stays within a few percent of uniform.
_SMALL_GAME_PPO = ("hparams.n_steps=[16]", "ppo.minibatches=2", "hparams.lr=[0.003, 0.003]")
_QUICK = ("ppo.n_envs=8",)

FULL: dict[str, Setup] = {
    # rps and Kuhn runs are cheap and their outcomes vary much between seeds: more seeds there.
    # Budgets doubled (rps) and more (Kuhn: 5 -> 12 rotations) after the first run, whose intervals
    # overlapped: a longer league gives PFSP and the population policy room to pull apart.
    "rps": Setup({"max_cycles": 1}, rotations=16, bootstrap_steps=1024, turn_steps=1536, eval_budget=40,
                 extra=(*_SMALL_GAME_PPO, "hparams.ent_coef=[0.003, 0.01]"), seeds=10),
    "kuhn_poker": Setup({"num_players": 2}, rotations=12, bootstrap_steps=4096, turn_steps=4096,
                        eval_budget=40, extra=_SMALL_GAME_PPO, seeds=8),
    "tictactoe": Setup({}, rotations=3, bootstrap_steps=16384, turn_steps=8192, eval_budget=40,
                       ref_episodes=100, width=64),
    "connect_four": Setup({"depth": 2}, rotations=2, bootstrap_steps=12288, turn_steps=8192,
                          eval_budget=40, ref_episodes=60, width=64),
}
QUICK: dict[str, Setup] = {
    "rps": Setup({"max_cycles": 1}, rotations=2, bootstrap_steps=256, turn_steps=256, eval_budget=8,
                 extra=(*_SMALL_GAME_PPO, *_QUICK)),
    "kuhn_poker": Setup({"num_players": 2}, rotations=1, bootstrap_steps=256, turn_steps=256,
                        eval_budget=8, extra=(*_SMALL_GAME_PPO, *_QUICK)),
    "tictactoe": Setup({}, rotations=1, bootstrap_steps=512, turn_steps=512, eval_budget=8,
                       ref_episodes=8, extra=_QUICK),
    "connect_four": Setup({"depth": 1}, rotations=1, bootstrap_steps=512, turn_steps=512, eval_budget=6,
                          ref_episodes=4, extra=_QUICK),
}

METRICS: dict[str, tuple[str, ...]] = {
    "rps": ("latest_expl", "pop_uniform_expl", "pop_rated_expl", "pop_nash_expl"),
    "kuhn_poker": ("latest_expl", "pop_uniform_expl", "pop_rated_expl", "pop_nash_expl"),
    "tictactoe": ("minimax_win", "minimax_draw", "minimax_loss", "random_win", "random_draw", "random_loss"),
    "connect_four": ("minimax_win", "minimax_draw", "minimax_loss", "random_win", "random_draw", "random_loss"),
}
METRIC_LABELS = {
    "latest_expl": "exploitability, newest members",
    "pop_uniform_expl": "exploitability, population (uniform)",
    "pop_rated_expl": "exploitability, population (rating-weighted)",
    "pop_nash_expl": "exploitability, population policy (Nash, stored)",
    "minimax_win": "best vs minimax: win", "minimax_draw": "best vs minimax: draw",
    "minimax_loss": "best vs minimax: loss", "random_win": "best vs random: win",
    "random_draw": "best vs random: draw", "random_loss": "best vs random: loss",
}


# ------------------------------------------------------------------------------------------------
# One run: a league whose every turn is measured.
# ------------------------------------------------------------------------------------------------

@dataclass
class Job:
    """One (game, scheme, seed) league."""

    game: str
    scheme: str
    seed: int
    setup: Setup


@dataclass
class JobResult:
    """The rows one run produced and how long it took."""

    job: Job
    rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


class _Measure:
    """Ground-truth measurements of a live league; ``__call__`` after each turn."""

    def __init__(self, league: League, job: Job):
        self.league = league
        self.job = job
        self.game = league.game
        self.rows: list[dict[str, Any]] = []
        self.spiel = pyspiel.load_game("kuhn_poker") if job.game == "kuhn_poker" else None
        self._nets: dict[int, ProbsFn] = {}
        self._strategies: dict[int, np.ndarray] = {}  # member id -> rps strategy; members are frozen

    def _probs(self, member_id: int) -> ProbsFn:
        if member_id not in self._nets:
            m = self.league.pool.member(member_id)
            self._nets[member_id] = network_probs(load_network(m.spec, self.league.pool.weights(member_id)))
        return self._nets[member_id]

    def _member_probs(self, member_id: int) -> ProbsFn:
        """A member's action probabilities; uniform over legal actions for a weightless anchor."""
        m = self.league.pool.member(member_id)
        if m.spec.get("kind") != "random":
            return self._probs(member_id)
        return uniform_probs(int(m.spec["n_actions"]))

    def _population_policy(self) -> list[dict[int, float]] | None:
        """Each role's stored population policy (the league's answer: Nash over the payoff table
        after every turn, whatever the scheme), as member id -> weight; None before the first."""
        stored = self.league.pool.state.get("population") or {}
        mixes = [{int(k): float(w) for k, w in stored.get(role, {}).items() if w > 0} for role in self.league.roles]
        return mixes if all(mixes) else None

    def _trained(self, role: str, active: bool) -> list[Any]:
        members = self.league.pool.active(role) if active else self.league.pool.members(role)
        return [m for m in members if not m.anchor and m.spec.get("kind") == "mlp"]

    def __call__(self, turn: Turn) -> None:
        roles = self.league.roles
        if any(not self._trained(r, active=False) for r in roles):
            return  # the bootstrap has not reached every role yet: nothing to compare
        last_of_rotation = turn.role == roles[-1]
        if self.job.game in ("tictactoe", "connect_four") and not last_of_rotation:
            return  # reference games are costly: measure once per rotation
        # The run's learner steps so far: a turn that adds no member (its best checkpoint was its
        # starting member) still spent its budget, so the members' own step counts fall short.
        steps = int(self.league.pool.state["steps"])
        measure = {"rps": self._rps, "kuhn_poker": self._kuhn_poker, "tictactoe": self._vs_references,
                   "connect_four": self._vs_references}[self.job.game]
        values = measure()
        for metric, value in values.items():
            self.rows.append({"game": self.job.game, "scheme": self.job.scheme, "seed": self.job.seed,
                              "turn": turn.index, "rotation": turn.rotation, "steps": steps,
                              "metric": metric, "value": float(value)})

    def _populations(self) -> tuple[list[list[Any]], list[list[int]], list[np.ndarray]]:
        """Per role: newest member's readout, active trained members, and their rating weights."""
        beta = float(self.league.ratings.beta)
        newest, population, weights = [], [], []
        for role in self.league.roles:
            newest.append(max(self._trained(role, active=False), key=lambda m: m.id).id)
            active = self._trained(role, active=True)
            population.append([m.id for m in active])
            mu = np.array([m.mu for m in active])
            w = np.exp((mu - mu.max()) / beta)  # softmax of mu on TrueSkill's performance scale
            weights.append(w / w.sum())
        return newest, population, weights

    def _rps(self) -> dict[str, float]:
        newest, population, weights = self._populations()
        out: dict[str, list[float]] = defaultdict(list)
        for r, role in enumerate(self.league.roles):
            seat = self.league.seat_of[role]
            for i in {newest[r], *population[r]} - set(self._strategies):
                self._strategies[i] = rps_strategy(self._probs(i), self.game, seat)
            strat = self._strategies
            out["latest_expl"].append(rps_exploitability(strat[newest[r]]))
            members = [strat[i] for i in population[r]]
            out["pop_uniform_expl"].append(rps_exploitability(mixture(members)))
            out["pop_rated_expl"].append(rps_exploitability(mixture(members, weights[r])))
        mixes = self._population_policy()
        if mixes is not None:
            for r, role in enumerate(self.league.roles):
                seat = self.league.seat_of[role]
                strategies = [rps_strategy(self._member_probs(i), self.game, seat) for i in mixes[r]]
                out["pop_nash_expl"].append(rps_exploitability(mixture(strategies, list(mixes[r].values()))))
        return {k: float(np.mean(v)) for k, v in out.items()}

    def _kuhn_poker(self) -> dict[str, float]:
        newest, population, weights = self._populations()
        g = self.spiel
        pops = [[self._probs(i) for i in ids] for ids in population]
        return {
            "latest_expl": kuhn_exploitability(g, kuhn_tabular_policy(g, [self._probs(i) for i in newest])),
            "pop_uniform_expl": kuhn_exploitability(g, kuhn_mixture_policy(g, pops)),
            "pop_rated_expl": kuhn_exploitability(g, kuhn_mixture_policy(g, pops, weights)),
            **({} if (mixes := self._population_policy()) is None else {"pop_nash_expl": kuhn_exploitability(
                g, kuhn_mixture_policy(g, [[self._member_probs(i) for i in mix] for mix in mixes],
                                       [list(mix.values()) for mix in mixes]))}),
        }

    def _vs_references(self) -> dict[str, float]:
        out: dict[str, list[float]] = defaultdict(list)
        for role in self.league.roles:
            best = self.league.best_member(role)
            net = load_network(best.spec, self.league.pool.weights(best.id))
            seat = self.league.seat_of[role]
            for ref in ("minimax", "random"):
                env = envs.SelfPlayVecEnv(self.game, seat, envs.ReferenceOpponents(self.game, ref), 8,
                                          seed=10_000 + self.job.seed)
                ev = EvalCallback(env, episodes=self.job.setup.ref_episodes, greedy=False,
                                  seed=20_000 + self.job.seed).evaluate(net)
                out[f"{ref}_win"].append(ev.win_rate)
                out[f"{ref}_draw"].append(ev.draw_rate)
                out[f"{ref}_loss"].append(ev.loss_rate)
        return {k: float(np.mean(v)) for k, v in out.items()}


def run_job(job: Job) -> JobResult:
    """Run one league in a temporary directory, measuring after every turn."""
    torch.set_num_threads(1)  # the machine's two cores are shared: one per worker
    start = time.perf_counter()
    result = JobResult(job)
    config = load_config(None, job.setup.overrides(job.game, job.scheme, job.seed))
    with tempfile.TemporaryDirectory(prefix=f"schemes_{job.game}_{job.scheme}_") as tmp:
        # The League's per-turn hook runs after a turn's pruning: the pool then holds the turn's
        # member, its evaluated ratings and the active index the next turn will sample from.
        league = League(config, tmp, log=io.StringIO(), on_turn=lambda lg, turn: measure(turn))
        measure = _Measure(league, job)
        try:
            league.run()
        except Exception as exc:  # one failed run must not lose the others' hours of results
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            result.rows = measure.rows
            league.close()
    result.seconds = time.perf_counter() - start
    return result


def _worker_init() -> None:
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


# ------------------------------------------------------------------------------------------------
# Results: CSV, table, plots.
# ------------------------------------------------------------------------------------------------

def read_rows(path: Path) -> list[dict[str, Any]]:
    """The raw CSV, typed."""
    with path.open(newline="") as fh:
        return [{**r, "seed": int(r["seed"]), "turn": int(r["turn"]), "rotation": int(r["rotation"]),
                 "steps": int(r["steps"]), "value": float(r["value"])} for r in csv.DictReader(fh)]


def interval(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95 % Student-t interval (nan half-width for one value)."""
    from scipy.stats import t

    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return float(x.mean()), math.nan
    return float(x.mean()), float(t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))


def _series(rows: list[dict[str, Any]], game: str, metric: str
            ) -> dict[str, dict[int, dict[int, float]]]:
    """scheme -> seed -> steps -> value."""
    out: dict[str, dict[int, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        if r["game"] == game and r["metric"] == metric:
            out[r["scheme"]][r["seed"]][r["steps"]] = r["value"]
    return out


def _cell(values: Sequence[float]) -> str:
    mean, half = interval(values)
    return f"{mean:.3f}" if math.isnan(half) else f"{mean:.3f} ± {half:.3f}"


def table(rows: list[dict[str, Any]], setups: dict[str, Setup], footer: str) -> str:
    """The Markdown report: per game, final values and (for exploitability) the mean over the run."""
    games = [g for g in GAMES if any(r["game"] == g for r in rows)]
    lines = ["# Opponent-sampling schemes against ground truth", "",
             "Each cell: mean ± 95 % t-interval over seeds (`n` seeds). Every scheme gets the same "
             "learner-step budget, the same per-role hyperparameters (drawn from the seed) and the "
             "same evaluation budget. Exploitability is NashConv / 2 (0 = Nash equilibrium; a pure "
             "strategy scores 1 in rps, uniform random scores 0.458 in Kuhn). `pop` = mixture of each "
             "role's active trained members (anchors excluded), `uniform` or `rated` "
             "(weights exp(mu / beta)); Kuhn mixtures are reach-weighted. Board games: each role's "
             "best-rated member (mu - 3 sigma) in its own seat, sampled actions, averaged over roles.",
             ""]
    for game in games:
        setup = setups[game]
        metrics = [m for m in METRICS[game] if any(r["game"] == game and r["metric"] == m for r in rows)]
        steps_end = max(r["steps"] for r in rows if r["game"] == game)
        lines += [f"## {game}", "",
                  f"`{setup.kwargs}`, bootstrap {setup.bootstrap_steps} + {setup.rotations} rotations x "
                  f"{setup.turn_steps} learner steps per role, {setup.eval_budget} rated matches per turn"
                  + (f", {setup.ref_episodes} episodes per role per reference" if setup.ref_episodes else "")
                  + f"; values at the end of the run ({steps_end} learner steps).", ""]
        head = "| scheme | n | " + " | ".join(METRIC_LABELS[m] for m in metrics) + " |"
        lines += [head, "|---|---|" + "---|" * len(metrics)]
        for scheme in SCHEMES:
            cells, n = [], 0
            for m in metrics:
                per_seed = _series(rows, game, m).get(scheme, {})
                finals = [s[max(s)] for s in per_seed.values() if s]
                n = max(n, len(finals))
                cells.append(_cell(finals) if finals else "-")
            if n:
                lines.append(f"| {scheme} | {n} | " + " | ".join(cells) + " |")
        if game in ("rps", "kuhn_poker"):
            lines += ["", "Mean over every measured turn of the run (area under the curve / steps):", "",
                      head, "|---|---|" + "---|" * len(metrics)]
            for scheme in SCHEMES:
                cells, n = [], 0
                for m in metrics:
                    per_seed = _series(rows, game, m).get(scheme, {})
                    means = [float(np.mean(list(s.values()))) for s in per_seed.values() if s]
                    n = max(n, len(means))
                    cells.append(_cell(means) if means else "-")
                if n:
                    lines.append(f"| {scheme} | {n} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append(footer)
    return "\n".join(lines) + "\n"


def code_version() -> str:
    """The commit the league code was at (taken when a run starts: the code moves fast)."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " plus uncommitted changes" if git("status", "--porcelain", "league", "envs", "ratings") else ""
    return f"`{commit}`{dirty}"


def run_footer(seconds: float, quick: bool, code: str) -> str:
    """How, where and from which code the results were made."""
    mode = " --quick" if quick else ""
    return (f"Run time {seconds / 60:.1f} min wall, {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, code at {code}; "
            f"`python benchmarks/sampling_schemes.py{mode}`. Raw per-seed numbers: `{CSV_NAME}`; "
            f"curves: `sampling_schemes_<game>.png`.")


def plot(rows: list[dict[str, Any]], game: str, path: Path) -> None:
    """Each metric against learner steps: mean over seeds, shaded 95 % interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in METRICS[game] if any(r["game"] == game and r["metric"] == m for r in rows)]
    cols = 3
    nrows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.3 * nrows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        series = _series(rows, game, metric)
        for k, scheme in enumerate(SCHEMES):  # fixed order: a scheme has one colour in every plot
            per_seed = series.get(scheme)
            if not per_seed:
                continue
            steps = sorted(set.intersection(*(set(s) for s in per_seed.values())))
            if not steps:
                continue
            stats = [interval([s[x] for s in per_seed.values()]) for x in steps]
            mean = np.array([m for m, _ in stats])
            half = np.nan_to_num(np.array([h for _, h in stats]))
            (line,) = ax.plot(steps, mean, marker=".", label=scheme, color=f"C{k}")
            # Every metric lies in [0, 1]; a t-interval from 3 seeds can overshoot it.
            ax.fill_between(steps, np.clip(mean - half, 0, 1), np.clip(mean + half, 0, 1), color=f"C{k}",
                            alpha=0.12)
        ax.set_title(METRIC_LABELS[metric], fontsize=9)
        ax.set_xlabel("learner steps")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{game}: mean over seeds, band = 95 % interval", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(out: Path, setups: dict[str, Setup], footer: str | None) -> str:
    """Rebuild the Markdown table and the plots from the CSV in ``out``.

    Without ``footer`` (``--report-only``) the footer of the table being replaced is kept: it
    describes the run that wrote the CSV.
    """
    rows = read_rows(out / CSV_NAME)
    md = out / "sampling_schemes.md"
    if footer is None:
        found = re.search(r"^Run time .*$", md.read_text(), re.MULTILINE) if md.exists() else None
        footer = found.group(0) if found else "Rebuilt from the CSV of an earlier run."
    text = table(rows, setups, footer)
    md.write_text(text)
    for game in GAMES:
        if any(r["game"] == game for r in rows):
            plot(rows, game, out / f"sampling_schemes_{game}.png")
    return text


# ------------------------------------------------------------------------------------------------
# Command line.
# ------------------------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run of every code path")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results",
                        help="output directory (default benchmarks/results)")
    parser.add_argument("--games", nargs="+", default=list(GAMES), choices=GAMES)
    parser.add_argument("--schemes", nargs="+", default=list(SCHEMES), choices=SCHEMES)
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per (game, scheme) for every game (default: rps 10, kuhn_poker 8, "
                             "board games 3; --quick 2)")
    parser.add_argument("--workers", type=int, default=2, help="parallel league runs (one torch thread each)")
    parser.add_argument("--report-only", action="store_true", help="rebuild the table and plots from the CSV")
    args = parser.parse_args(argv)
    setups = QUICK if args.quick else FULL
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        print(report(args.out, setups, None))
        return 0

    seeds = {g: args.seeds or (2 if args.quick else setups[g].seeds) for g in args.games}
    jobs = [Job(g, s, seed, setups[g]) for g in args.games for seed in range(seeds[g]) for s in args.schemes]
    # Longest games first, so the last jobs to finish are short ones and both workers stay busy.
    order = {"connect_four": 0, "tictactoe": 1, "kuhn_poker": 2, "rps": 3}
    jobs.sort(key=lambda j: order[j.game])
    csv_path = args.out / CSV_NAME
    code = code_version()
    start = time.perf_counter()
    failed = 0
    with csv_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx, initializer=_worker_init) as ex:
            futures = [ex.submit(run_job, job) for job in jobs]
            for done, future in enumerate(cf.as_completed(futures), 1):
                res = future.result()
                writer.writerows(res.rows)
                fh.flush()  # a run killed at the deadline still leaves every finished league's rows
                status = f"FAILED {res.error}" if res.error else f"{len(res.rows)} rows"
                failed += res.error is not None
                print(f"[{done}/{len(jobs)} {time.perf_counter() - start:.0f}s] {res.job.game} "
                      f"{res.job.scheme} seed {res.job.seed}: {res.seconds:.0f}s, {status}", flush=True)
    print(report(args.out, setups, run_footer(time.perf_counter() - start, args.quick, code)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
