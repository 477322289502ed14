"""Hooks the trainer calls after every PPO update, and the evaluation it runs on a schedule.

After each update the trainer builds one :class:`TrainEvent` and hands it to
every callback in order.  A callback returns ``None``/``True`` to let training go
on, ``False`` to stop it, or a string to stop it with that string as the reason.

Evaluation is the one hook that *produces* data the others read (the stop rules,
the best-checkpoint keeper, the loggers), so the trainer runs it itself, before
the callbacks, whenever an :class:`EvalCallback` is due; its result is
``event.evaluation``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, Protocol

import numpy as np
import torch

from league.checks import INVALID, check_range
from league.errors import ConfigError
from league.models import ActorCritic, masked_logits
from league.training.distributions import distribution
from league.training.ppo import VecEnv, learner_result, sample_actions

__all__ = [
    "Evaluation",
    "TrainEvent",
    "Callback",
    "EvalCallback",
    "play_episodes",
    "BestCheckpoint",
    "CSVLogger",
    "TensorBoardLogger",
    "metric_loggers",
    "event_row",
]


@dataclass(frozen=True)
class Evaluation:
    """The result of playing ``episodes`` evaluation episodes at learner step ``step``."""

    step: int
    episodes: int
    win_rate: float
    draw_rate: float
    loss_rate: float
    mean_return: float
    score_by: Literal["outcome", "return"] = "outcome"
    """What ``score`` is: points per game (``outcome``) or the mean return (``return``)."""

    @property
    def score(self) -> float:
        """What "best" and "improved" mean: points per game (win 1, draw 1/2, loss 0), or the
        mean return where returns carry more than the outcome (chips in poker)."""
        if self.score_by == "return":
            return self.mean_return
        return self.win_rate + 0.5 * self.draw_rate


@dataclass(frozen=True)
class TrainEvent:
    """What a callback sees after an update."""

    step: int
    """Learner steps so far (one action of one env copy)."""
    updates: int
    """PPO updates so far."""
    elapsed: float
    """Wall seconds since training started."""
    metrics: Mapping[str, float]
    """The update's metrics (losses, entropy, KL, training episode stats, throughput)."""
    evaluation: Evaluation | None
    """The latest evaluation (possibly from an earlier update), or None before the first one."""
    net: ActorCritic | None = field(default=None, repr=False, compare=False)
    """The live learner network: read it, copy its ``state_dict()``, never modify it."""

    @property
    def evaluated_now(self) -> bool:
        """True when ``evaluation`` was made after this very update."""
        return self.evaluation is not None and self.evaluation.step == self.step


class Callback(Protocol):
    """Called after every update; ``False`` or a reason string stops training."""

    def __call__(self, event: TrainEvent) -> bool | str | None: ...


