"""Episodes per second of the match engine against today's sequential play and raw PettingZoo.

The same list of matches (4 random-init 64x64 MLP members, one drawn per seat; fixed seeds) is
played three ways:

* **sequential**: ``MatchRunner.play_sequential``, how evaluation played before the engine: one
  episode at a time in the self-play env, one unbatched forward pass per move;
* **engine**: ``envs.MatchEngine`` with N matches side by side, one forward pass per member
  per round across them (``LocalBackend.play`` now);
* **raw**: N raw PettingZoo envs stepped in turn with uniformly random legal actions read from
  ``env.observe`` (no policies, no bookkeeping): the env's own rate.

The engine also plays the matches with the random reference in every seat, so that
"engine (random) / raw" compares like with like: what the engine costs on top of the env.
The ranks of the matches the sequential path played are checked against the engine's.
Process time (the machine is shared), best of ``--repeats`` alternating runs, 1 torch thread.

    python benchmarks/evaluation_throughput.py [--concurrency 8 64 512] [--scale 1.0] [--repeats 3]

Writes ``benchmarks/results/evaluation_throughput.md``.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

import envs
from envs import Match, MatchEngine
from league.evaluation.matches import MatchRunner
from league.models import NetworkPolicy, build_network, mlp_spec

GAMES: dict[str, dict[str, Any]] = {"texas_holdem": {"num_players": 4}, "connect_four": {}}
EPISODES = {"texas_holdem": 2048, "connect_four": 1024}
"""Matches per engine / raw measurement at ``--scale 1`` (at least 4 per concurrent copy)."""
SEQUENTIAL = {"texas_holdem": 256, "connect_four": 64}
"""Matches per sequential measurement at ``--scale 1`` (it is the slow side)."""
MEMBERS = 4


def make_loader(game: envs.Game, seed: int) -> Callable[[Any], Any]:
    """Members 0..3: random-init MLPs with distinct weights; strings: the game's references."""
    torch.manual_seed(seed)
    seat = game.seats[0]
    spec = mlp_spec(game.obs_dim(seat), game.n_actions(seat), (64, 64))
    nets = {k: NetworkPolicy(build_network(spec)) for k in range(MEMBERS)}
    return lambda m: game.reference(m) if isinstance(m, str) else nets[m]


def make_matches(game: envs.Game, n: int, seed: int) -> list[Match]:
    rng = np.random.default_rng(seed)
    return [Match({s: int(rng.integers(MEMBERS)) for s in game.seats}, int(rng.integers(2**31 - 1)))
            for _ in range(n)]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def run_engine(game: envs.Game, load, matches: list[Match], n: int) -> tuple[float, list]:
    engine = MatchEngine(game, load, max_copies=n)
    engine.play(matches[:n])  # warm-up: builds the env copies and the policies
    seconds, results = timed(lambda: engine.play(matches))
    engine.close()
    return len(matches) / seconds, results


def run_sequential(game: envs.Game, load, matches: list[Match]) -> tuple[float, list]:
    runner = MatchRunner(game, load, cache_size=64)
    runner.play_sequential(*matches[0])  # warm-up
    seconds, ranks = timed(lambda: [runner.play_sequential(*m) for m in matches])
    runner.close()
    return len(matches) / seconds, ranks


def run_raw(game: envs.Game, n: int, episodes: int, seed: int) -> float:
    """``episodes`` random-action episodes on ``n`` raw envs, one action per env in turn."""
    rng = np.random.default_rng(seed)
    raws = [game.new_env() for _ in range(n)]

    def play() -> None:
        for k, env in enumerate(raws):
            env.reset(seed=seed + k)
        started, active = n, list(range(n))
        while active:
            still = []
            for i in active:
                env = raws[i]
                agent = env.agent_selection
                if env.terminations[agent] or env.truncations[agent]:
                    if all(env.terminations[a] or env.truncations[a] for a in env.agents):
                        if started < episodes:
                            env.reset()
                            started += 1
                            still.append(i)
                        continue
                    env.step(None)
                else:
                    legal = np.flatnonzero(env.observe(agent)["action_mask"])
                    env.step(int(legal[rng.integers(len(legal))]))
                still.append(i)
            active = still

    seconds, _ = timed(play)
    return episodes / seconds


