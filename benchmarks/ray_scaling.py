"""Evaluation throughput (matches per second) of the Ray backend with 1 and 2 workers against the
local backend, on the same seatings in the same run.

A pool of untrained MLP members (each policy head scaled differently, so they differ in
strength) is built in a temporary directory; a fixed list of seatings with seeds is drawn once;
each backend plays the whole list in batches of ``--batch`` matches (``MatchBackend.play``, as
``League._evaluate`` calls it), and every backend must return exactly the local ranks.  Each
measurement is wall time (parallel speed-up is a wall-time matter), best of ``--repeats`` runs
taken in alternation so that load from other processes hits every backend alike; the local
backend runs at the niceness Ray gives its workers (15), so it competes for the cores on the same
terms.  Worker start-up
(a Ray worker imports torch and the game) is timed apart and not counted in the throughput.

    python benchmarks/ray_scaling.py [--games connect_four texas_holdem] [--matches 768] [--batch 128]

Writes ``benchmarks/results/ray_scaling.md``.  Needs Ray (``pip install -e '.[ray]'``).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

import envs
from league.distributed import RayBackend, RayVecEnv, WeightStore, WorkerGroup, connect
from league.evaluation.matches import LocalBackend
from league.population.opponents import MemberLoader, PoolOpponents
from league.models import build_network, mlp_spec
from league.pool import Pool

GAME_KWARGS: dict[str, dict[str, Any]] = {"texas_holdem": {"num_players": 4}}
WORKER_NICENESS = 15  # Ray's default for the worker processes it starts


def build_pool(path: Path, game: envs.Game, per_role: int, seed: int) -> None:
    """``per_role`` random-init MLP members (64x64) per role, policy heads scaled 1x..per_role x 20."""
    roles = list(dict.fromkeys(game.roles[s] for s in game.seats))
    with Pool.create(path, game=game.name, roles=roles) as pool:
        for role in roles:
            seat = next(s for s in game.seats if game.roles[s] == role)
            for i in range(per_role):
                torch.manual_seed(seed + len(pool.members()))
                spec = mlp_spec(game.obs_dim(seat), game.n_actions(seat), (64, 64))
                net = build_network(spec)
                with torch.no_grad():
                    net.actor[-1].weight.mul_(20.0 * (i + 1))
                pool.add(role, net.state_dict(), spec=spec, hparams={}, step=i)


def draw_seatings(pool: Pool, game: envs.Game, n: int, seed: int) -> tuple[list[dict[str, int]], list[int]]:
    """``n`` seatings, each seat a uniformly drawn member of its role, and one seed per match."""
    rng = np.random.default_rng(seed)
    by_role = {role: [m.id for m in pool.members(role)] for role in pool.roles}
    seatings = [{s: int(rng.choice(by_role[game.roles[s]])) for s in game.seats} for _ in range(n)]
    return seatings, [int(x) for x in rng.integers(2**31 - 1, size=n)]


def play_all(backend: Any, seatings: Sequence[dict[str, int]], seeds: Sequence[int], batch: int
             ) -> tuple[float, list[dict[str, int]]]:
    """Wall seconds to play every seating in batches of ``batch``, and the ranks."""
    ranks: list[dict[str, int]] = []
    start = time.perf_counter()
    for k in range(0, len(seatings), batch):
        ranks += backend.play(seatings[k:k + batch], seeds[k:k + batch])
    return time.perf_counter() - start, ranks


def bench_game(name: str, args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    game = envs.make(name, **GAME_KWARGS.get(name, {}))
    path = tmp / name
    build_pool(path, game, args.members, args.seed)
    pool = Pool.open(path)
    seatings, seeds = draw_seatings(pool, game, args.matches, args.seed)
    store = WeightStore(pool)

    backends: dict[str, Any] = {"local": LocalBackend(game, MemberLoader(pool), cache_size=args.cache_size)}
    startup: dict[str, float] = {"local": 0.0}
    groups: list[WorkerGroup] = []
    for n in args.workers:
        t = time.perf_counter()
        group = WorkerGroup(game, n, cache_size=args.cache_size)
        group.pids()  # returns once every worker has started
        startup[f"ray x{n}"] = time.perf_counter() - t
        groups.append(group)
        backends[f"ray x{n}"] = RayBackend(group, store)

    # Warm-up: every worker builds its cache and every member is put once, outside the timings.
    for backend in backends.values():
        play_all(backend, seatings[: args.batch], seeds[: args.batch], args.batch)

    # (label, backend, batch): the Ray backends also at the batch League._evaluate uses today.
    runs = [(label, backend, args.batch) for label, backend in backends.items()]
    if args.league_batch and args.league_batch != args.batch:
        runs += [(f"{label}, batch {args.league_batch}", backend, args.league_batch)
                 for label, backend in backends.items() if label != "local"]
    best: dict[str, float] = {label: float("inf") for label, _, _ in runs}
    reference: list[dict[str, int]] | None = None
    for _ in range(args.repeats):
        for label, backend, batch in runs:
            seconds, ranks = play_all(backend, seatings, seeds, batch)
            best[label] = min(best[label], seconds)
            if reference is None:
                reference = ranks
            elif ranks != reference:
                raise SystemExit(f"{label} returned ranks that differ from the local backend's on {name}")
    for group in groups:
        group.close()
    pool.close()

    local_rate = args.matches / best["local"]
    rows = []
    for label, _, batch in runs:
        rate = args.matches / best[label]
        rows.append({"game": f"{name} ({len(game.seats)} players)", "backend": label, "batch": batch,
                     "seconds": best[label], "rate": rate, "speedup": rate / local_rate,
                     "startup": startup[label.split(",")[0]]})
        print(f"{name:14s} {label:18s} {best[label]:7.2f} s  {rate:8.1f} matches/s  x{rate / local_rate:.2f}",
              flush=True)
    return rows


def bench_rollouts(name: str, args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    """Learner steps per second of the local vector env and of ``RayVecEnv`` over 2 shards,
    uniform legal learner actions, opponents drawn from the pool's members."""
    game = envs.make(name, **GAME_KWARGS.get(name, {}))
    path = tmp / f"{name}-rollouts"
    build_pool(path, game, args.members, args.seed)
    pool = Pool.open(path)
    seat = game.seats[0]
    roles = {s: game.roles[s] for s in game.seats}
    source = PoolOpponents(pool, roles, lambda ms: np.full(len(ms), 1.0 / len(ms)))
    group = WorkerGroup(game, 2, cache_size=args.cache_size)
    group.pids()
    store = WeightStore(pool)
    n = args.n_envs
    made: dict[str, Callable[[], Any]] = {
        "local": lambda: envs.SelfPlayVecEnv(game, seat, source, n, seed=args.seed, cache_size=args.cache_size),
        "ray, 2 shards": lambda: RayVecEnv(group, store, game, seat, source, n, seed=args.seed, shards=2,
                                           cache_size=args.cache_size),
    }
    best = {k: float("inf") for k in made}
    for _ in range(args.repeats):
        for label, make in made.items():
            env = make()
            rng = np.random.default_rng(args.seed)
            env.reset()
            for t in range(args.steps + 10):
                if t == 10:  # the first steps load every opponent into the caches: not timed
                    start = time.perf_counter()
                mask = env.action_masks()
                env.step(np.array([rng.choice(np.flatnonzero(m)) for m in mask]))
            best[label] = min(best[label], time.perf_counter() - start)
            env.close()
    group.close()
    pool.close()
    rows = []
    for label, seconds in best.items():
        rate = n * args.steps / seconds
        rows.append({"game": f"{name} ({len(game.seats)} players)", "env": label, "rate": rate,
                     "speedup": best["local"] / seconds})
        print(f"{name:14s} {label:14s} {rate:9.0f} learner steps/s  x{best['local'] / seconds:.2f}", flush=True)
    return rows


