"""The run config: one typed dataclass per component, nested in ``RunConfig``.

Loaded from a TOML file plus ``key=value`` overrides (``league.config.toml``);
every field has a one-line docstring that ``python -m league.run --help-config``
prints.  The defaults are the original scenario: a 4-seat game, one role per
seat, bootstrap, two rotations, evaluation and pruning, in under 10 minutes on
two cores.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from league.checks import bad_value, check_range
from league.errors import ConfigError
from league.config.toml import field_docs, from_dict, load_toml, merge, parse_overrides, to_dict
from league.evaluation.evaluator import EvaluationConfig
from league.population.metagame import PopulationConfig
from league.training.hparams import HParamRanges
from league.training.ppo import PPOConfig
from league.population.pruning import PruningConfig
from league.population.sampling import SamplingConfig

__all__ = ["GameConfig", "PhaseConfig", "LearnerConfig", "ExploiterConfig", "RatingConfig", "ReportConfig", "LoggingConfig",
           "BackendConfig", "RunConfig", "load_config", "describe_config"]


@dataclass
class GameConfig:
    """Which game the league plays."""

    name: str = "texas_holdem"
    """A registered game (see `envs.games()`): tictactoe, connect_four, rps, texas_holdem, kuhn_poker, simple_tag."""
    kwargs: dict = field(default_factory=dict)
    """Keyword arguments for `envs.make`, e.g. {num_players = 4} (texas_holdem defaults to 4 players)."""
    references: list = field(default_factory=list)
    """The game's reference opponents seated as anchors of every role beside uniform random, e.g.
    ["minimax"] (tictactoe, connect_four): trained against, rated against, never pruned, never in
    the population policy."""

    def __post_init__(self) -> None:
        refs = self.references
        if not isinstance(refs, list) or not all(isinstance(r, str) and r for r in refs) \
                or len(set(refs)) != len(refs) or "random" in refs:
            raise ConfigError(f"config key 'game.references' = {refs!r}: expected a list of distinct reference "
                              "names other than 'random' (every run has the random anchor), e.g. [\"minimax\"]")


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
        check_range("config key 'phase.max_steps'", self.max_steps, low=1, integer=True,
                    accepted="a positive integer")
        check_range("config key 'phase.max_seconds'", self.max_seconds, low=0, low_open=True, finite=False,
                    optional=True, accepted="None or a positive number")
        check_range("config key 'phase.target_win_rate'", self.target_win_rate, low=0, high=1, optional=True,
                    accepted="None or a number in [0, 1]")
        check_range("config key 'phase.patience'", self.patience, low=1, integer=True, optional=True,
                    accepted="None or a positive integer")
        for name in ("eval_every", "eval_episodes"):
            check_range(f"config key 'phase.{name}'", getattr(self, name), low=1, integer=True,
                        accepted="a positive integer")


@dataclass
class LearnerConfig:
    """How each role's learner carries over between its turns, and what judges its checkpoints."""

    start: Literal["latest", "best", "fresh"] = "latest"
    """Where a rotation turn's training starts: the role's newest snapshot (one continuing
    learner per role), its best-rated active member, or fresh weights (PSRO's best responses)."""
    snapshot: Literal["last", "best"] = "last"
    """Which weights of a turn join the pool: the last ones (frozen snapshots of the continuing
    learner) or the checkpoint the turn's evaluation scored best."""
    opponents: Literal["sampling", "population"] = "sampling"
    """Who a rotation turn trains against: opponents drawn by ``[sampling]``'s scheme, or from the
    other roles' population policy (``[population]``'s meta-solver: PSRO)."""
    judge: Literal["population", "opponents"] = "population"
    """What a turn's evaluations play against: a fixed, broad set (every active member of the
    other roles, anchors included, uniformly) or the very opponents the turn trains against."""
    score: Literal["return", "outcome"] = "return"
    """What an evaluation scores: the mean return (chips, in poker) or win + draw / 2."""