def measure(name: str, kwargs: dict[str, Any], concurrency: list[int], scale: float, repeats: int) -> list[dict]:
    game = envs.make(name, **kwargs)
    load = make_loader(game, seed=0)
    random_load = lambda m: game.reference("random")  # noqa: E731
    n_seq = max(8, int(SEQUENTIAL[name] * scale))
    seq_matches = make_matches(game, n_seq, seed=1)
    rows = []
    best_seq, seq_ranks = 0.0, None
    for n in concurrency:
        episodes = max(4 * n, int(EPISODES[name] * scale))
        matches = seq_matches + make_matches(game, episodes - n_seq, seed=2) if episodes > n_seq else seq_matches
        best = {"raw": 0.0, "engine_random": 0.0, "engine": 0.0}
        engine_ranks = None
        for r in range(repeats):  # alternate so drifting machine load hits every side alike
            best["raw"] = max(best["raw"], run_raw(game, n, episodes, seed=r))
            rate, _ = run_engine(game, random_load, matches, n)
            best["engine_random"] = max(best["engine_random"], rate)
            rate, results = run_engine(game, load, matches, n)
            best["engine"] = max(best["engine"], rate)
            engine_ranks = [res.ranks for res in results[:n_seq]]
            if n == concurrency[0]:
                rate, seq_ranks = run_sequential(game, load, seq_matches)
                best_seq = max(best_seq, rate)
        rows.append({"game": f"{name} ({len(game.seats)} players)", "n": n, "episodes": episodes,
                     "n_seq": n_seq, "identical": engine_ranks == seq_ranks, **best})
    for row in rows:
        row["sequential"] = best_seq
        print(f"{row['game']:26s} N={row['n']:4d}  raw {row['raw']:8.0f}  engine(random) "
              f"{row['engine_random']:8.0f}  sequential {best_seq:7.1f}  engine {row['engine']:8.1f}  "
              f"x{row['engine'] / best_seq:5.1f}  identical={row['identical']}")
    return rows


def table(rows: list[dict], repeats: int, scale: float) -> str:
    lines = [
        "# Evaluation throughput",
        "",
        f"Episodes (matches) per CPU-second (process time: the machine is shared), best of {repeats} "
        f"alternating runs, 1 torch thread, {platform.machine()}, Python {platform.python_version()}, "
        f"torch {torch.__version__}; `--scale {scale:g}`. Members: {MEMBERS} random-init 64x64 MLPs, "
        "one drawn per seat per match.",
        "",
        "- *raw*: N raw PettingZoo envs, uniformly random legal actions from `env.observe` (no policies).",
        "- *engine (random)*: `envs.MatchEngine`, the random reference in every seat (like for like with raw).",
        "- *sequential*: `MatchRunner.play_sequential`, one episode at a time (evaluation before the engine; "
        "independent of N).",
        "- *engine*: `envs.MatchEngine` (`LocalBackend.play`), the MLP members, N matches side by side.",
        "- *identical*: the engine's ranks equal the sequential path's on the matches both played.",
        "",
        "| game | N | raw | engine (random) | engine (random) / raw | sequential | engine | engine / sequential "
        "| identical |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(f"| {r['game']} | {r['n']} | {r['raw']:,.0f} | {r['engine_random']:,.0f} | "
                     f"{r['engine_random'] / r['raw']:.2f} | {r['sequential']:,.1f} | {r['engine']:,.0f} | "
                     f"{r['engine'] / r['sequential']:.1f}x | {'yes' if r['identical'] else 'NO'} "
                     f"({r['n_seq']} matches) |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 64, 512],
                        help="matches played side by side (engine) / raw envs stepped in turn")
    parser.add_argument("--games", nargs="+", default=list(GAMES), choices=list(GAMES))
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the matches per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs per side; best kept")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "evaluation_throughput.md")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the machine is shared; one thread is also what a Ray worker gets

    rows = []
    for name in args.games:
        rows += measure(name, GAMES[name], sorted(args.concurrency), args.scale, args.repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table(rows, args.repeats, args.scale))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
