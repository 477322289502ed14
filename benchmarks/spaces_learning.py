"""Learning check for the new spaces: a Box-action game and an image-observation game.

Each game runs a real league through the CLI (``python -m league.run game.name=...``, no user
code) on a budget of about five minutes on one core; then every role's random anchor (before)
and its first and newest trained members (after) play the same deals in the role's seat,
every other seat a uniform-random policy, and the table gives mean return (± 95 %) and win rate.

    python benchmarks/spaces_learning.py              # both games -> benchmarks/results/spaces_learning.md
    python benchmarks/spaces_learning.py --only pong  # one of them
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import envs  # noqa: E402
from league.models import build_policy, is_weightless  # noqa: E402
from league.pool import Pool  # noqa: E402
from league.training.ppo import learner_result  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "spaces_learning.md"


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    game: str
    kwargs: dict[str, Any]
    overrides: tuple[str, ...] = field(default=())
    episodes: int = 320
    """Measured episodes per policy."""
    note: str = ""
    """What the table does not say, printed under it."""


def _toml(kwargs: dict[str, Any]) -> str:
    def value(v: Any) -> str:
        return ("true" if v else "false") if isinstance(v, bool) else repr(v)
    return "{" + ",".join(f"{k}={value(v)}" for k, v in kwargs.items()) + "}"


CASES = [
    Case("push", "simple_push, continuous actions (Box(0, 1, (5,)): tanh-squashed Gaussian, MLP)",
         "mpe2.simple_push_v3", {"continuous_actions": True, "max_cycles": 25},
         ("rotations=1", "bootstrap.max_steps=40960", "training.max_steps=12288",
          "bootstrap.eval_every=20480", "training.eval_every=12288", "evaluation.budget=8"), 400),
    # The screen downscaled 8x by the game's own render_ratio (70x120x3 frames); ball and paddle
    # speeds scaled to match (the ball moves 2 pixels a frame, no more than the paddle is wide,
    # so it cannot pass through it), crossing the screen in about as many frames as at full size.
    # render_mode="rgb_array": without a render mode the game never draws its screen, and every
    # observation is a black frame (measured: all zeros), so nothing can be learned from it.
    Case("pong", "cooperative_pong, image observations (70x120x3 frames: CNN), discrete actions",
         "pettingzoo.butterfly.cooperative_pong_v6",
         {"render_ratio": 8, "ball_speed": 2, "left_paddle_speed": 3, "right_paddle_speed": 3, "max_cycles": 150,
          "render_mode": "rgb_array"},
         ("rotations=0", "bootstrap.max_steps=49152", "bootstrap.eval_every=49152", "evaluation.budget=4"), 96,
         "Not learned in this budget (49,152 steps per paddle from pixels, about five minutes of one core): "
         "the CNN path trains (see quadrants) but pong from frames needs more steps than this; the random "
         "partner's misses end episodes too, whatever the learner does (how often: not measured)."),
    # A control for the image path: a synthetic frame game a CNN learns in a few thousand steps.
    Case("quadrants", "quadrants (synthetic, benchmarks/spaces_games.py), image observations (24x24x3: CNN)",
         "spaces_games:quadrants", {},
         ("rotations=0", "bootstrap.max_steps=12288", "bootstrap.eval_every=12288", "evaluation.budget=4"), 320),
]


def run_league(case: Case, out: Path) -> float:
    """The league through the CLI; returns its wall time in seconds."""
    kwargs = [f"game.kwargs={_toml(case.kwargs)}"] if case.kwargs else []
    cmd = [sys.executable, "-m", "league.run", "--quiet", "--out", str(out), f"game.name={case.game}",
           *kwargs, "report.anchor_episodes=16", "seed=0", *case.overrides]
    # benchmarks/ on the path: "spaces_games:quadrants" is a user factory, as any user's would be.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "benchmarks"), os.environ.get("PYTHONPATH", "")])}
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{case.key}: league.run failed:\n{proc.stderr[-4000:]}")
    return time.perf_counter() - started


def measure(game: envs.Game, seat: str, policy: Any, episodes: int, seed: int) -> tuple[float, float, float]:
    """(mean return, its 95 % half-width, win rate) of ``policy`` in ``seat``, the rest random:
    the same deals for every policy (the env and the policy's sampler seeded alike), episodes
    spread evenly over the env copies as ``league.training.callbacks.play_episodes`` does."""
    n = 16
    others = envs.FixedOpponents({s: game.reference("random", s) for s in game.seats if s != seat})
    env = envs.SelfPlayVecEnv(game, seat, others, n, seed=seed)
    rng = np.random.default_rng(seed)
    quota = np.full(n, episodes // n)
    quota[: episodes % n] += 1
    done = np.zeros(n, int)
    returns: list[float] = []
    wins = 0
    obs, infos = env.reset(seed=seed)
    while (done < quota).any():
        mask = infos["action_mask"] if game.masked else None
        obs, _, _, _, infos = env.step(np.asarray(policy.act(obs, mask, rng)))
        for i, outcome in infos["outcomes"]:
            if done[i] < quota[i]:
                done[i] += 1
                returns.append(outcome.returns[seat])
                wins += learner_result(outcome) > 0
    env.close()
    half = 1.96 * float(np.std(returns, ddof=1)) / np.sqrt(len(returns))
    return float(np.mean(returns)), half, wins / len(returns)


def evaluate(case: Case, out: Path, episodes: int) -> list[dict[str, Any]]:
    game = envs.make(case.game, **case.kwargs)
    rows = []
    with Pool.open(out / "pool", "r") as pool:
        for role in pool.roles:
            seat = next(s for s in game.seats if game.roles[s] == role)
            members = sorted(pool.members(role), key=lambda m: m.version)
            anchor = next(m for m in members if m.anchor)
            trained = [m for m in members if not m.anchor]
            picks = [("random anchor (before)", anchor), (f"first trained, v{trained[0].version}", trained[0]),
                     (f"newest trained, v{trained[-1].version} (after)", trained[-1])]
            if len(trained) == 1:  # no rotation: the bootstrap's member is first and newest
                picks = [picks[0], (f"trained, v{trained[0].version} (after)", trained[0])]
            for label, m in picks:
                weights = None if is_weightless(m.spec) else pool.weights(m.id)
                policy = build_policy(m.spec, weights)
                mean, half, win = measure(game, seat, policy, episodes, seed=20260)
                rows.append({"role": role, "who": label, "id": m.id, "step": m.step, "kind": m.spec["kind"],
                             "mean": mean, "half": half, "win": win, "episodes": episodes})
    return rows


def write(results: dict[str, tuple[Case, float, list[dict[str, Any]]]]) -> str:
    lines = ["# Learning with the new spaces: Box actions and image observations", "",
             "`python benchmarks/spaces_learning.py`: each game is a league run through the CLI "
             "(`python -m league.run game.name=... 'game.kwargs={...}'`: PettingZoo modules by import path, "
             "no adapter code; `quadrants` is a user factory on `PYTHONPATH`), then each role's "
             "random anchor (before) and its trained members (after) play the same deals in the role's "
             "seat against uniform-random policies in every other seat (sampled actions). "
             "Mean return ± 95 % interval; win rate from the game's outcome rule (ranks by return; a "
             "cooperative game's seats share one, so its win rate is 0). *league step*: the league's "
             "learner steps, all roles together, when the member was added. Wall times of reused runs "
             "(`--reuse`) are read from the run's file times.", ""]
    for key, (case, wall, rows) in results.items():
        lines += [f"## {case.title}", "",
                  f"`game.name={case.game}` `game.kwargs={_toml(case.kwargs)}` "
                  f"{' '.join('`' + o + '`' for o in case.overrides)}; league wall time {wall:.0f} s "
                  "(2 shared cores, `nice`, one torch thread).", "",
                  "| role | member | id | league step | network | mean return | ± 95 % | win rate | episodes |",
                  "|---|---|---:|---:|---|---:|---:|---:|---:|"]
        for r in rows:
            lines.append(f"| {r['role']} | {r['who']} | {r['id']} | {r['step']} | {r['kind']} | {r['mean']:.3f} "
                         f"| {r['half']:.3f} | {r['win']:.3f} | {r['episodes']} |")
        lines.append("")
        for role in dict.fromkeys(r["role"] for r in rows):
            before, after = [r for r in rows if r["role"] == role][::len([r for r in rows if r["role"] == role]) - 1]
            diff, half = after["mean"] - before["mean"], float(np.hypot(after["half"], before["half"]))
            verdict = "learned" if diff > half else "worse than random" if diff < -half else "no clear change"
            lines.append(f"- {role}: after - before = {diff:+.3f} ± {half:.3f} mean return: **{verdict}**")
        lines += ["", case.note, ""] if case.note else [""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=[c.key for c in CASES])
    parser.add_argument("--episodes", type=int, help="measured episodes per policy (default: the game's)")
    parser.add_argument("--keep", type=Path, help="keep the runs' output directories under this path")
    parser.add_argument("--reuse", action="store_true",
                        help="with --keep: measure finished runs found there again instead of rerunning them")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for case in CASES:
            if args.only and case.key != args.only:
                continue
            out = base / case.key
            if args.reuse and (out / "leaderboard.md").exists():
                # config.toml is written when the run starts, the leaderboard when it ends.
                wall = (out / "leaderboard.md").stat().st_mtime - (out / "config.toml").stat().st_mtime
            else:
                wall = run_league(case, out)
            print(f"{case.key}: league ran in {wall:.0f} s", flush=True)
            results[case.key] = (case, wall, evaluate(case, out, args.episodes or case.episodes))
            print(write({case.key: results[case.key]}), flush=True)
    md = write(results)
    if args.only is None:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(md)
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
