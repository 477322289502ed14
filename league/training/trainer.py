"""Train one policy with PPO on a self-play vector env until a stop rule fires.

The trainer knows nothing of the pool: the caller builds the env (with whatever
opponent source it likes), passes the starting weights if any, and receives a
:class:`TrainResult` holding the best checkpoint seen, its evaluation, the last
weights, why training stopped and the history.

    env = SelfPlayVecEnv(game, "player_1", opponents, config.n_envs, seed=config.seed)
    evaluation = EvalCallback(SelfPlayVecEnv(game, "player_1", references, 20), episodes=200)
    result = train(env, config, stop=StopRules(win_rate=0.9, patience=5, max_steps=500_000),
                   evaluation=evaluation, init_weights=best_member_weights)
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from league.checks import INVALID, check_range
from league.training.callbacks import BestCheckpoint, Callback, EvalCallback, Evaluation, TrainEvent, event_row
from league.errors import ConfigError
from league.training.ppo import PPO, PPOConfig, VecEnv
from league.training.progress import TrainingProgress

__all__ = ["StopReason", "StopRules", "TrainResult", "train", "selfplay_env"]


class StopReason(enum.StrEnum):
    """Why training stopped (a callback may give its own reason string instead)."""

    WIN_RATE = "win_rate"
    RETURN = "return"
    NO_IMPROVEMENT = "no_improvement"
    MAX_STEPS = "max_steps"
    MAX_TIME = "max_time"
    CALLBACK = "callback"


@dataclass(frozen=True)
class StopRules:
    """When to stop; every rule that is set applies, the first to fire wins.

    The targets and ``patience`` read each new evaluation when the trainer has an
    ``EvalCallback``, else the training episodes of each update (noisier, and the
    policy there is sampled).  At least one of ``max_steps`` and ``max_seconds``
    must be set so that training ends even if no target is ever reached.
    """

    win_rate: float | None = None
    """Stop once the win rate reaches this."""
    mean_return: float | None = None
    """Stop once the mean episode return reaches this."""
    patience: int | None = None
    """Stop after this many evaluations in a row without improving the best score by more than ``min_delta``."""
    min_delta: float = 0.0
    """The score gain that counts as an improvement for ``patience``."""
    max_steps: int | None = None
    """Never exceed this many learner steps (an update that would cross it is not started)."""
    max_seconds: float | None = None
    """Do not start an update that the last update's duration says would end past this wall time."""

    def __post_init__(self) -> None:
        check_range("StopRules.win_rate", self.win_rate, low=0.0, high=1.0, optional=True,
                    accepted="None or a float in [0, 1]", form=INVALID)
        check_range("StopRules.mean_return", self.mean_return, optional=True,
                    accepted="None or a finite float", form=INVALID)
        check_range("StopRules.patience", self.patience, low=1, integer=True, optional=True,
                    accepted="None or a positive integer", form=INVALID)
        # max_seconds = inf (no time limit) and min_delta = inf (no evaluation counts as an
        # improvement) mean something, so they stay allowed.
        check_range("StopRules.min_delta", self.min_delta, low=0.0, finite=False,
                    accepted="a non-negative float", form=INVALID)
        check_range("StopRules.max_steps", self.max_steps, low=1, integer=True, optional=True,
                    accepted="None or a positive integer", form=INVALID)
        check_range("StopRules.max_seconds", self.max_seconds, low=0.0, low_open=True, finite=False, optional=True,
                    accepted="None or a positive number of seconds", form=INVALID)
        if self.max_steps is None and self.max_seconds is None:
            raise ConfigError("StopRules needs max_steps or max_seconds (or both) so that training always ends; "
                              "got neither")


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced."""

    best_weights: dict[str, torch.Tensor]
    """Weights with the best evaluation score (the last weights when nothing was evaluated)."""
    best_evaluation: Evaluation | None
    """The evaluation of ``best_weights``, or None when nothing was evaluated."""
    last_weights: dict[str, torch.Tensor]
    """Weights at the end of training."""
    last_evaluation: Evaluation | None
    """The latest evaluation made."""
    stop_reason: str
    """A ``StopReason`` value, or the reason string a callback returned."""
    stop_detail: str
    """One line saying what fired, e.g. 'win rate 0.82 >= 0.80 at step 61440'."""
    steps: int
    """Learner steps taken."""
    updates: int
    """PPO updates made."""
    wall_time: float
    """Seconds from start to end, evaluations included."""
    spec: dict[str, Any]
    """The network spec of both weight sets."""
    config: PPOConfig
    """The PPO config trained with."""
    history: list[dict[str, float]] = field(default_factory=list, repr=False)
    """One row per update: step, updates, elapsed, the metrics and the latest evaluation's fields."""
    evaluations: list[Evaluation] = field(default_factory=list, repr=False)
    """Every evaluation, in order."""

    @property
    def best_step(self) -> int | None:
        """The learner step of the best checkpoint (None when nothing was evaluated)."""
        return None if self.best_evaluation is None else self.best_evaluation.step


