"""The run config: one typed dataclass per component, nested in ``RunConfig``.

Loaded from a TOML file plus ``key=value`` overrides (``league.config.toml``);
every field has a one-line docstring that ``python -m league.run --help-config``
prints.  The defaults are the original scenario: a 4-seat game, one role per
seat, bootstrap, two rotations, evaluation and pruning, in under 10 minutes on
two cores.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from league.config.toml import field_docs, from_dict, load_toml, merge, parse_overrides, to_dict
from league.errors import ConfigError
from league.evaluation.evaluator import EvaluationConfig
from league.training.hparams import HParamRanges
from league.training.ppo import PPOConfig
from league.population.pruning import PruningConfig
from league.population.sampling import SamplingConfig

__all__ = ["GameConfig", "PhaseConfig", "RatingConfig", "ReportConfig", "BackendConfig", "RunConfig",
           "load_config", "describe_config"]


def _bad(section: str, name: str, value: Any, accepted: str) -> ConfigError:
    return ConfigError(f"config key '{section}.{name}' = {value!r}: expected {accepted}")


@dataclass
class GameConfig:
    """Which game the league plays."""

    name: str = "texas_holdem"
    """A registered game (see `envs.games()`): tictactoe, connect_four, rps, texas_holdem, kuhn_poker, simple_tag."""
    kwargs: dict = field(default_factory=dict)
    """Keyword arguments for `envs.make`, e.g. {num_players = 4} (texas_holdem defaults to 4 players)."""


@dataclass
class PhaseConfig:
    """How one role trains in one turn (bootstrap, or a league rotation)."""

    max_steps: int = 20_000
    """Learner steps per turn at most."""
    max_seconds: float | None = None
    """Wall seconds per turn at most (None: no limit)."""
    target_win_rate: float | None = None
    """Stop the turn once the evaluation win rate reaches this (None: no target)."""
    patience: int | None = 4
    """Stop after this many evaluations without improvement (None: never)."""
    eval_every: int = 5_000
    """Learner steps between evaluations inside a turn."""
    eval_episodes: int = 200
    """Episodes per evaluation inside a turn."""

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise _bad("phase", "max_steps", self.max_steps, "a positive integer")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise _bad("phase", "max_seconds", self.max_seconds, "None or a positive number")
        if self.target_win_rate is not None and not 0 <= self.target_win_rate <= 1:
            raise _bad("phase", "target_win_rate", self.target_win_rate, "None or a number in [0, 1]")
        if self.patience is not None and self.patience < 1:
            raise _bad("phase", "patience", self.patience, "None or a positive integer")
        if self.eval_every < 1 or self.eval_episodes < 1:
            raise _bad("phase", "eval_every/eval_episodes", (self.eval_every, self.eval_episodes),
                       "positive integers")


@dataclass
class RatingConfig:
    """TrueSkill settings for every rating in the run."""

    mu: float = 25.0
    """Prior mean of a new member."""
    sigma: float = 25.0 / 3.0
    """Prior standard deviation of a new member."""
    beta: float | None = None
    """Performance noise (None: sigma / 2)."""
    tau: float = 0.0
    """Dynamics noise added before each update; 0 because members are frozen checkpoints."""
    draw_probability: float = 0.1
    """Prior probability of a draw."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mu) and self.sigma > 0):
            raise _bad("ratings", "sigma", self.sigma, "a positive number (and a finite mu)")
        if self.beta is not None and not self.beta > 0:
            raise _bad("ratings", "beta", self.beta, "None or a positive number")
        if self.tau < 0:
            raise _bad("ratings", "tau", self.tau, "a non-negative number")
        if not 0 <= self.draw_probability < 1:
            raise _bad("ratings", "draw_probability", self.draw_probability, "a number in [0, 1)")


@dataclass
class ReportConfig:
    """What the run measures at the end and writes next to the pool."""

    anchor_episodes: int = 1000
    """Episodes per member against uniform-random anchors in every other seat (the 'win vs random' column)."""
    progress: bool | None = None
    """Show progress bars (None: only when stderr is a terminal)."""

    def __post_init__(self) -> None:
        if self.anchor_episodes < 0:
            raise _bad("report", "anchor_episodes", self.anchor_episodes, "a non-negative integer")


