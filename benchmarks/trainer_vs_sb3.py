"""Our PPO trainer against Stable-Baselines3's PPO on the same self-play env, in one run.

Both learn tictactoe as the first player against the uniform-random reference with the same
network (separate 128x128 tanh actor and critic), number of envs, rollout length, epochs,
minibatch size, learning rate (annealed linearly over the same budget) and PPO coefficients.
Ours steps a ``SelfPlayVecEnv``; SB3 steps a ``DummyVecEnv`` of ``SelfPlayEnv`` copies.  Both
are evaluated at the same learner steps by the same code (``league.training.callbacks.play_episodes``,
greedy, 200 episodes, the same evaluation seed), and evaluation time is excluded from all
timings.

SB3's PPO has no action masking, so it plays masked games by learning which moves are legal
(an illegal move ends the episode as a loss).  A second SB3 row derives the legal moves from
the tictactoe observation (a square is free when both of its planes are 0) and masks the
logits, so the learning problems are the same; the steps/s target is judged on plain SB3.

    python benchmarks/trainer_vs_sb3.py [--seeds 3] [--steps 100000] [--quick]

Writes ``benchmarks/results/trainer_vs_sb3.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from stable_baselines3 import PPO as SB3PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import DummyVecEnv

import envs
from league.training.callbacks import EvalCallback, Evaluation, TrainEvent, play_episodes
from league.training.ppo import PPOConfig
from league.training.trainer import StopRules, train

GAME, SEAT, TARGET = "tictactoe", "player_1", 0.80
EVAL_EPISODES, EVAL_SEED = 200, 777
CONFIG = PPOConfig(n_envs=16, n_steps=128, epochs=4, minibatches=4, hidden=(128, 128), lr=1e-3,
                   gamma=0.99, gae_lambda=0.95, clip_coef=0.2, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5)
EVAL_EVERY = 2 * CONFIG.batch_size


@dataclass
class RunLog:
    """One training run: training time (evaluations excluded) and the evaluations made."""

    name: str
    seed: int
    steps: int = 0
    train_s: float = 0.0
    train_cpu_s: float = 0.0
    evaluations: list[tuple[int, float, Evaluation]] = field(default_factory=list)  # (step, train_s, eval)

    def to_target(self) -> tuple[int, float] | None:
        for step, seconds, ev in self.evaluations:
            if ev.win_rate >= TARGET:
                return step, seconds
        return None


def eval_env() -> envs.SelfPlayVecEnv:
    game = envs.make(GAME)
    return envs.SelfPlayVecEnv(game, SEAT, envs.ReferenceOpponents(game, "random"), 10, seed=EVAL_SEED)


# -- ours ---------------------------------------------------------------------------------------

class _TimedEval(EvalCallback):
    """Our evaluation, timed so that its cost can be taken out of the training time."""

    def __init__(self, log: RunLog):
        super().__init__(eval_env(), episodes=EVAL_EPISODES, every=EVAL_EVERY, seed=EVAL_SEED, at_end=False)
        self.log = log
        self.spent = 0.0
        self.spent_cpu = 0.0

    def evaluate(self, net, step=0):
        t0, c0 = time.perf_counter(), time.process_time()
        ev = super().evaluate(net, step)
        self.spent += time.perf_counter() - t0
        self.spent_cpu += time.process_time() - c0
        return ev


def run_ours(seed: int, steps: int) -> RunLog:
    log = RunLog("league PPO (SelfPlayVecEnv)", seed)
    game = envs.make(GAME)
    config = CONFIG.replace(seed=seed)
    env = envs.SelfPlayVecEnv(game, SEAT, envs.ReferenceOpponents(game, "random"), config.n_envs, seed=seed)
    evaluation = _TimedEval(log)

    def record(event: TrainEvent) -> None:
        log.steps, log.train_s = event.step, event.elapsed - evaluation.spent
        log.train_cpu_s = time.process_time() - cpu0 - evaluation.spent_cpu
        if event.evaluated_now and event.evaluation is not None:
            log.evaluations.append((event.step, log.train_s, event.evaluation))

    cpu0 = time.process_time()
    train(env, config, stop=StopRules(max_steps=steps), evaluation=evaluation, callbacks=[record], progress=False)
    return log


# -- Stable-Baselines3 ----------------------------------------------------------------------------

class TicTacToeMaskedPolicy(ActorCriticPolicy):
    """SB3's actor-critic with illegal tictactoe moves masked, the mask read off the observation."""

    def _legal(self, obs: torch.Tensor) -> None:
        self._mask = obs.reshape(obs.shape[0], 9, 2).sum(-1) == 0

    def forward(self, obs, deterministic=False):
        self._legal(obs)
        return super().forward(obs, deterministic)

    def evaluate_actions(self, obs, actions):
        self._legal(obs)
        return super().evaluate_actions(obs, actions)

    def get_distribution(self, obs):
        self._legal(obs)
        return super().get_distribution(obs)

    def _get_action_dist_from_latent(self, latent_pi):
        logits = self.action_net(latent_pi)
        mask = self._mask
        # A terminal observation (full board) has no free square: leave such rows unmasked.
        mask = mask | ~mask.any(-1, keepdim=True)
        return self.action_dist.proba_distribution(action_logits=torch.where(mask, logits, -1e9))


