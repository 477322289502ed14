"""Stepping speed with derived game descriptions (``envs.from_pettingzoo``) beside the
hand-written ones (``envs.make``) for the six shipped games.

Both sides drive the *same* raw PettingZoo env; only the description differs: the hand-written
encoders (and, for some games, an ``observe`` that reads the env's state directly) against the
derived ones (gymnasium's ``flatten`` of the observation space, ``env.observe``).  Opponents are
uniform-random references, so that encoding and stepping, not NPC networks, take the time; the
learner picks uniformly among its legal actions.  Two measurements per game:

* ``SelfPlayVecEnv``: learner steps per CPU-second, ``--n-envs`` copies.
* ``MatchEngine``: matches per CPU-second, a random policy in every seat (evaluation's path).

Times are process time (the machine is shared with other jobs); each side is measured
``--repeats`` times, alternating with the other, and the best run kept, so drifting load hits
both alike.  The ratio column (derived / hand-written) is the number to read.

    python benchmarks/encoder_speed.py [--steps 300] [--n-envs 16] [--matches 64] [--repeats 3]

Writes ``benchmarks/results/encoder_speed.md``.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pettingzoo.classic import connect_four_v3, rps_v2, tictactoe_v3
from pettingzoo.utils.conversions import aec_to_parallel

import envs
from envs.games import kuhn_poker, simple_tag, texas_holdem
from mpe2 import simple_tag_v3

# The raw env each shipped game's factory builds, with its default kwargs.
RAW: dict[str, Callable[[], Any]] = {
    "tictactoe": tictactoe_v3.raw_env,
    "connect_four": connect_four_v3.raw_env,
    "rps": lambda: aec_to_parallel(rps_v2.raw_env(num_actions=3, max_cycles=15)),
    "texas_holdem": lambda: texas_holdem.RawEnv(num_players=4),
    "kuhn_poker": lambda: kuhn_poker.raw_env(num_players=2),
    "simple_tag": lambda: aec_to_parallel(simple_tag_v3.raw_env(num_good=1, num_adversaries=3, num_obstacles=2,
                                                                max_cycles=25, continuous_actions=False)),
}


def random_legal(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly drawn legal action per row: the stand-in learner, the same on both sides."""
    return envs.sample_from_probs(mask / mask.sum(axis=1, keepdims=True), rng)


def selfplay_rate(game: envs.Game, n_envs: int, steps: int, seed: int) -> float:
    """Learner steps per CPU-second of ``SelfPlayVecEnv`` against random references."""
    vec = envs.SelfPlayVecEnv(game, game.seats[0], envs.ReferenceOpponents(game), n_envs, seed=seed)
    rng = np.random.default_rng(seed)
    _, info = vec.reset()
    mask = info["action_mask"]
    start = time.process_time()
    for _ in range(steps):
        _, _, _, _, info = vec.step(random_legal(mask, rng))
        mask = info["action_mask"]
    elapsed = time.process_time() - start
    vec.close()
    return n_envs * steps / elapsed


def match_rate(game: envs.Game, matches: int, seed: int) -> float:
    """Matches per CPU-second of ``MatchEngine`` with a random policy in every seat."""
    engine = envs.MatchEngine(game)
    seating = dict.fromkeys(game.seats, "random")
    start = time.process_time()
    engine.play([(seating, seed * matches + k) for k in range(matches)])
    elapsed = time.process_time() - start
    engine.close()
    return matches / elapsed


def measure(name: str, args: argparse.Namespace) -> dict[str, Any]:
    hand = envs.make(name)
    derived = envs.from_pettingzoo(RAW[name], name=name)
    best: dict[str, Any] = dict.fromkeys(("hand_steps", "derived_steps", "hand_matches", "derived_matches"), 0.0)
    best["hand_reads"] = f"`{hand.observe.__name__}`" if hand.observe is not None else "`env.observe`"
    for r in range(args.repeats):  # alternate, so drifting machine load hits both sides alike
        for side, game in (("hand", hand), ("derived", derived)):
            best[f"{side}_steps"] = max(best[f"{side}_steps"], selfplay_rate(game, args.n_envs, args.steps, r))
            best[f"{side}_matches"] = max(best[f"{side}_matches"], match_rate(game, args.matches, r))
    return best


def table(rows: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        "# Stepping speed: derived game descriptions vs the hand-written ones",
        "",
        f"`python benchmarks/encoder_speed.py --steps {args.steps} --n-envs {args.n_envs} "
        f"--matches {args.matches} --repeats {args.repeats}`; {platform.machine()}, "
        f"Python {platform.python_version()}.",
        "Per CPU-second (process time; the machine was shared with other jobs, so read the ratios, "
        f"not the absolute rates), best of {args.repeats} alternating runs per side. Both sides drive "
        "the same raw env against uniform-random opponents; hand-written = `envs.make(name)`, "
        "derived = `envs.from_pettingzoo(raw_env)`.",
        "",
        "| game | hand-written reads | hand-written steps/s | derived steps/s | ratio | hand-written matches/s "
        "| derived matches/s | ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, b in rows.items():
        lines.append(f"| {name} | {b['hand_reads']} | {b['hand_steps']:,.0f} | {b['derived_steps']:,.0f} | "
                     f"{b['derived_steps'] / b['hand_steps']:.2f} | {b['hand_matches']:,.0f} | "
                     f"{b['derived_matches']:,.0f} | {b['derived_matches'] / b['hand_matches']:.2f} |")
    lines += ["", "Steps/s: learner steps of `SelfPlayVecEnv` (one per copy per `step`); matches/s: "
              "`MatchEngine.play` with a random policy in every seat. \"Hand-written reads\": how the "
              "hand-written game gets an observation; where it is its own `observe` (reading the board "
              "or hand from the env's state), the derived game pays for PettingZoo's `observe` and "
              "gymnasium's `flatten` instead, and that is the gap. Where both call `env.observe`, the "
              "two differ by the encoder alone and a ratio within ~20% of 1 is noise on a shared "
              "machine."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="vectorized steps per self-play measurement")
    parser.add_argument("--n-envs", type=int, default=16, help="env copies stepped together")
    parser.add_argument("--matches", type=int, default=64, help="matches per match-engine measurement")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs per side; best kept")
    parser.add_argument("--games", nargs="*", default=sorted(RAW), choices=sorted(RAW), help="games to measure")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "encoder_speed.md")
    args = parser.parse_args(argv)
    rows = {}
    for name in args.games:
        rows[name] = b = measure(name, args)
        print(f"{name:14s} steps/s hand {b['hand_steps']:8.0f} derived {b['derived_steps']:8.0f} "
              f"({b['derived_steps'] / b['hand_steps']:.2f})   matches/s hand {b['hand_matches']:7.1f} "
              f"derived {b['derived_matches']:7.1f} ({b['derived_matches'] / b['hand_matches']:.2f})", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table(rows, args))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