@dataclass
class BackendConfig:
    """Where the league runs: in this process, or in a Ray actor with matches on Ray workers.

    ``python -m league.run --backend/--address/--workers/--rollout-shards`` set these keys, so
    they are saved in the run's config.toml and ``--resume`` needs no repeated flags.  The other
    keys only matter when ``kind = "ray"``.
    """

    kind: Literal["local", "ray"] = "local"
    """local: everything in this process; ray: the league in a Ray actor, matches on Ray workers (README: "Running on Ray")."""
    address: str | None = None
    """kind = "ray": the Ray cluster to join, e.g. "auto" (None: start a local instance with this machine's cores)."""
    workers: int | None = None
    """kind = "ray": worker actors (None: the cluster's CPUs)."""
    rollout_shards: int = 0
    """kind = "ray": step the learner's env copies on this many workers (0: in the league actor)."""

    def __post_init__(self) -> None:
        if self.kind not in ("local", "ray"):
            raise _bad("backend", "kind", self.kind, "'local' or 'ray'")
        if self.workers is not None and self.workers < 1:
            raise _bad("backend", "workers", self.workers, "None or a positive integer")
        if self.rollout_shards < 0:
            raise _bad("backend", "rollout_shards", self.rollout_shards, "a non-negative integer")


def _default_ppo() -> PPOConfig:
    return PPOConfig(n_envs=16, n_steps=64, minibatches=4)


def _default_hparams() -> HParamRanges:
    return HParamRanges(width=(64, 128), depth=(1, 2), n_steps=(64,), epochs=(3, 6), lr=(5e-4, 3e-3))


@dataclass
class RunConfig:
    """Everything one league run needs; `python -m league.run` resolves it and saves it as config.toml."""

    seed: int = 0
    """Run seed: hyperparameters, opponents, evaluation seatings and training all derive from it."""
    rotations: int = 2
    """League rotations after the bootstrap (a rotation trains every role once)."""
    max_seconds: float | None = None
    """Wall-time budget of the whole run (None: none); a turn in progress ends early to respect it."""
    max_steps: int | None = None
    """Learner-step budget of the whole run (None: none)."""
    cache_size: int = 32
    """Opponent networks kept per env (LRU); below the active members a game seats, envs rebuild networks constantly."""
    game: GameConfig = field(default_factory=GameConfig)
    """The game."""
    bootstrap: PhaseConfig = field(default_factory=lambda: PhaseConfig(max_steps=8_192, eval_every=2_048))
    """Training of each role against the uniform-random anchors, before the league starts."""
    training: PhaseConfig = field(default_factory=lambda: PhaseConfig(max_steps=32_768, eval_every=8_192))
    """Training of a role in a league rotation, against opponents sampled from the pool."""
    ppo: PPOConfig = field(default_factory=_default_ppo)
    """PPO settings; the sampled hyperparameters replace their fields per role."""
    hparams: HParamRanges = field(default_factory=_default_hparams)
    """Ranges the per-role hyperparameters are sampled from."""
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    """Opponent sampling scheme."""
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    """Sampled evaluation after each turn."""
    pruning: PruningConfig = field(default_factory=PruningConfig)
    """Pruning after each evaluation."""
    ratings: RatingConfig = field(default_factory=RatingConfig)
    """TrueSkill settings."""
    report: ReportConfig = field(default_factory=ReportConfig)
    """End-of-run measurements and outputs."""
    backend: BackendConfig = field(default_factory=BackendConfig)
    """Where the league runs (this process or Ray)."""

    def __post_init__(self) -> None:
        if self.rotations < 0:
            raise _bad("run", "rotations", self.rotations, "a non-negative integer")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise _bad("run", "max_seconds", self.max_seconds, "None or a positive number")
        if self.max_steps is not None and self.max_steps < 1:
            raise _bad("run", "max_steps", self.max_steps, "None or a positive integer")
        if self.cache_size < 1:
            raise _bad("run", "cache_size", self.cache_size, "a positive integer")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (),
                base: dict[str, Any] | None = None) -> RunConfig:
    """``RunConfig`` from an optional TOML file (or ``base`` dict) plus ``key=value`` overrides."""
    data: dict[str, Any] = dict(base or {})
    if path is not None:
        data = merge(data, load_toml(path))
    data = merge(data, parse_overrides(list(overrides)))
    return from_dict(RunConfig, data)


def describe_config(config: Any = None, prefix: str = "") -> list[str]:
    """One line per config key with its default and docstring (the ``--help-config`` text)."""
    config = RunConfig() if config is None else config
    lines: list[str] = []
    docs = field_docs(type(config))
    for f in dataclasses.fields(config):
        if not f.init:
            continue
        value = getattr(config, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            lines.append(f"[{key}]  {docs.get(f.name, '')}")
            lines.extend(describe_config(value, key + "."))
        else:
            lines.append(f"  {key} = {to_dict(value)!r}  {docs.get(f.name, '')}")
    return lines
