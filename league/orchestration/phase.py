"""From the run config to the parts of one training turn: PPO settings, stop rules, opponents, loggers.

``setup_turn`` is the translation the league loop needs before it trains a role: the role's
sampled hyperparameters applied to ``config.ppo``, the phase's stop rules clipped to what is
left of the run's budget, who sits in the other seats (the random anchors in the bootstrap, a
sampled league after), and the evaluation the stop rules and the best checkpoint read.  It reads the pool but never writes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import envs
from envs import Game
from league.training.callbacks import EvalCallback
from league.config import PhaseConfig, RunConfig
from ratings import PayoffTable
from league.training.hparams import config_from_hparams, sample_hparams
from league.population.opponents import PoolOpponents
from league.orchestration.plan import Turn, derive_seed
from league.pool import Member, Pool
from league.specs import is_reference
from league.training.ppo import PPOConfig
from league.population.online import OnlineWinRates
from league.population.sampling import OpponentSampler
from league.training.trainer import StopRules, TrainResult, train
from ratings import TrueSkillSystem

__all__ = ["TurnSetup", "setup_turn", "start_member", "best_member", "phase_config", "role_hparams", "stop_rules",
           "opponent_source", "exploit_source", "exploiter_skip", "is_exploiter", "judge_source"]


def phase_config(config: RunConfig, turn: Turn) -> PhaseConfig:
    """The phase settings a turn trains under: ``bootstrap`` or ``training`` (an exploiter turn:
    ``training`` with the exploiters' step budget, patience off: it trains its whole budget)."""
    if turn.phase == "exploit":
        return dataclasses.replace(config.training, max_steps=config.exploiters.max_steps, patience=None,
                                   target_win_rate=None)
    return config.bootstrap if turn.phase == "bootstrap" else config.training


def role_hparams(config: RunConfig, roles: list[str], role: str) -> dict[str, Any]:
    """The role's hyperparameters, sampled once per run from ``config.hparams`` (the same every turn)."""
    return sample_hparams(config.hparams, derive_seed(config.seed, 1, roles.index(role)))


def stop_rules(phase: PhaseConfig, left_steps: int | None, left_seconds: float | None) -> StopRules:
    """The phase's stop rules, with its step and time limits clipped to what the run has left."""
    max_steps = phase.max_steps if left_steps is None else max(1, min(phase.max_steps, left_steps))
    max_secs = phase.max_seconds
    if left_seconds is not None:
        max_secs = max(1.0, left_seconds if max_secs is None else min(max_secs, left_seconds))
    return StopRules(win_rate=phase.target_win_rate, patience=phase.patience, max_steps=max_steps,
                     max_seconds=max_secs)


def opponent_source(config: RunConfig, game: Game, pool: Pool, ratings: TrueSkillSystem, turn: Turn,
                    learner: Member | None) -> PoolOpponents:
    """Who sits in the other seats: the uniform-random anchors in the bootstrap (reference anchors
    such as minimax join from the first rotation on), a sampled league after."""
    roles = {s: game.roles[s] for s in game.seats}
    if turn.phase == "bootstrap":
        anchors = {role: [m for m in pool.active(role) if m.anchor and not is_reference(m.spec)]
                   for role in dict.fromkeys(roles.values())}
        return PoolOpponents(pool, roles, _uniform, candidates=anchors)
    population = pool.state.get("population")
    if turn.phase == "exploit":
        return exploit_source(config, game, pool, population)
    if config.learner.opponents == "population" and population:
        # PSRO: the other roles' population policy, as solved after the last turn.
        return PoolOpponents(pool, roles, _population_weights(population))
    payoff = PayoffTable.from_matches(pool.matches())
    sampler = OpponentSampler(config.sampling, model=ratings, payoff=payoff)
    me = learner if learner is not None else dataclasses.replace(
        pool.active(turn.role)[0], mu=config.ratings.mu, sigma=config.ratings.sigma)
    if config.sampling.online:
        # PFSP on the learner's current results: the weights move as the learner does.
        return PoolOpponents(pool, roles, OnlineWinRates(sampler, me, learner_id=me.id),
                             refresh=config.sampling.online_refresh)
    return PoolOpponents(pool, roles, lambda ms: sampler.probabilities(me, ms, learner_id=me.id))


def exploiter_skip(config: RunConfig, turn: Turn, left_steps: int | None) -> str | None:
    """Why an exploiter turn is skipped (the run's steps cannot pay for its whole budget), or None.

    A fresh learner cut to a fraction of its budget is near random: it would only take games and
    population weight from the members that are not."""
    need = config.exploiters.max_steps
    if turn.phase != "exploit" or left_steps is None or left_steps >= need:
        return None
    return f"{left_steps} learner steps left of the {need} an exploiter trains"


def is_exploiter(member: Member) -> bool:
    """True for a member an exploiter turn added."""
    return member.hparams.get("phase") == "exploit"


def _uniform(members: list[Member]) -> np.ndarray:
    """Every candidate equally often."""
    return np.full(len(members), 1.0 / len(members))


def _population_weights(population: dict[str, dict[str, float]]) -> Callable[[list[Member]], np.ndarray]:
    """Weights from the stored population policy (uniform where it gives the candidates none)."""
    def weigh(ms: list[Member]) -> np.ndarray:
        w = np.array([max(population.get(m.role, {}).get(str(m.id), 0.0), 0.0) for m in ms])
        return w / w.sum() if w.sum() > 0 else _uniform(ms)

    return weigh


def exploit_source(config: RunConfig, game: Game, pool: Pool,
                   population: dict[str, dict[str, float]] | None) -> PoolOpponents:
    """An exploiter's opponents: each other role's newest trained main-learner member
    (``exploiters.opponents = "latest"``) or the other roles' population policy."""
    roles = {s: game.roles[s] for s in game.seats}
    if config.exploiters.opponents == "population" and population:
        return PoolOpponents(pool, roles, _population_weights(population))
    newest: dict[str, list[Member]] = {}
    for role in dict.fromkeys(roles.values()):
        mains = [m for m in pool.active(role) if not m.anchor and not is_exploiter(m)]
        newest[role] = [max(mains, key=lambda m: m.version)] if mains else [m for m in pool.active(role) if m.anchor]
    return PoolOpponents(pool, roles, _uniform, candidates=newest)


def judge_source(config: RunConfig, game: Game, pool: Pool, turn: Turn, training: PoolOpponents) -> PoolOpponents:
    """What a turn's checkpoints are judged against (``learner.judge``).

    ``population``: every active member of the other roles, anchors included, uniformly: a
    broad set fixed for the turn, so a checkpoint cannot look better by beating only the few
    members the training sample favours.  ``opponents``: the training sample itself.  The
    bootstrap has only the anchors either way; an exploiter is judged by its own targets.
    """
    if config.learner.judge == "opponents" or turn.phase in ("bootstrap", "exploit"):
        return training
    roles = {s: game.roles[s] for s in game.seats}
    others = {role: pool.active(role) for role in dict.fromkeys(roles.values())}
    return PoolOpponents(pool, roles, _uniform, candidates=others)


@dataclass
class TurnSetup:
    """Everything one turn trains with; ``train()`` runs it and closes the logger."""

    turn: Turn
    hparams: dict[str, Any]
    """The role's sampled hyperparameters (recorded with the member)."""
    ppo: PPOConfig
    stop: StopRules
    start: Member | None
    """The member a rotation turn starts from (its role's best), None in the bootstrap."""
    init_weights: dict[str, Any] | None
    env: Any
    evaluation: EvalCallback
    callbacks: list[Any] = field(default_factory=list)
    progress: bool | None = None
    on_outcome: Callable[[Any], None] | None = None
    """Told every finished training episode (the opponent source, when its weights adapt)."""

    def train(self) -> TrainResult:
        try:
            return train(self.env, self.ppo, stop=self.stop, init_weights=self.init_weights,
                         evaluation=self.evaluation, callbacks=self.callbacks, progress=self.progress,
                         on_outcome=self.on_outcome)
        finally:
            for callback in self.callbacks:
                close = getattr(callback, "close", None)
                if close is not None:
                    close()


def best_member(pool: Pool, role: str) -> Member | None:
    """The role's active non-anchor member with the highest conservative rating."""
    trained = [m for m in pool.active(role) if not m.anchor]
    return max(trained, key=lambda m: (m.conservative, m.version)) if trained else None


def start_member(pool: Pool, role: str, start: str) -> Member | None:
    """The member a rotation turn of ``role`` trains from, by ``learner.start``: ``latest``
    (the newest snapshot with weights), ``best`` (``best_member``) or ``fresh`` (None)."""
    if start == "fresh":
        return None
    if start == "best":
        return best_member(pool, role)
    # The newest snapshot, even if pruning retired it: the learner continues regardless of
    # what the league thinks of its last snapshot; one whose weights were deleted cannot.
    # Whether it has a file is read from its row (a digest, or an unverified schema-1 file),
    # not by loading and hashing the weights that setup_turn loads anyway.
    unverified = set(pool.unverified())
    # An exploiter's snapshot is not the main learner's.
    mains = (m for m in pool.members(role) if not m.anchor and not is_exploiter(m))
    for member in sorted(mains, key=lambda m: m.version, reverse=True):
        if pool.digest(member.id) is not None or member.id in unverified:
            return member
    return None


def setup_turn(config: RunConfig, game: Game, pool: Pool, ratings: TrueSkillSystem, turn: Turn, *,
               start: Member | None, left_steps: int | None, left_seconds: float | None,
               env_factory: Callable[..., Any], loggers: Sequence[Any] = ()) -> TurnSetup:
    """The parts of ``turn``: ``start`` is the member it trains from (None: fresh weights);
    ``loggers`` are callbacks that log its updates (``league.orchestration.metrics``), closed
    when training ends."""
    roles = list(dict.fromkeys(game.roles[s] for s in game.seats))
    phase = phase_config(config, turn)
    seat = next(s for s in game.seats if game.roles[s] == turn.role)
    hparams = role_hparams(config, roles, turn.role)
    seed = derive_seed(config.seed, 2, turn.index)
    ppo = config_from_hparams(hparams, dataclasses.replace(config.ppo, seed=seed))
    init = dict(pool.weights(start.id)) if start is not None else None
    source = opponent_source(config, game, pool, ratings, turn, start)
    env = env_factory(game, seat, source, ppo.n_envs, seed=seed, cache_size=config.cache_size)
    # A fixed seed, so successive evaluations differ only by the policy.
    eval_env = envs.SelfPlayVecEnv(game, seat, judge_source(config, game, pool, turn, source),
                                   min(ppo.n_envs, 16), seed=seed + 1, cache_size=config.cache_size)
    evaluation = EvalCallback(eval_env, episodes=phase.eval_episodes, every=phase.eval_every, greedy=False,
                              seed=seed + 2, at_start=start is not None, score_by=config.learner.score)
    return TurnSetup(turn=turn, hparams=hparams, ppo=ppo, stop=stop_rules(phase, left_steps, left_seconds),
                     start=start, init_weights=init, env=env, evaluation=evaluation, callbacks=list(loggers),
                     progress=config.report.progress, on_outcome=source.observe if source.adaptive else None)