def selfplay_env(game: Any, learner_seat: str, opponents: Any, config: PPOConfig, *, n_envs: int | None = None,
                 seed: int | None = None, **kwargs: Any) -> Any:
    """A ``SelfPlayVecEnv`` for ``config`` (``n_envs``/``seed`` default to the config's)."""
    from envs import SelfPlayVecEnv  # the trainer runs on any VecEnv; only this helper needs envs

    return SelfPlayVecEnv(game, learner_seat, opponents, config.n_envs if n_envs is None else n_envs,
                          seed=config.seed if seed is None else seed, **kwargs)


class _Stopper:
    """Applies ``StopRules`` to the stream of scores; remembers the best for ``patience``."""

    def __init__(self, rules: StopRules):
        self.rules = rules
        self.best_score = -math.inf
        self.stale = 0

    def check(self, step: int, win_rate: float | None, mean_return: float | None,
              score: float | None) -> tuple[StopReason, str] | None:
        r = self.rules
        if r.win_rate is not None and win_rate is not None and win_rate >= r.win_rate:
            return StopReason.WIN_RATE, f"win rate {win_rate:.3f} >= {r.win_rate:.3f} at step {step}"
        if r.mean_return is not None and mean_return is not None and mean_return >= r.mean_return:
            return StopReason.RETURN, f"mean return {mean_return:.3f} >= {r.mean_return:.3f} at step {step}"
        if score is not None:
            if score > self.best_score + r.min_delta:
                self.best_score, self.stale = score, 0
            else:
                self.stale += 1
            if r.patience is not None and self.stale >= r.patience:
                return (StopReason.NO_IMPROVEMENT, f"no score gain above {self.best_score:.3f} "
                        f"(+{r.min_delta}) for {self.stale} evaluations, at step {step}")
        return None


def train(env: VecEnv, config: PPOConfig | None = None, *, stop: StopRules,
          init_weights: Mapping[str, Any] | None = None, evaluation: EvalCallback | None = None,
          callbacks: Sequence[Callback] = (), progress: bool | None = None,
          on_outcome: Callable[[Any], None] | None = None) -> TrainResult:
    """Train on ``env`` from ``init_weights`` (else fresh weights) until a stop rule fires.

    ``env`` follows the ``SelfPlayVecEnv`` contract with ``config.n_envs`` copies
    (see :func:`selfplay_env`).  ``evaluation`` runs every ``evaluation.every``
    learner steps; its results drive the best checkpoint and the stop rules.
    ``progress``: show a progress bar (None: only when stderr is a terminal).
    ``on_outcome`` is called with every finished training episode's ``envs.Outcome``.
    """
    config = config or PPOConfig()
    threads = torch.get_num_threads()
    if config.torch_threads is not None:
        torch.set_num_threads(config.torch_threads)  # small nets gain nothing from threads, others lose cores
    try:
        return _train(env, config, stop, init_weights, evaluation, callbacks, progress, on_outcome)
    finally:
        torch.set_num_threads(threads)


