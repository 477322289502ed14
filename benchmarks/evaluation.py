"""Ranking accuracy against games played: the evaluator's match-selection rules and two baselines.

Synthetic populations (``benchmarks/evaluator_ranking.py``'s: 64 members, latent skills
N(25, 8^2)) with Thurstone outcomes: each seat performs ``skill + beta * N(0, 1)`` (beta = 25/6,
TrueSkill's default) and ranks follow performance; no draws.  Two settings:

* **1v1**: two seats; a full round robin is 64 * 63 / 2 = 2016 games; runs play 1.5 round robins
  (3024), because uniform pairs often need more than one to reach tau 0.9.
* **4-seat free-for-all**: four seats, one match ranks all four; budget 1512 matches (94.5 per
  member: the same seats per member as the 1v1 runs).

Schedules compared, all rated by the same fresh ``TrueSkillSystem`` (draw probability 0):

* ``info``, ``uniform``, ``round_robin``: ``league.evaluation.evaluator``'s selection rules, through
  ``Evaluator`` (seat rotation, and the balance cap for ``info`` and ``round_robin``);
* ``random tables``: uniform random seatings drawn here, outside ``Evaluator`` -- the textbook
  baseline, and a check on the evaluator's own ``uniform`` rule, which should match it;
* ``rr schedule``: a fixed round-robin schedule -- in 1v1 the circle method (every pair exactly
  once, every member once per round); in free-for-all rounds of random disjoint tables of four
  (all 4-subsets would be 635,376 matches), so every member plays once per round.

Matches are chosen one at a time, each from the ratings after the previous result: the
sequential case (the league may choose a batch of seatings from the same ratings).
After every ``--every`` matches the estimate (members ordered by TrueSkill mu) is compared with the
true order by Kendall tau.  The same population and outcome stream serve every schedule of a seed.

    python benchmarks/evaluation.py [--seeds 10] [--out benchmarks/results]   # ~10 min on 2 cores
    python benchmarks/evaluation.py --quick --out /tmp/x                      # smoke run

Writes ``evaluation.md`` (table), ``evaluation.png`` (tau against games, both settings) and
``evaluation.csv`` (per seed and checkpoint).
"""

from __future__ import annotations

import argparse
import csv
import math
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import ndtr
from scipy.stats import kendalltau

# Run as a script, Python puts benchmarks/ on the path, not the repository root that holds it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.evaluator_ranking import BETA, N_MEMBERS, TARGET_TAU, synthetic_population  # noqa: E402
from league.evaluation.evaluator import EvaluationConfig, Evaluator, Seating  # noqa: E402
from league.population.sampling import CandidateInfo  # noqa: E402
from ratings import Rating, TrueSkillSystem  # noqa: E402

RULES = ("info", "uniform", "round_robin")
BASELINES = ("random tables", "rr schedule")
SCHEDULES = (*RULES, *BASELINES)


@dataclass(frozen=True)
class Setting:
    """A game shape and how many matches each run plays."""

    name: str
    seats: int
    budget: int