def write_table(rows: list[dict[str, Any]], rollouts: list[dict[str, Any]], args: argparse.Namespace,
                load: tuple[float, float], path: Path) -> None:
    lines = [
        "# Ray backend: evaluation throughput",
        "",
        f"Matches per second of wall time, {args.matches} matches per game in batches of {args.batch} "
        f"(`MatchBackend.play`; the Ray backend sends one chunk per worker per batch), "
        f"{args.members} random-init MLP members (64x64) per role, policy caches of {args.cache_size}, "
        f"best of {args.repeats} alternating runs. "
        f"Every backend returned exactly the local backend's ranks. {os.cpu_count()} cores, "
        f"{platform.machine()}, Python {platform.python_version()}, torch {torch.__version__} "
        f"(1 thread per process), Ray {__import__('ray').__version__}, every process at niceness "
        f"{os.nice(0)} (Ray's for its workers); "
        f"1-minute load average {load[0]:.1f} before and {load[1]:.1f} after (other work on the machine).",
        "",
        "| game | backend | batch | seconds | matches/s | speed-up vs local | worker start-up (s) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['game']} | {r['backend']} | {r['batch']} | {r['seconds']:.2f} | {r['rate']:,.1f} | "
                     f"{r['speedup']:.2f} | {r['startup']:.1f} |")
    lines += ["", "Start-up is paid once per run (workers live as long as the league actor), so it is "
              "left out of the throughput. Rows with a smaller batch use the default `evaluation.batch` "
              "(8 seatings, 4 per worker): Ray's per-call cost and the wait for the slower chunk are "
              "then paid every few matches."]
    if rollouts:
        lines += ["", "## Rollouts (`--rollout-shards`)", "",
                  f"Learner steps per second of wall time, {args.n_envs} env copies, {args.steps} vectorized "
                  f"steps of uniformly drawn legal learner actions, opponents drawn from the same members, "
                  f"best of {args.repeats}. The sharded env replays the local one copy for copy "
                  "(tests/test_ray_backend.py); each step costs one round trip to every shard.", "",
                  "| game | env | learner steps/s | speed-up vs local |", "|---|---|---:|---:|"]
        for r in rollouts:
            lines.append(f"| {r['game']} | {r['env']} | {r['rate']:,.0f} | {r['speedup']:.2f} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--games", nargs="+", default=["connect_four", "texas_holdem"], help="games to measure")
    parser.add_argument("--matches", type=int, default=768, help="matches per measurement")
    parser.add_argument("--batch", type=int, default=128, help="matches per MatchBackend.play call")
    parser.add_argument("--league-batch", type=int, default=8,
                        help="also time the Ray backends at this batch (evaluation.batch's default; 0: skip)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Ray worker counts")
    parser.add_argument("--members", type=int, default=6, help="members per role")
    parser.add_argument("--cache-size", type=int, default=32,
                        help="policies cached per backend / worker / env (32 holds every member: steady state)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs per backend; best kept")
    parser.add_argument("--rollout-games", nargs="*", default=["texas_holdem"],
                        help="games whose sharded rollouts are measured (none: skip)")
    parser.add_argument("--n-envs", type=int, default=64, help="rollouts: env copies")
    parser.add_argument("--steps", type=int, default=200, help="rollouts: vectorized steps per measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ray_scaling.md")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)  # what each Ray worker gets; the local backend plays on one core too
    load_before = os.getloadavg()[0]
    # Logical CPUs for every group at once: all groups stay up so runs can alternate, and
    # only one group plays at a time, so the machine's cores are never oversubscribed.
    connect(None, num_cpus=sum(args.workers), quiet=True)
    # Ray starts its workers at niceness 15; the local backend plays in this process, so it
    # gets the same niceness, or any other load on the machine would favour it.
    if os.nice(0) < WORKER_NICENESS:
        os.nice(WORKER_NICENESS - os.nice(0))
    rows: list[dict[str, Any]] = []
    rollouts: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.games:
            rows += bench_game(name, args, Path(tmp))
        for name in args.rollout_games:
            rollouts += bench_rollouts(name, args, Path(tmp))
    write_table(rows, rollouts, args, (load_before, os.getloadavg()[0]), args.out)


if __name__ == "__main__":
    main()
