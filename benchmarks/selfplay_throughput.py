"""Learner steps per second of ``envs.SelfPlayVecEnv`` against a hand-written batched baseline.

Both sides step ``N`` copies of the same raw PettingZoo env with three distinct opponent
members (random-init ``league.models`` MLPs), pick the learner's action uniformly among legal
ones, and run one NPC forward pass per member per NPC round through the same
``NetworkPolicy.act``. The baseline is the tightest loop we could write for these games: no
seating bookkeeping, outcomes, reward accounting or checks beyond what stepping needs. The
ratio is what the self-play env's generality costs.

    python benchmarks/selfplay_throughput.py [--steps 400] [--n-envs 64] [--repeats 3]

Writes ``benchmarks/results/selfplay_throughput.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import time
from pathlib import Path

import numpy as np
import torch

import envs
from league.models import NetworkPolicy, build_network, mlp_spec

MEMBERS = ("m0", "m1", "m2")


def make_members(game: envs.Game, seed: int) -> dict[str, NetworkPolicy]:
    """Three random-init MLP opponents (distinct weights) for the game's NPC seats."""
    torch.manual_seed(seed)
    seat = game.seats[0]
    spec = mlp_spec(game.obs_dim(seat), game.n_actions(seat), (64, 64))
    return {m: NetworkPolicy(build_network(spec)) for m in MEMBERS}


class ThreeMembers:
    """Opponent source: each NPC seat gets one of the three members, drawn per episode."""

    def __init__(self, members: dict[str, NetworkPolicy]):
        self.members = members

    def pick(self, seats, rng):
        return {s: MEMBERS[int(rng.integers(3))] for s in seats}

    def load(self, member_id):
        return self.members[member_id]