class _SB3Eval(BaseCallback):
    """Evaluates at the same learner steps as ours: at the start of a rollout, after the update."""

    def __init__(self, log: RunLog):
        super().__init__()
        self.log, self.env, self.next_at = log, eval_env(), EVAL_EVERY
        self.t0 = self.c0 = self.spent = self.spent_cpu = 0.0

    def _on_training_start(self) -> None:
        self.t0, self.c0 = time.perf_counter(), time.process_time()

    def _evaluate(self) -> None:
        steps = self.model.num_timesteps
        t0, c0 = time.perf_counter(), time.process_time()
        trained_s = t0 - self.t0 - self.spent
        policy = self.model.policy
        policy.set_training_mode(False)

        def act(obs: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
            return policy.predict(obs, deterministic=True)[0]

        ev = play_episodes(self.env, act, EVAL_EPISODES, seed=EVAL_SEED, step=steps)
        self.spent += time.perf_counter() - t0
        self.spent_cpu += time.process_time() - c0
        self.log.evaluations.append((steps, trained_s, ev))

    def _on_rollout_start(self) -> None:
        if self.model.num_timesteps >= self.next_at:
            self._evaluate()
            self.next_at += EVAL_EVERY

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        self.log.steps = self.model.num_timesteps
        self.log.train_s = time.perf_counter() - self.t0 - self.spent
        self.log.train_cpu_s = time.process_time() - self.c0 - self.spent_cpu
        if self.model.num_timesteps >= self.next_at:
            self._evaluate()


def run_sb3(seed: int, steps: int, masked: bool) -> RunLog:
    log = RunLog("SB3 PPO + obs-derived mask (DummyVecEnv)" if masked else "SB3 PPO (DummyVecEnv)", seed)
    game = envs.make(GAME)

    def make(i: int) -> Callable[[], envs.SelfPlayEnv]:
        return lambda: envs.SelfPlayEnv(game, SEAT, envs.ReferenceOpponents(game, "random"))

    vec = DummyVecEnv([make(i) for i in range(CONFIG.n_envs)])
    lr = CONFIG.lr
    model = SB3PPO(
        TicTacToeMaskedPolicy if masked else "MlpPolicy", vec, seed=seed, device="cpu", verbose=0,
        learning_rate=lambda remaining: lr * remaining, n_steps=CONFIG.n_steps,
        batch_size=CONFIG.minibatch_size, n_epochs=CONFIG.epochs, gamma=CONFIG.gamma,
        gae_lambda=CONFIG.gae_lambda, clip_range=CONFIG.clip_coef, clip_range_vf=CONFIG.clip_coef,
        ent_coef=CONFIG.ent_coef, vf_coef=CONFIG.vf_coef, max_grad_norm=CONFIG.max_grad_norm,
        policy_kwargs={"net_arch": {"pi": list(CONFIG.hidden), "vf": list(CONFIG.hidden)},
                       "activation_fn": torch.nn.Tanh})
    # Same budget in whole rollouts as ours (ours never starts an update past max_steps).
    budget = steps // CONFIG.batch_size * CONFIG.batch_size
    model.learn(total_timesteps=budget, callback=_SB3Eval(log))
    return log


# -- report ---------------------------------------------------------------------------------------

def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(logs: list[RunLog], steps: int, wall: float) -> str:
    names = list(dict.fromkeys(log.name for log in logs))
    base = "SB3 PPO (DummyVecEnv)"
    sps = {name: _median([log.steps / log.train_s for log in logs if log.name == name]) for name in names}
    cps = {name: _median([log.steps / log.train_cpu_s for log in logs if log.name == name]) for name in names}
    lines = [
        "# Our PPO trainer vs Stable-Baselines3 PPO (tictactoe, first player, vs uniform random)",
        "",
        f"Generated by `benchmarks/trainer_vs_sb3.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, 1 torch thread; "
        f"{len({log.seed for log in logs})} seeds per trainer, runs interleaved; budget {steps:,} learner "
        f"steps per run; {wall:.0f} s in all.",
        "",
        f"Same settings for both: {CONFIG.n_envs} envs x {CONFIG.n_steps} steps per rollout, {CONFIG.epochs} "
        f"epochs of {CONFIG.minibatches} minibatches ({CONFIG.minibatch_size} samples), actor and critic MLPs "
        f"{list(CONFIG.hidden)} {CONFIG.activation}, lr {CONFIG.lr:g} annealed linearly to 0 over the budget, "
        f"gamma {CONFIG.gamma}, GAE lambda {CONFIG.gae_lambda}, clip {CONFIG.clip_coef} (policy and value), "
        f"entropy {CONFIG.ent_coef}, value {CONFIG.vf_coef}, grad norm {CONFIG.max_grad_norm}. Evaluation: every "
        f"{EVAL_EVERY:,} learner steps (after the update), {EVAL_EPISODES} greedy episodes, same code and seed "
        "for both; its time is excluded from every number below.",
        "",
        "| trainer | steps/s (wall) | vs SB3 | steps/s (CPU time) | vs SB3 | reached 0.80 | "
        "steps to 0.80 | training s to 0.80 | final win rate |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        runs = [log for log in logs if log.name == name]
        reached = [h for h in (log.to_target() for log in runs) if h is not None]
        final = _median([log.evaluations[-1][2].win_rate for log in runs if log.evaluations])
        lines.append(
            f"| {name} | {sps[name]:,.0f} | {sps[name] / sps[base]:.2f}x | {cps[name]:,.0f} | "
            f"{cps[name] / cps[base]:.2f}x | {len(reached)}/{len(runs)} | "
            f"{_median([float(s) for s, _ in reached]):,.0f} | {_median([t for _, t in reached]):.1f} | {final:.3f} |")
    lines += ["", "Medians over seeds. Per run (steps to 0.80 / training wall s to 0.80 / steps per wall s / "
              "steps per CPU s):", ""]
    for log in logs:
        hit = log.to_target()
        lines.append(f"- {log.name}, seed {log.seed}: " + (f"{hit[0]:,} / {hit[1]:.1f} s" if hit else "not reached")
                     + f" / {log.steps / log.train_s:,.0f} / {log.steps / log.train_cpu_s:,.0f}")
    lines += ["", "Plain SB3 PPO has no action masking: it has to learn which moves are legal (an illegal move "
              "ends the game as a loss), so the masked SB3 row is the like-for-like learning comparison. "
              "Other engineers' jobs shared the 2 cores during the run: wall-clock rates are noisy, the "
              "CPU-time rates (this process's own CPU seconds) much less so."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per trainer")
    parser.add_argument("--steps", type=int, default=100_000, help="learner steps per run")
    parser.add_argument("--out", type=Path, default=None, help="default: benchmarks/results/trainer_vs_sb3.md")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 seed, 8,192 steps, table printed only (unless --out is given)")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.steps = 1, 8192
    torch.set_num_threads(1)
    # torch imports its compiler stack the first time an optimizer is built (seconds): pay that
    # here, so it is not charged to whichever trainer happens to run first.
    torch.optim.Adam(torch.nn.Linear(1, 1).parameters(), fused=True)
    start = time.perf_counter()
    logs: list[RunLog] = []
    for seed in range(args.seeds):
        for runner in (lambda s: run_ours(s, args.steps), lambda s: run_sb3(s, args.steps, masked=False),
                       lambda s: run_sb3(s, args.steps, masked=True)):
            log = runner(seed)
            logs.append(log)
            hit = log.to_target()
            print(f"{log.name} seed {seed}: {log.steps} steps, {log.steps / log.train_s:,.0f} steps/s, "
                  f"0.80 at {hit}", flush=True)
    logs.sort(key=lambda log: ["league", "SB3 PPO (", "SB3 PPO +"].index(
        next(p for p in ["league", "SB3 PPO (", "SB3 PPO +"] if log.name.startswith(p))))
    text = table(logs, args.steps, time.perf_counter() - start)
    out = args.out or (None if args.quick else Path(__file__).parent / "results" / "trainer_vs_sb3.md")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
