"""Episodes per second of evaluation's match engine against sequential play and raw PettingZoo.

Evaluation's workload, four ways, side by side in one process: rating blocks
(``league.evaluation.blocks.BlockPlayer``, the game's ``match_episodes`` deals per block, no seat
rotation, as the default configs' one-role-per-seat games play them) whose seats are drawn from
4 networks of the default spec (``PPOConfig().hidden``, freshly built by ``league.models``).

* **raw**: N stock PettingZoo envs (``texas_holdem_v4.raw_env`` / ``connect_four_v3.raw_env``)
  stepped in turn with uniformly random legal actions read from ``env.observe``, nothing else
  (each env's first seeded reset is outside the timing): the env's own rate.
* **sequential, issue's env**: ``MatchRunner.play_sequential`` (one episode at a time in the
  self-play env, one unbatched forward pass per move) on the stock PettingZoo env, whose seeded
  reset rebuilds RLCard's env: evaluation as it was when issue 12 was filed.
* **sequential**: the same path on the project's own game description (``envs.make``).
* **engine**: ``BlockPlayer`` over ``LocalBackend``: the blocks' episodes in ``envs.MatchEngine``,
  N side by side, one forward pass per member per round (what evaluation runs now).
* **engine (random)**: the same with the uniform-random reference in every seat, like for like
  with *raw* (random actions, no networks).

The sequential paths play the first episodes of the engine's plan, half before the engine's
timings and half after (so a drift in the machine's speed cancels in the ratios); *identical*
says their ranks equal the engine's. Process time (the machine is shared), ``--repeats``
alternating runs, each ratio taken within one run; the table gives the median rate and the
median and range of the per-run ratios.

    python benchmarks/evaluation_throughput.py [--concurrency 8 64 512] [--scale 0.5] [--repeats 5]

Writes ``benchmarks/results/evaluation_throughput.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pettingzoo.classic import connect_four_v3, texas_holdem_v4

import envs
from envs.game import dict_obs_encoder
from league.evaluation.blocks import BlockPlayer, block_deals
from league.evaluation.matches import LocalBackend
from league.models import NetworkPolicy, build_network, mlp_spec
from league.training.ppo import PPOConfig

GAMES: dict[str, dict[str, Any]] = {"texas_holdem": {"num_players": 4}, "connect_four": {}}
STOCK: dict[str, Callable[[dict[str, Any]], Any]] = {
    "texas_holdem": lambda kw: texas_holdem_v4.raw_env(num_players=kw["num_players"]),
    "connect_four": lambda kw: connect_four_v3.raw_env(),
}
"""The stock PettingZoo env of each game (raw: no wrappers)."""
EPISODES = {"texas_holdem": 2048, "connect_four": 1024}
"""Episodes per engine / raw measurement at ``--scale 1`` (at least 4 per concurrent copy)."""
SEQUENTIAL = {"texas_holdem": 256, "connect_four": 64}
"""Episodes per sequential measurement at ``--scale 1`` (it is the slow side)."""
MEMBERS = 4
ISSUE_HANDS_PER_S = 75.0
"""Issue 12's measurement of sequential evaluation: ~13 ms per 4-player hand, 75 hands/s."""


class Blocks(dict):
    """A seating with a ``seed`` attribute, as ``BlockPlayer`` takes it."""

    seed: int | None = None


class Recording:
    """A backend that keeps the episodes it played (for the sequential paths and the check)."""

    def __init__(self, backend: LocalBackend):
        self.backend = backend
        self.seatings: list[Mapping[str, Any]] = []
        self.seeds: list[int | None] = []
        self.results: list[Any] = []

    def play_episodes(self, seatings: Sequence[Mapping[str, Any]], seeds: Sequence[int | None]) -> list[Any]:
        self.seatings, self.seeds = list(seatings), list(seeds)
        self.results = self.backend.play_episodes(seatings, seeds)
        return self.results


def make_loader(game: envs.Game, seed: int) -> Callable[[Any], Any]:
    """Members 0..3: default-spec networks with distinct weights; strings: the game's references."""
    torch.manual_seed(seed)
    seat = game.seats[0]
    default = PPOConfig()
    spec = mlp_spec(game.obs_dim(seat), game.n_actions(seat), default.hidden, default.activation)
    nets = {k: NetworkPolicy(build_network(spec)) for k in range(MEMBERS)}
    return lambda m: game.reference(m) if isinstance(m, str) else nets[m]