def _train(env: VecEnv, config: PPOConfig, stop: StopRules, init_weights: Mapping[str, Any] | None,
           evaluation: EvalCallback | None, callbacks: Sequence[Callback], progress: bool | None,
           on_outcome: Callable[[Any], None] | None = None) -> TrainResult:
    started = time.perf_counter()
    ppo = PPO(env, config, init_weights=init_weights, total_steps=stop.max_steps, on_outcome=on_outcome)
    best = BestCheckpoint()
    stopper = _Stopper(stop)
    history: list[dict[str, float]] = []
    evaluations: list[Evaluation] = []
    latest: Evaluation | None = None
    reason: tuple[str, str] | None = None

    def run_evaluation() -> Evaluation:
        assert evaluation is not None
        ev = evaluation.evaluate(ppo.net, ppo.steps)
        evaluations.append(ev)
        best.consider(ppo.net, ev)
        return ev

    if evaluation is not None and evaluation.at_start:
        latest = run_evaluation()
        stopper.check(0, None, None, latest.score)  # the starting score is the bar to beat
    last_eval_step = 0
    bar = TrainingProgress(stop.max_steps, enabled=progress)
    try:
        iteration_s = 0.0
        while reason is None:
            # -- budgets: checked before an update, so neither is overrun by a whole update ------
            elapsed = time.perf_counter() - started
            if stop.max_steps is not None and ppo.steps + config.batch_size > stop.max_steps:
                reason = StopReason.MAX_STEPS, (f"the next update would pass max_steps={stop.max_steps} "
                                                f"(at step {ppo.steps})")
                break
            if stop.max_seconds is not None and elapsed + iteration_s > stop.max_seconds:
                reason = StopReason.MAX_TIME, (f"{elapsed:.1f} s elapsed; another update would pass "
                                               f"max_seconds={stop.max_seconds}")
                break

            # -- one PPO update, then an evaluation when due ------------------------------------
            t0 = time.perf_counter()
            metrics = ppo.iteration()
            evaluated = False
            if evaluation is not None and ppo.steps - last_eval_step >= evaluation.every:
                latest, last_eval_step, evaluated = run_evaluation(), ppo.steps, True
            iteration_s = time.perf_counter() - t0
            event = TrainEvent(step=ppo.steps, updates=ppo.updates, elapsed=time.perf_counter() - started,
                               metrics=metrics, evaluation=latest, net=ppo.net)
            history.append(event_row(event))
            bar.update(event)

            # -- stop rules: on each new evaluation, or on training episodes without an evaluator --
            if evaluated and latest is not None:
                fired = stopper.check(ppo.steps, latest.win_rate, latest.mean_return, latest.score)
            elif evaluation is None and "train_win_rate" in metrics:
                fired = stopper.check(ppo.steps, metrics["train_win_rate"], metrics["episode_return"],
                                      metrics["train_win_rate"] + 0.5 * metrics["train_draw_rate"])
            else:
                fired = None
            reason = fired

            # -- callbacks: every one sees every event, even when a rule already fired ----------
            for callback in callbacks:
                answer = callback(event)
                if reason is None and answer is not None and answer is not True:
                    name = getattr(callback, "__name__", type(callback).__name__)
                    reason = ((StopReason.CALLBACK, f"{name} returned False at step {ppo.steps}")
                              if answer is False else (str(answer), f"{name}: {answer} at step {ppo.steps}"))
    finally:
        bar.close()

    # The final weights are a candidate too, unless they were just evaluated.
    if evaluation is not None and evaluation.at_end and (latest is None or latest.step != ppo.steps):
        latest = run_evaluation()
    last = ppo.weights()
    return TrainResult(
        best_weights=best.weights if best.weights is not None else last,
        best_evaluation=best.evaluation,
        last_weights=last,
        last_evaluation=latest,
        stop_reason=str(reason[0]),
        stop_detail=reason[1],
        steps=ppo.steps,
        updates=ppo.updates,
        wall_time=time.perf_counter() - started,
        spec=ppo.spec,
        config=config,
        history=history,
        evaluations=evaluations,
    )