class EvalCallback:
    """Plays ``episodes`` episodes with the learner's network on its own vector env.

    Build ``env`` as a separate ``SelfPlayVecEnv`` whose opponent source gives the
    seating to evaluate against (the game's reference opponents, a fixed pool
    member, ...); it must not be the training env, whose episodes are mid-way.
    Every evaluation resets ``env`` with the same ``seed``, so successive
    evaluations see the same opponent randomness and differ only by the policy.

    Episodes are spread evenly over the env copies and each copy counts only its
    first episodes (see :func:`play_episodes`).
    """

    def __init__(self, env: VecEnv, *, episodes: int = 100, every: int = 10_000, greedy: bool = True,
                 seed: int = 12345, at_start: bool = False, at_end: bool = True,
                 score_by: Literal["outcome", "return"] = "outcome"):
        check_range("EvalCallback episodes", episodes, low=1, integer=True, accepted="a positive integer",
                    form=INVALID)
        check_range("EvalCallback every", every, low=1, accepted="a positive number of steps", form=INVALID)
        self.env = env
        self.episodes = int(episodes)
        self.every = int(every)
        """Learner steps between evaluations."""
        self.greedy = greedy
        """Play the most likely legal action (True) or sample from the policy (False)."""
        self.seed = int(seed)
        self.at_start = at_start
        """Also evaluate the starting weights (worth it when they come from an earlier run)."""
        self.at_end = at_end
        """Also evaluate the final weights when the last scheduled evaluation was earlier."""
        if score_by not in ("outcome", "return"):
            raise ConfigError(f"EvalCallback score_by = {score_by!r} is invalid; expected 'outcome' or 'return'")
        self.score_by = score_by
        """What an evaluation's ``score`` is (see ``Evaluation.score_by``)."""

    @classmethod
    def vs_reference(cls, game: Any, learner_seat: str, reference: str = "random", *, n_envs: int = 10,
                     **kwargs: Any) -> EvalCallback:
        """An evaluation against the game's reference opponent ``reference`` in every other seat."""
        from envs import ReferenceOpponents, SelfPlayVecEnv

        seed = int(kwargs.get("seed", 12345))
        env = SelfPlayVecEnv(game, learner_seat, ReferenceOpponents(game, reference), n_envs, seed=seed)
        return cls(env, **kwargs)

    @classmethod
    def vs_seating(cls, game: Any, learner_seat: str, seating: Mapping[str, Any], *, n_envs: int = 10,
                   loader: Callable[[Any], Any] | None = None, **kwargs: Any) -> EvalCallback:
        """An evaluation against a fixed seating ``{seat: policy or member id}`` (ids built by
        ``loader``, e.g. a pool-backed one, or the game's references when it is omitted)."""
        from envs import FixedOpponents, SelfPlayVecEnv

        load = loader if loader is not None else game.reference
        seed = int(kwargs.get("seed", 12345))
        env = SelfPlayVecEnv(game, learner_seat, FixedOpponents(seating, loader=load), n_envs, seed=seed)
        return cls(env, **kwargs)

    def evaluate(self, net: ActorCritic, step: int = 0) -> Evaluation:
        """Play the episodes with ``net`` and summarise them."""
        device = next(net.parameters()).device
        gen = torch.Generator().manual_seed(self.seed)
        greedy = self.greedy

        def act(obs: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
            logits = net.actor(torch.as_tensor(obs, dtype=torch.float32).to(device)).cpu()
            m = None if mask is None else torch.as_tensor(mask, dtype=torch.bool)
            if getattr(net, "action", None) is not None:  # multi-discrete or Box heads
                log_std = getattr(net, "log_std", None)
                dist = distribution(net.action, logits, m, None if log_std is None else log_std.detach().cpu())
                return dist.env_action(dist.mode() if greedy else dist.sample(gen)).numpy()
            if greedy:
                return masked_logits(logits, m).argmax(-1).numpy()
            return sample_actions(logits, m, gen)[0].numpy()

        was_training = net.training
        net.eval()
        try:
            with torch.inference_mode():
                return play_episodes(self.env, act, self.episodes, seed=self.seed, step=step,
                                     score_by=self.score_by)
        finally:
            net.train(was_training)


def play_episodes(env: VecEnv, act: Callable[[np.ndarray, np.ndarray | None], np.ndarray], episodes: int, *,
                  seed: int, step: int = 0, score_by: Literal["outcome", "return"] = "outcome") -> Evaluation:
    """Play ``episodes`` episodes on ``env`` with ``act(obs, mask) -> actions`` and summarise them.

    Any policy can be measured this way (the benchmark runs Stable-Baselines3 models through
    it too).  ``env`` is reset with ``seed`` first, so the same policy gets the same result.
    Episodes are spread evenly over the env copies and each copy counts only its first
    ones: stopping at the first ``episodes`` finishes would over-represent short episodes.
    """
    n = env.num_envs
    quota = np.full(n, episodes // n)
    quota[: episodes % n] += 1
    finished = np.zeros(n, dtype=np.int64)
    results: list[int] = []
    returns: list[float] = []
    obs, infos = env.reset(seed=seed)
    while (finished < quota).any():
        mask = infos.get("action_mask")
        actions = act(np.asarray(obs, dtype=np.float32), None if mask is None else np.asarray(mask, dtype=bool))
        obs, _, _, _, infos = env.step(np.asarray(actions))
        for i, outcome in infos.get("outcomes", ()):
            if finished[i] < quota[i]:
                finished[i] += 1
                results.append(learner_result(outcome))
                returns.append(float(outcome.returns[outcome.learner_seat]))
    res = np.asarray(results)
    return Evaluation(step=int(step), episodes=len(results), win_rate=float(np.mean(res > 0)),
                      draw_rate=float(np.mean(res == 0)), loss_rate=float(np.mean(res < 0)),
                      mean_return=float(np.mean(returns)), score_by=score_by)


class BestCheckpoint:
    """Keeps a CPU copy of the weights with the best evaluation score seen so far.

    Ties go to the later checkpoint: with equal scores the more-trained network is
    preferred.  ``key`` maps an evaluation to the number to maximise.
    """

    def __init__(self, key: Callable[[Evaluation], float] = lambda e: e.score):
        self.key = key
        self.weights: dict[str, torch.Tensor] | None = None
        self.evaluation: Evaluation | None = None

    def consider(self, net: ActorCritic, evaluation: Evaluation) -> bool:
        """Keep ``net``'s weights if ``evaluation`` is at least as good as the best; True if kept."""
        if self.evaluation is not None and self.key(evaluation) < self.key(self.evaluation):
            return False
        self.weights = {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}
        self.evaluation = evaluation
        return True

    def __call__(self, event: TrainEvent) -> None:
        if event.evaluated_now and event.net is not None:
            self.consider(event.net, event.evaluation)  # type: ignore[arg-type]


def event_row(event: TrainEvent) -> dict[str, float]:
    """An event as one flat row: step, updates, elapsed, the metrics, and ``eval_*`` fields."""
    row: dict[str, float] = {"step": event.step, "updates": event.updates, "elapsed": event.elapsed}
    row.update(event.metrics)
    if event.evaluation is not None:
        ev = asdict(event.evaluation)
        row.update({f"eval_{k}": v for k, v in ev.items()})
        row["eval_score"] = event.evaluation.score
    return row


class CSVLogger:
    """Appends one row per update to a CSV file (metrics and the latest evaluation).

    The columns are fixed by the first row plus the evaluation columns, so a row
    written before the first evaluation leaves those cells empty; metrics that
    appear later (e.g. episode stats once an episode ends) get empty cells until then.
    ``columns`` are constant cells put first in every row (e.g. the league's turn and role), and
    ``derived(event)`` cells computed per update after them (e.g. the run's global step).
    With ``append`` an existing non-empty file keeps its header and gets the new rows
    (a league's turns, and a resumed run, share one file); otherwise the file is rewritten.
    """

    _EVAL_COLUMNS = ["eval_step", "eval_episodes", "eval_win_rate", "eval_draw_rate", "eval_loss_rate",
                     "eval_mean_return", "eval_score"]
    _LATE_METRICS = ["episode_return", "episode_length", "train_win_rate", "train_draw_rate", "train_loss_rate"]

    def __init__(self, path: str | Path, *, columns: Mapping[str, Any] | None = None, append: bool = False,
                 derived: Callable[[TrainEvent], Mapping[str, Any]] | None = None):
        self.path = Path(path)
        self.columns = dict(columns or {})
        self.derived = derived
        self.append = append
        self._file: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None

    def __call__(self, event: TrainEvent) -> None:
        row = {**self.columns, **(self.derived(event) if self.derived is not None else {}), **event_row(event)}
        if self._file is None or self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            header = self._header() if self.append else []
            columns = header or list(dict.fromkeys([*row, *self._LATE_METRICS, *self._EVAL_COLUMNS]))
            self._file = self.path.open("a" if header else "w", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=columns, extrasaction="ignore")
            if not header:
                self._writer.writeheader()
        self._writer.writerow(row)
        self._file.flush()  # a crashed or killed run keeps its log up to the last update

    def _header(self) -> list[str]:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return []
        with self.path.open(newline="") as fh:
            return next(csv.reader(fh), [])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file, self._writer = None, None


class TensorBoardLogger:
    """Writes every metric and evaluation field as a TensorBoard scalar at the learner step.

    ``prefix`` goes before every tag (e.g. a league's role, ``"player_1/"``); the step is
    ``step_offset`` plus the event's (a league's global step); ``purge_step`` hides events an
    earlier, interrupted writer logged at or after that step (``SummaryWriter``'s own option).
    """

    def __init__(self, log_dir: str | Path, *, prefix: str = "", step_offset: int = 0,
                 purge_step: int | None = None):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # tensorboard is an optional extra
            raise ImportError("TensorBoardLogger needs the 'tensorboard' package: "
                              "pip install -e '.[tensorboard]'") from exc
        self.writer = SummaryWriter(str(log_dir), purge_step=purge_step)
        self.prefix, self.step_offset = prefix, int(step_offset)

    def __call__(self, event: TrainEvent) -> None:
        for key, value in event_row(event).items():
            if key != "step" and isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(self.prefix + key, value, self.step_offset + event.step)

    def close(self) -> None:
        self.writer.close()


def metric_loggers(log_dir: str | Path) -> list[Any]:
    """A CSV logger at ``log_dir/metrics.csv``, plus TensorBoard when it is installed."""
    log_dir = Path(log_dir)
    loggers: list[Any] = [CSVLogger(log_dir / "metrics.csv")]
    try:
        loggers.append(TensorBoardLogger(log_dir))
    except ImportError:
        pass
    return loggers