def random_legal(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly drawn legal action per row (the stand-in learner; same on both sides)."""
    return envs.sample_from_probs(mask / mask.sum(axis=1, keepdims=True), rng)


def run_selfplay(game: envs.Game, members, n_envs: int, steps: int, seed: int) -> float:
    vec = envs.SelfPlayVecEnv(game, game.seats[0], ThreeMembers(members), n_envs, seed=seed)
    rng = np.random.default_rng(seed)
    obs, info = vec.reset()
    mask = info["action_mask"]
    start = time.process_time()
    for _ in range(steps):
        obs, _, _, _, info = vec.step(random_legal(mask, rng))
        mask = info["action_mask"]
    return n_envs * steps / (time.process_time() - start)


def observation_reader(name: str):
    """The cheapest way we know to get (flat obs, mask) of the seat to move, per game: the board
    list read directly for connect_four (as the self-play env does), ``observe`` for RLCard."""
    if name == "connect_four":
        def read(env, agent):
            board = np.array(env.board, dtype=np.int8)
            me = 1 if agent == "player_0" else 2
            obs = np.empty(84, np.float32)
            obs[0::2] = board == me
            obs[1::2] = board == 3 - me
            return obs, board[:7] == 0
    else:
        def read(env, agent):
            raw = env.observe(agent)
            return raw["observation"].reshape(-1), raw["action_mask"].astype(bool)
    return read


def run_baseline(game: envs.Game, members, n_envs: int, steps: int, seed: int) -> float:
    """N raw AEC envs, NPC decisions batched by member by hand, same-step reset."""
    read = observation_reader(game.name)
    rng = np.random.default_rng(seed)
    learner = game.seats[0]
    raws = [game.new_env() for _ in range(n_envs)]
    seating: list[dict[str, str]] = []
    for i, env in enumerate(raws):
        env.reset(seed=seed + i)
        seating.append({s: MEMBERS[int(rng.integers(3))] for s in game.seats if s != learner})
    n_act = game.n_actions(learner)
    obs = np.zeros((n_envs, game.obs_dim(learner)), np.float32)
    mask = np.ones((n_envs, n_act), bool)
    reward = np.zeros(n_envs, np.float32)
    done = np.zeros(n_envs, bool)

    def advance(pending: list[int]) -> None:
        while pending:
            groups: dict[str, list] = {}
            for i in pending:
                env = raws[i]
                while True:
                    agent = env.agent_selection
                    if env.terminations[agent] or env.truncations[agent]:
                        # What any training loop needs from an ended episode: reward and done.
                        reward[i] += env._cumulative_rewards[learner]
                        done[i] = True
                        env.reset()
                        seating[i] = {s: MEMBERS[int(rng.integers(3))] for s in seating[i]}
                        continue
                    o, m = read(env, agent)
                    if agent == learner:
                        obs[i] = o
                        mask[i] = m
                    else:
                        groups.setdefault(seating[i][agent], []).append((i, o, m))
                    break
            pending = []
            for member, group in groups.items():
                o = np.stack([o for _, o, _ in group]).astype(np.float32, copy=False)
                m = np.stack([m for _, _, m in group])
                actions = members[member].act(o, m, rng)
                for (i, _, _), a in zip(group, actions.tolist()):
                    raws[i].step(a)
                    pending.append(i)

    advance(list(range(n_envs)))
    start = time.process_time()
    for _ in range(steps):
        reward[:] = 0
        done[:] = False
        actions = random_legal(mask, rng).tolist()
        for i, a in enumerate(actions):
            raws[i].step(a)
        advance(list(range(n_envs)))
    return n_envs * steps / (time.process_time() - start)


def wrapped_variant(game: envs.Game) -> envs.Game:
    """The same game driven through PettingZoo's usual ``env()`` wrappers (order enforcing,
    out-of-bounds and illegal-move checks) and plain ``observe``, to measure what driving the
    raw env saves."""
    from pettingzoo.classic import connect_four_v3, texas_holdem_v4

    from envs.game import dict_obs_encoder

    factories = {"connect_four": connect_four_v3.env,
                 "texas_holdem": lambda: texas_holdem_v4.env(num_players=len(game.seats))}
    return dataclasses.replace(game, env_fn=factories[game.name], observe=None, encoder=dict_obs_encoder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="vectorized steps per measurement")
    parser.add_argument("--n-envs", type=int, default=64, help="env copies stepped together")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs per side; best kept")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "selfplay_throughput.md")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the machine is shared; one thread is also what rollout workers get

    rows = []
    for name, kwargs in (("texas_holdem", {"num_players": 4}), ("connect_four", {})):
        game = envs.make(name, **kwargs)
        members = make_members(game, seed=0)
        wrapped = wrapped_variant(game)
        best = {"selfplay": 0.0, "baseline": 0.0, "wrapped": 0.0}
        for r in range(args.repeats):  # alternate so drifting machine load hits all sides alike
            best["baseline"] = max(best["baseline"], run_baseline(game, members, args.n_envs, args.steps, r))
            best["selfplay"] = max(best["selfplay"], run_selfplay(game, members, args.n_envs, args.steps, r))
            best["wrapped"] = max(best["wrapped"], run_selfplay(wrapped, members, args.n_envs, args.steps, r))
        ratio = best["selfplay"] / best["baseline"]
        label = f"{name} ({len(game.seats)} players)"
        rows.append((label, best["baseline"], best["selfplay"], ratio, best["wrapped"]))
        print(f"{label:26s} baseline {best['baseline']:9.0f}  SelfPlayVecEnv {best['selfplay']:9.0f}  "
              f"ratio {ratio:.2f}  (on wrapped envs {best['wrapped']:9.0f})")

    lines = [
        "# Self-play env throughput",
        "",
        f"Learner steps per CPU-second (process time: the machine is shared), {args.n_envs} copies, "
        f"3 random-init MLP opponent members (64x64), best of {args.repeats} alternating runs of "
        f"{args.steps} vectorized steps, 1 torch thread, {platform.machine()}, "
        f"Python {platform.python_version()}, torch {torch.__version__}.",
        "Baseline: N raw PettingZoo envs with NPC forward passes batched by member by hand.",
        "Last column: `SelfPlayVecEnv` driving PettingZoo's wrapped `env()` (order enforcing,",
        "illegal-move wrappers, plain `observe`) instead of the raw env.",
        "",
        "| game | baseline (steps/s) | SelfPlayVecEnv (steps/s) | ratio | SelfPlayVecEnv on wrapped envs |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {label} | {b:,.0f} | {s:,.0f} | {ratio:.2f} | {w:,.0f} |" for label, b, s, ratio, w in rows]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
