"""Can the leaderboard be trusted?  Calibration and head-to-head consistency of a run's ratings.

For each game, a league runs through the real command line (``python -m league.run``; the
default run for ``texas_holdem``, the shipped config otherwise), then its finished pool is
checked two ways:

* **Calibration on held-out matches.**  ``--holdout`` new matches, seatings drawn uniformly
  from the active members of each seat's role, played exactly as the run's evaluation plays
  them (blocks of ``Game.match_episodes`` shared deals, ``league.evaluation.blocks``).  For every
  seat, the ratings' predicted probability of first place (``ratings.first_place_probability``
  with the run's beta) against what happened (a shared first place counts 1/k): expected
  calibration error over 10 equal-width bins (ECE), Brier score, and the Brier score of the
  constant predictor 1/seats.  The same for the ratings recomputed with beta and the draw
  probability fitted to the run's log (``ratings.fit_trueskill``, ``leaderboard --refit``).
* **Paired head-to-head.**  Each role's members play its seat for the same ``--h2h`` episodes
  (same deals, same opponents drawn uniformly from the other roles,
  ``league.evaluation.headtohead``); a pair ordered by conservative rating opposite to its
  paired mean return by more than 2.5 standard errors is an inversion.

    python benchmarks/rating_calibration.py                     # all three games, ~15 min on 2 cores
    python benchmarks/rating_calibration.py --games texas_holdem --runs /tmp/cal   # keep / reuse runs

Writes ``rating_calibration.md`` and ``rating_calibration.png`` (reliability diagrams) to ``--out``.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import envs  # noqa: E402
from league.config.schema import load_config  # noqa: E402
from league.evaluation.blocks import BlockPlayer  # noqa: E402
from league.evaluation.evaluator import Seating  # noqa: E402
from league.evaluation.headtohead import inversions, mean_interval, paired_returns  # noqa: E402
from league.evaluation.matches import LocalBackend  # noqa: E402
from league.pool import Pool  # noqa: E402
from league.population.opponents import MemberLoader  # noqa: E402
from ratings import Rating, TrueSkillSystem, fit_trueskill, replay_trueskill  # noqa: E402
from ratings.calibration import calibration, ece_interval, predict_first_place, reliability  # noqa: E402

GAMES = {
    # game -> (config file or None for the built-in default, overrides)
    "texas_holdem": (None, []),
    "connect_four": ("configs/connect_four.toml", []),
    "kuhn_poker": ("configs/kuhn_poker.toml", ["max_seconds=300"]),
}


def run_league(game: str, out: Path, extra: list[str]) -> float:
    """Run the game's league into ``out`` (skipped when ``out/pool`` exists); wall seconds."""
    if (out / "pool").exists():
        return math.nan
    config, overrides = GAMES[game]
    cmd = [sys.executable, "-m", "league.run", "--out", str(out), "--quiet"]
    if config:
        cmd += ["--config", str(REPO / config)]
    start = time.perf_counter()
    subprocess.run(cmd + overrides + extra, cwd=REPO, check=True)
    return time.perf_counter() - start


def check_run(game_name: str, run: Path, holdout: int, h2h: int, seed: int) -> dict:
    config = load_config(run / "config.toml")
    game = envs.make(config.game.name, **config.game.kwargs)
    r = config.ratings
    system = TrueSkillSystem(mu=r.mu, sigma=r.sigma, beta=r.beta, tau=r.tau, draw_probability=r.draw_probability)
    with Pool.open(run / "pool", mode="r") as pool:
        active = {role: [m.id for m in pool.active(role)] for role in pool.roles}
        logged = {m.id: Rating(m.mu, m.sigma) for m in pool.members()}
        log = pool.matches()
        prior = TrueSkillSystem(mu=pool.initial_mu, sigma=pool.initial_sigma)
        fit = fit_trueskill(log, prior)
        refit = replay_trueskill(log, fit.system(prior), initial={m: prior.new_rating() for m in logged})
        load = MemberLoader(pool)
        backend = LocalBackend(game, load)
        episodes = config.evaluation.episodes_per_match or game.match_episodes
        symmetric = game.symmetric and len(set(game.roles.values())) == 1
        groups = [0] * len(game.seats) if symmetric else [sorted(set(game.roles.values())).index(game.roles[s])
                                                          for s in game.seats]
        player = BlockPlayer(backend, game.seats, episodes=episodes, outcome=config.evaluation.outcome,
                             seat_groups=groups, outcome_rule=game.outcome)
        rng = np.random.default_rng(seed)
        seatings = []
        for _ in range(holdout):
            if symmetric:
                ids = rng.choice(active[game.roles[game.seats[0]]], size=len(game.seats), replace=False)
                seatings.append(Seating(dict(zip(game.seats, map(int, ids))), seed=int(rng.integers(2 ** 31 - 1))))
            else:
                seatings.append(Seating({s: int(rng.choice(active[game.roles[s]])) for s in game.seats},
                                        seed=int(rng.integers(2 ** 31 - 1))))
        start = time.perf_counter()
        outcomes = []
        for k in range(0, len(seatings), 64):
            outcomes += player(seatings[k:k + 64])
        holdout_s = time.perf_counter() - start
        backend.close()
        start = time.perf_counter()
        paired = paired_returns(game, active, load, episodes=h2h, seed=seed + 1)
        h2h_s = time.perf_counter() - start
    result = {"game": game_name, "members": sum(len(v) for v in active.values()), "log": len(log),
              "episodes_per_match": player.episodes_per_block, "holdout_s": holdout_s, "h2h_s": h2h_s,
              "fit": fit, "beta": system.beta, "draw_probability": system.draw_probability}
    for name, ratings, beta in (("logged", logged, system.beta), ("refit", refit, fit.beta)):
        played = [{"member_ids": [seating[s] for s in game.seats], "ranks": [o.ranks[s] for s in game.seats]}
                  for seating, o in zip(seatings, outcomes)]
        pred_a, obs_a = predict_first_place(played, ratings, beta)
        result[name] = calibration(pred_a, obs_a, len(game.seats))._asdict()
        result[name]["ece_interval"] = ece_interval(pred_a, obs_a, len(game.seats))
        result[name + "_diagram"] = reliability(pred_a, obs_a)
        score = {m: ratings[m].mu - 3 * ratings[m].sigma for m in ratings}
        inv = inversions(paired, score, z=2.5)
        result[name + "_inversions"] = inv
    pairs = []
    for p in paired:
        ids = sorted(p.returns, key=lambda m: -(logged[m].mu - 3 * logged[m].sigma))
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                mean, se = mean_interval(p.returns[a] - p.returns[b], z=1.0)
                pairs.append((p.role, a, b, mean, se))
        result.setdefault("means", {}).update({m: mean_interval(v) for m, v in p.returns.items()})
    result["pairs"] = pairs
    result["h2h_episodes"] = h2h
    return result