ROUND_ROBIN = N_MEMBERS * (N_MEMBERS - 1) // 2
SETTINGS = (Setting("1v1", 2, ROUND_ROBIN * 3 // 2), Setting("4-seat FFA", 4, ROUND_ROBIN * 3 // 4))


@dataclass
class Curve:
    """Kendall tau of one schedule on one seed, at the checkpoints."""

    setting: str
    schedule: str
    seed: int
    games: np.ndarray
    taus: np.ndarray

    def games_to(self, target: float) -> float:
        """First checkpoint with tau >= target (inf if never)."""
        hit = np.flatnonzero(self.taus >= target)
        return float(self.games[hit[0]]) if len(hit) else math.inf


def thurstone(skills: np.ndarray, rng: np.random.Generator) -> Callable[[Sequence[int]], list[int]]:
    """Ranks (1 = best) of the members at each seat, from Thurstone performances.

    Two seats draw one uniform against ``Phi((s_a - s_b) / (sqrt(2) beta))``, exactly as
    ``evaluator_ranking.py`` does, so its 1v1 numbers are reproduced draw for draw.
    """

    def play(members: Sequence[int]) -> list[int]:
        if len(members) == 2:
            a, b = members
            a_wins = rng.random() < ndtr((skills[a] - skills[b]) / (math.sqrt(2.0) * BETA))
            return [1, 2] if a_wins else [2, 1]
        perf = skills[list(members)] + BETA * rng.standard_normal(len(members))
        order = np.argsort(-perf)
        ranks = np.empty(len(members), dtype=int)
        ranks[order] = np.arange(1, len(members) + 1)
        return ranks.tolist()

    return play


def _circle_rounds(n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Every pair once, in rounds where each member plays once (circle method, shuffled labels)."""
    labels = rng.permutation(n)
    ring = list(range(1, n))
    pairs: list[tuple[int, int]] = []
    for _ in range(n - 1):
        line = [0, *ring]
        round_pairs = [(line[i], line[n - 1 - i]) for i in range(n // 2)]
        rng.shuffle(round_pairs)
        pairs += [(int(labels[a]), int(labels[b])) for a, b in round_pairs]
        ring = ring[-1:] + ring[:-1]
    return pairs


def _baseline_schedule(kind: str, seats: int, budget: int, rng: np.random.Generator) -> list[list[int]]:
    """The matches of a baseline schedule, each a list of members by seat."""
    if kind == "random tables":
        return [rng.choice(N_MEMBERS, seats, replace=False).tolist() for _ in range(budget)]
    matches: list[list[int]] = []
    while len(matches) < budget:
        if seats == 2:
            matches += [list(p) for p in _circle_rounds(N_MEMBERS, rng)]
        else:
            order = rng.permutation(N_MEMBERS)
            matches += [order[i:i + seats].tolist() for i in range(0, N_MEMBERS - seats + 1, seats)]
    return matches[:budget]


def run(setting: Setting, schedule: str, seed: int, every: int) -> Curve:
    """Rate one schedule on one seed's population; tau at every ``every`` matches."""
    skills = synthetic_population(seed)
    play = thurstone(skills, np.random.default_rng([seed, 1]))
    system = TrueSkillSystem(draw_probability=0.0)
    seats = tuple(f"player_{i}" for i in range(setting.seats))
    games, taus = [], []

    if schedule in RULES:
        members = [CandidateInfo(id=k, mu=25.0, sigma=25.0 / 3.0) for k in range(N_MEMBERS)]
        evaluator = Evaluator(seats, members, config=EvaluationConfig(rule=schedule, seed=seed), system=system)

        def step(_: int) -> np.ndarray:
            def play_seating(seating: Seating) -> dict[str, int]:
                return dict(zip(seats, play([seating[s] for s in seats])))

            evaluator.step(play_seating)
            return evaluator.state.mu
    else:
        matches = _baseline_schedule(schedule, setting.seats, setting.budget, np.random.default_rng([seed, 2]))
        ratings = [Rating(25.0, 25.0 / 3.0)] * N_MEMBERS

        def step(g: int) -> np.ndarray:
            members = matches[g]
            new = system.rate_seats([ratings[m] for m in members], play(members))
            for m, r in zip(members, new):
                ratings[m] = r
            return np.array([r.mu for r in ratings])

    for g in range(setting.budget):
        mu = step(g)
        if (g + 1) % every == 0 or g + 1 == setting.budget:
            games.append(g + 1)
            taus.append(kendalltau(mu, skills)[0])
    return Curve(setting.name, schedule, seed, np.array(games), np.array(taus))


def table(curves: list[Curve], seeds: list[int], seconds: float, every: int, quick: bool) -> str:
    """Per setting and schedule: tau at fractions of the budget, and matches to tau 0.9."""
    lines = ["# Evaluation: ranking accuracy against matches played", "",
             f"Synthetic populations of {N_MEMBERS} members (skills N(25, 8^2), "
             f"`benchmarks/evaluator_ranking.py`), Thurstone outcomes (beta = 25/6, no draws), rated by "
             f"TrueSkill from fresh ratings; Kendall tau of the mu order against the true order, "
             f"measured every {every} matches. Seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}), the same "
             f"populations and outcome streams for every schedule. `info`, `uniform`, `round_robin` are "
             f"`league.evaluation.evaluator`'s rules (`info` and `round_robin` "
             f"with its balance cap, `uniform` without); `random tables` = uniform random seatings "
             f"drawn outside the evaluator; `rr schedule` = a fixed round robin (1v1: every pair once, "
             f"circle method; FFA: rounds of random disjoint tables of four). "
             f"Cells: median over seeds [min - max].", ""]
    for setting in SETTINGS:
        mine = [c for c in curves if c.setting == setting.name]
        if not mine:
            continue
        budget = int(max(c.games[-1] for c in mine))
        # For 1v1 the marks are a third, two thirds and all of a round robin, then the budget.
        fracs = (2 / 9, 4 / 9, 2 / 3, 1.0)
        marks = [max(every, int(round(f * budget / every)) * every) if f < 1 else budget for f in fracs]
        rr = ROUND_ROBIN * 2 // setting.seats  # matches that give every member a round robin's seats
        share = (f"% of a round robin ({rr} matches)" if setting.seats == 2 else
                 f"% of {rr} matches, which give each member a 1v1 round robin's {N_MEMBERS - 1} seats")
        lines += [f"## {setting.name} ({setting.seats} seats, {budget} matches)", "",
                  "| schedule | " + " | ".join(f"tau after {m} matches" for m in marks)
                  + f" | matches to tau {TARGET_TAU} (median; {share}) | seeds reaching it |",
                  "|---|" + "---|" * (len(marks) + 2)]
        for schedule in SCHEDULES:
            cs = [c for c in mine if c.schedule == schedule]
            if not cs:
                continue
            cells = []
            for m in marks:
                vals = [float(c.taus[np.searchsorted(c.games, m)]) for c in cs]
                cells.append(f"{np.median(vals):.3f} [{min(vals):.3f} - {max(vals):.3f}]")
            hits = [c.games_to(TARGET_TAU) for c in cs]
            med = float(np.median(hits))
            med_s = f"{med:.0f} ({100 * med / rr:.0f} %)" if math.isfinite(med) else f"> {budget}"
            lines.append(f"| {schedule} | " + " | ".join(cells)
                         + f" | {med_s} | {sum(math.isfinite(h) for h in hits)}/{len(cs)} |")
        lines.append("")
    mode = " --quick" if quick else ""
    lines.append(f"Run time {seconds:.0f} s on {platform.machine()} (Python {platform.python_version()}); "
                 f"`python benchmarks/evaluation.py{mode}`; per-seed curves in `evaluation.csv`.")
    return "\n".join(lines) + "\n"


def plot(curves: list[Curve], path: Path) -> None:
    """Median tau against matches per schedule (band: min - max over seeds), one panel per setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = [s for s in SETTINGS if any(c.setting == s.name for c in curves)]
    fig, axes = plt.subplots(1, len(settings), figsize=(6.5 * len(settings), 4.5), squeeze=False)
    for ax, setting in zip(axes[0], settings):
        for schedule in SCHEDULES:
            cs = [c for c in curves if c.setting == setting.name and c.schedule == schedule]
            if not cs:
                continue
            taus = np.stack([c.taus for c in cs])
            (line,) = ax.plot(cs[0].games, np.median(taus, axis=0), label=schedule)
            ax.fill_between(cs[0].games, taus.min(axis=0), taus.max(axis=0), color=line.get_color(), alpha=0.12)
        ax.axhline(TARGET_TAU, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("matches played")
        ax.set_ylabel("Kendall tau vs true order")
        ax.set_ylim(0.3, 1.0)
        ax.set_title(f"{setting.name}, {N_MEMBERS} members (median, band min-max)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_csv(curves: list[Curve], path: Path) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["setting", "schedule", "seed", "matches", "kendall_tau"])
        for c in curves:
            for g, t in zip(c.games, c.taus):
                w.writerow([c.setting, c.schedule, c.seed, int(g), f"{t:.6f}"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="number of seeds (populations)")
    parser.add_argument("--every", type=int, default=16, help="matches between tau measurements")
    parser.add_argument("--quick", action="store_true", help="2 seeds, a tenth of the budget: a smoke run")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    seeds = list(range(2 if args.quick else args.seeds))
    settings = [Setting(s.name, s.seats, s.budget // 10) for s in SETTINGS] if args.quick else list(SETTINGS)
    start = time.perf_counter()
    curves = [run(setting, schedule, seed, args.every)
              for setting in settings for schedule in SCHEDULES for seed in seeds]
    text = table(curves, seeds, time.perf_counter() - start, args.every, args.quick)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "evaluation.md").write_text(text)
    plot(curves, args.out / "evaluation.png")
    write_csv(curves, args.out / "evaluation.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