def stock_game(name: str, kwargs: dict[str, Any], game: envs.Game) -> envs.Game:
    """``game`` on the stock PettingZoo env, read through ``env.observe`` (the issue's setup)."""
    return dataclasses.replace(game, env_fn=lambda: STOCK[name](kwargs), encoder=dict_obs_encoder, observe=None)


def make_blocks(game: envs.Game, n: int, seed: int) -> list[Blocks]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        b = Blocks({s: int(rng.integers(MEMBERS)) for s in game.seats})
        b.seed = int(rng.integers(2**31 - 1))
        out.append(b)
    return out


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def run_engine(game: envs.Game, load, blocks: list[Blocks], n: int) -> tuple[float, Recording]:
    """Episodes/s of ``blocks`` through ``BlockPlayer`` over ``LocalBackend``, ``n`` side by side."""
    recording = Recording(LocalBackend(game, load))
    recording.backend.runner.engine.max_copies = n
    player = BlockPlayer(recording, game.seats, episodes=game.match_episodes, outcome_rule=game.outcome)
    player(blocks[:max(1, n // game.match_episodes)])  # warm-up: builds the env copies and the policies
    seconds, _ = timed(lambda: player(blocks))
    recording.backend.close()
    return len(recording.results) / seconds, recording


def run_sequential(game: envs.Game, load, seatings, seeds) -> tuple[float, list[dict[str, int]]]:
    """Seconds for ``seatings`` one at a time, and their ranks."""
    backend = LocalBackend(game, load)
    backend.play_sequential(seatings[:1], seeds[:1])  # warm-up
    seconds, ranks = timed(lambda: backend.play_sequential(seatings, seeds))
    backend.close()
    return seconds, ranks


def run_raw(make: Callable[[], Any], n: int, episodes: int, seed: int) -> float:
    """``episodes`` random-action episodes on ``n`` stock envs, one action per env in turn."""
    rng = np.random.default_rng(seed)
    raws = [make() for _ in range(n)]
    for k, env in enumerate(raws):
        env.reset(seed=seed + k)

    def play() -> None:
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
    stock = stock_game(name, kwargs, game)
    load = make_loader(game, seed=0)
    random_load = lambda m: game.reference("random")  # noqa: E731
    n_seq = max(8, int(SEQUENTIAL[name] * scale))
    per = game.match_episodes
    rows = []
    for n in concurrency:
        episodes = max(4 * n, int(EPISODES[name] * scale))
        blocks = make_blocks(game, -(-episodes // per), seed=n)
        runs: list[dict[str, float]] = []
        identical = True
        # The engine's plan (no rotation): each block's seating for each of its deals, in order.
        plan = [(dict(b), d) for b in blocks for d in block_deals(b.seed, per)]
        seatings, seeds = [p[0] for p in plan[:n_seq]], [p[1] for p in plan[:n_seq]]
        half = n_seq // 2
        for r in range(repeats):  # alternate so drifting machine load hits every side alike
            # The sequential paths play half their episodes before the engine and half after
            # (A-B-A), so a drift in the machine's speed during a run cancels in the ratios.
            seq: dict[str, list] = {"sequential": [0.0, []], "sequential_stock": [0.0, []]}
            part = slice(0, half)
            for key, g in (("sequential", game), ("sequential_stock", stock)):
                seconds, ranks = run_sequential(g, load, seatings[part], seeds[part])
                seq[key][0] += seconds
                seq[key][1] += ranks
            run = {"raw": run_raw(lambda: STOCK[name](kwargs), n, len(blocks) * per, seed=r)}
            run["engine_random"], _ = run_engine(game, random_load, blocks, n)
            run["engine"], rec = run_engine(game, load, blocks, n)
            part = slice(half, n_seq)
            for key, g in (("sequential_stock", stock), ("sequential", game)):
                seconds, ranks = run_sequential(g, load, seatings[part], seeds[part])
                seq[key][0] += seconds
                seq[key][1] += ranks
            want = [res.ranks for res in rec.results[:n_seq]]
            identical = (identical and rec.seatings[:n_seq] == seatings and rec.seeds[:n_seq] == seeds
                         and all(v[1] == want for v in seq.values()))
            run.update({key: n_seq / v[0] for key, v in seq.items()})
            runs.append(run)
            print(f"{name:13s} N={n:4d} run {r}: " + "  ".join(f"{k} {v:,.0f}" for k, v in run.items())
                  + f"  engine/raw {run['engine'] / run['raw']:.2f}  engine/seq {run['engine'] / run['sequential']:.1f}"
                  f"  engine/seq(issue env) {run['engine'] / run['sequential_stock']:.1f}", flush=True)
        rows.append({"game": f"{name} ({len(game.seats)} players)", "name": name, "n": n,
                     "episodes": len(blocks) * per, "n_seq": n_seq, "identical": identical, "runs": runs})
    return rows


def _ratio(runs: list[dict[str, float]], num: str, den: str, fmt: str, unit: str = "") -> str:
    """The median of the runs' ratios ``num / den`` and, over several runs, their range."""
    values = [r[num] / r[den] for r in runs]
    mid = f"{float(np.median(values)):{fmt}}{unit}"
    return mid if len(values) == 1 else f"{mid} [{min(values):{fmt}}–{max(values):{fmt}}]"


def table(rows: list[dict], repeats: int, scale: float) -> str:
    hidden = list(PPOConfig().hidden)
    lines = [
        "# Evaluation throughput",
        "",
        f"Episodes per CPU-second (process time: the machine is shared and was loaded, so rates move "
        f"between runs; every ratio is taken within one run), {repeats} alternating runs, 1 torch thread, "
        f"{platform.machine()}, Python {platform.python_version()}, torch {torch.__version__}; "
        f"`--scale {scale:g}`. Workload: rating blocks (`BlockPlayer`, the game's `match_episodes` deals "
        f"each, no rotation: the default configs), every seat drawn from {MEMBERS} networks of the default "
        f"spec (MLP {hidden}, tanh, freshly built).",
        "",
        "- *raw*: N stock PettingZoo envs, uniformly random legal actions from `env.observe`, nothing else.",
        "- *seq (issue's env)*: `MatchRunner.play_sequential` (one episode at a time, one unbatched forward "
        "pass per move) on the stock PettingZoo env: evaluation when issue 12 was filed.",
        "- *seq*: the same path on the project's game description (`envs.make`).",
        "- *engine*: `BlockPlayer` over `LocalBackend` (`envs.MatchEngine`), N episodes side by side, "
        "one forward pass per member per round: evaluation now.",
        "- *engine (random)*: the engine with the random reference in every seat (like for like with *raw*).",
        "- Rates: the median over runs. Ratios: the median of the runs' own ratios [their range].",
        "- *identical*: both sequential paths' ranks equal the engine's on the episodes they played.",
        "",
        "| game | N | raw | seq (issue's env) | seq | engine | engine (random) | engine / raw "
        "| engine (random) / raw | engine / seq | engine / seq (issue's env) | identical |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        runs = r["runs"]
        mid = {k: float(np.median([run[k] for run in runs])) for k in runs[0]}
        lines.append(
            f"| {r['game']} | {r['n']} | {mid['raw']:,.0f} | {mid['sequential_stock']:,.0f} | "
            f"{mid['sequential']:,.0f} | {mid['engine']:,.0f} | {mid['engine_random']:,.0f} | "
            f"{_ratio(runs, 'engine', 'raw', '.2f')} | {_ratio(runs, 'engine_random', 'raw', '.2f')} | "
            f"{_ratio(runs, 'engine', 'sequential', '.1f', 'x')} | "
            f"{_ratio(runs, 'engine', 'sequential_stock', '.1f', 'x')} | "
            f"{'yes' if r['identical'] else 'NO'} ({r['n_seq']} episodes) |")
    holdem = [r for r in rows if r["name"] == "texas_holdem"]
    if holdem:
        rates = {r["n"]: float(np.median([run["engine"] for run in r["runs"]])) for r in holdem}
        lines += ["", f"Issue 12 measured sequential evaluation at ~13 ms per 4-player hand ({ISSUE_HANDS_PER_S:g} "
                  "hands/s, not side by side with this run); the engine's median rates here are "
                  + ", ".join(f"{v / ISSUE_HANDS_PER_S:.0f}x (N={n})" for n, v in rates.items())
                  + " that figure."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 64, 512],
                        help="episodes played side by side (engine) / raw envs stepped in turn")
    parser.add_argument("--games", nargs="+", default=list(GAMES), choices=list(GAMES))
    parser.add_argument("--scale", type=float, default=0.5, help="multiplies the episodes per measurement")
    parser.add_argument("--repeats", type=int, default=5, help="alternating runs per side")
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