def report(results: list[dict], out: Path, note: str) -> None:
    lines = ["# Rating calibration and head-to-head consistency", "",
             f"Written by `benchmarks/rating_calibration.py` on {time.strftime('%Y-%m-%d')}. {note}", "",
             "Held-out matches: seatings drawn uniformly from each role's active members, played as the run's "
             "evaluation plays them. `ECE`: expected calibration error of the predicted first-place "
             "probability (10 bins), with a 90 % bootstrap interval (held-out matches resampled); `Brier` beside the constant predictor's. `logged`: the ratings the run "
             "left (its beta); `refit`: replayed from the match log with beta and draw probability fitted "
             "by maximum likelihood.", "",
             "| game | members | log matches | episodes / match | held-out seats | ratings | beta | ECE | ECE, 90 % | "
             "Brier | Brier, constant | inversions (> 2.5 SE) |",
             "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        for name, beta in (("logged", r["beta"]), ("refit", r["fit"].beta)):
            c = r[name]
            lines.append(f"| {r['game']} | {r['members']} | {r['log']} | {r['episodes_per_match']} | {c['n']} | "
                         f"{name} | {beta:.3g} | {c['ece']:.3f} | {c['ece_interval'][0]:.3f}–{c['ece_interval'][1]:.3f} | "
                         f"{c['brier']:.4f} | {c['brier_constant']:.4f} | "
                         f"{len(r[name + '_inversions'])} of {len(r['pairs'])} |")
    lines += ["", "## Paired head-to-head, within each role", "",
              "Each pair ordered by the logged conservative rating (higher first); the difference is the "
              "higher-ranked member's mean return per episode minus the other's over the same episodes.", ""]
    for r in results:
        lines += [f"### {r['game']} ({r['h2h_episodes']} paired episodes per member)", "",
                  "| role | ranked higher | ranked lower | mean difference | SE | verdict |", "|---|---:|---:|---:|---:|---|"]
        for role, a, b, mean, se in r["pairs"]:
            verdict = "inverted" if mean < -2.5 * se else ("agrees" if mean > 2.5 * se else "within 2.5 SE")
            lines.append(f"| {role} | {a} | {b} | {mean:+.3f} | {se:.3f} | {verdict} |")
        lines.append("")
    (out / "rating_calibration.md").write_text("\n".join(lines) + "\n")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 4), squeeze=False)
    for ax, r in zip(axes[0], results):
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
        for name, colour in (("logged", "tab:blue"), ("refit", "tab:orange")):
            x, y, n = r[name + "_diagram"]
            ax.plot(x, y, "o-", color=colour, label=f"{name} (ECE {r[name]['ece']:.3f})")
        ax.set(title=r["game"], xlabel="predicted P(first place)", ylabel="observed frequency", xlim=(0, 1), ylim=(0, 1))
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "rating_calibration.png", dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", nargs="+", default=list(GAMES), choices=list(GAMES))
    parser.add_argument("--runs", type=Path, default=None, help="keep runs here (reused when present)")
    parser.add_argument("--holdout", type=int, default=2000,
                        help="held-out matches per game (2000: ECE's 90 %% interval about +-0.01 on connect four)")
    parser.add_argument("--h2h", type=int, default=2000, help="paired episodes per member")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--quick", action="store_true", help="tiny runs and samples (a smoke test)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides for every run")
    args = parser.parse_args(argv)
    extra = list(args.overrides)
    if args.quick:
        extra += ["rotations=1", "bootstrap.max_steps=2048", "training.max_steps=2048", "evaluation.budget=16"]
        args.holdout, args.h2h = min(args.holdout, 32), min(args.h2h, 64)
    runs = args.runs or Path(tempfile.mkdtemp(prefix="calibration-"))
    results, walls = [], []
    for game in args.games:
        wall = run_league(game, runs / game, extra)
        walls.append(f"{game} run {wall:.0f} s" if not math.isnan(wall) else f"{game} run reused")
        print(f"{game}: checking {runs / game}", flush=True)
        results.append(check_run(game, runs / game, args.holdout, args.h2h, args.seed))
    args.out.mkdir(parents=True, exist_ok=True)
    note = (f"Runs: {', '.join(walls)}; {os.cpu_count()} CPUs. Overrides: {' '.join(extra) or 'none'}. "
            f"Held-out matches per game: {args.holdout}.")
    report(results, args.out, note)
    print((args.out / "rating_calibration.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