@dataclass
class ExploiterConfig:
    """Exploiter turns (AlphaStar's main exploiters): a fresh learner of a role trained only
    against the other roles' current players, whose snapshot joins the pool so that the main
    learners then train against what beats them."""

    every: int = 0
    """After every ``every``-th rotation, one exploiter turn per role in ``roles`` (0: none)."""
    roles: list = field(default_factory=list)
    """Roles that get exploiter turns (empty: every role)."""
    max_steps: int = 100_000
    """Learner steps of one exploiter turn (a turn the run's ``max_steps`` cannot pay for in full is skipped)."""
    opponents: Literal["latest", "population"] = "latest"
    """Whom an exploiter trains against: each other role's newest trained member, or the other
    roles' population policy."""

    def __post_init__(self) -> None:
        check_range("config key 'exploiters.every'", self.every, low=0, integer=True,
                    accepted="a non-negative integer")
        check_range("config key 'exploiters.max_steps'", self.max_steps, low=1, integer=True,
                    accepted="a positive integer")
        if not isinstance(self.roles, list) or not all(isinstance(r, str) for r in self.roles):
            raise ConfigError(f"config key 'exploiters.roles' = {self.roles!r}: expected a list of role names")


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
        check_range("config key 'ratings.mu'", self.mu, accepted="a finite number")
        check_range("config key 'ratings.sigma'", self.sigma, low=0, low_open=True, finite=False,
                    accepted="a positive number")
        check_range("config key 'ratings.beta'", self.beta, low=0, low_open=True, finite=False, optional=True,
                    accepted="None or a positive number")
        check_range("config key 'ratings.tau'", self.tau, low=0, finite=False, accepted="a non-negative number")
        check_range("config key 'ratings.draw_probability'", self.draw_probability, low=0, high=1, high_open=True,
                    accepted="a number in [0, 1)")


@dataclass
class ReportConfig:
    """What the run measures at the end and writes next to the pool."""

    anchor_episodes: int = 1000
    """Episodes per member against uniform-random anchors in every other seat (the 'win vs random' column)."""
    progress: bool | None = None
    """Show progress bars (None: only when stderr is a terminal)."""

    def __post_init__(self) -> None:
        check_range("config key 'report.anchor_episodes'", self.anchor_episodes, low=0, integer=True,
                    accepted="a non-negative integer")


@dataclass
class LoggingConfig:
    """What a run logs while it trains, besides its pool (``league.orchestration.metrics``)."""

    csv: bool = True
    """Write metrics.csv: a row per PPO update with turn, role, member ids, global learner step, run time."""
    tensorboard: bool = False
    """Also write TensorBoard scalars to <out>/tensorboard, per role over global steps (the tensorboard extra)."""

    def __post_init__(self) -> None:
        for key in ("csv", "tensorboard"):
            if not isinstance(getattr(self, key), bool):
                raise bad_value(f"config key 'logging.{key}'", getattr(self, key), "true or false")


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
            raise bad_value("config key 'backend.kind'", self.kind, "'local' or 'ray'")
        check_range("config key 'backend.workers'", self.workers, low=1, integer=True, optional=True,
                    accepted="None or a positive integer")
        check_range("config key 'backend.rollout_shards'", self.rollout_shards, low=0, integer=True,
                    accepted="a non-negative integer")


def _default_ppo() -> PPOConfig:
    # No per-turn anneal: a learner that continues from turn to turn must keep learning.
    return PPOConfig(n_envs=16, n_steps=64, minibatches=4, anneal_lr=False)


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
    population: PopulationConfig = field(default_factory=PopulationConfig)
    """The population policy: each role's mixture of members, solved after every turn."""
    exploiters: ExploiterConfig = field(default_factory=ExploiterConfig)
    """Exploiter turns: fresh learners trained against the current players (off by default)."""
    learner: LearnerConfig = field(default_factory=LearnerConfig)
    """How a role's learner continues from turn to turn and how its checkpoints are judged."""
    ratings: RatingConfig = field(default_factory=RatingConfig)
    """TrueSkill settings."""
    report: ReportConfig = field(default_factory=ReportConfig)
    """End-of-run measurements and outputs."""
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    """Training logs: metrics.csv and TensorBoard."""
    backend: BackendConfig = field(default_factory=BackendConfig)
    """Where the league runs (this process or Ray)."""

    def __post_init__(self) -> None:
        check_range("config key 'run.rotations'", self.rotations, low=0, integer=True,
                    accepted="a non-negative integer")
        check_range("config key 'run.max_seconds'", self.max_seconds, low=0, low_open=True, finite=False,
                    optional=True, accepted="None or a positive number")
        check_range("config key 'run.max_steps'", self.max_steps, low=1, integer=True, optional=True,
                    accepted="None or a positive integer")
        check_range("config key 'run.cache_size'", self.cache_size, low=1, integer=True,
                    accepted="a positive integer")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (),
                base: dict[str, Any] | None = None) -> RunConfig:
    """``RunConfig`` from an optional TOML file (or ``base`` dict) plus ``key=value`` overrides."""
    data: dict[str, Any] = dict(base or {})
    if path is not None:
        data = merge(data, load_toml(path))
    from_file = data
    data = merge(data, parse_overrides(list(overrides)))
    try:
        return from_dict(RunConfig, data)
    except ConfigError as exc:
        if path is None:
            raise
        try:   # a mistake of the file itself (not of an override): say which file
            from_dict(RunConfig, from_file)
        except ConfigError:
            raise ConfigError(f"config file {str(path)!r}: {exc}") from None
        raise


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
