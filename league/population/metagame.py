"""The league's output: each role's *population policy*, a mixture of its members read off the
empirical game by a meta-solver (``league.population.metasolvers``).

After every turn the league plays the seatings of the current population it has not measured yet
(``episodes`` episodes each, the same deal seeds for every seating, so two members are compared
on the same cards), keeps the summed returns per seating in the run state, and solves the table
of the active members.  The weights serve two ways: as the league's answer (stored in the run
state, shown in the leaderboard, playable as one policy) and, with ``learner.opponents =
"population"``, as the distribution PSRO draws a learner's opponents from.

A table over k roles with n members each has n**k seatings; ``max_seatings`` caps how many new
ones one update plays (the newest members first), and the rest are filled by the main-effects
estimate of ``empirical_game.fill_missing``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs import Game, Match, MatchEngine
from envs.opponents import MemberId, Policy
from league.errors import ConfigError
from league.population.empirical_game import payoff_table
from league.population.metasolvers import METASOLVERS, MetaSolverConfig, metasolver_names, solve

__all__ = ["PopulationConfig", "Tally", "measure_seatings", "merge_tallies", "population_policy",
           "seatings_to_measure", "support_seatings", "update_population"]

Tally = dict[str, list[float]]
"""Key ``"id,id,.."`` (one member id per role, in role order) -> ``[episodes, return of role 0, ..]``."""


@dataclass
class PopulationConfig:
    """How the population policy is computed after each turn."""

    solver: str = "nash"
    """Meta-solver over the active members' payoff table: uniform, nash, prd or alpharank."""
    episodes: int = 200
    """Episodes played per seating of the table (the same deal seeds for every seating)."""
    max_seatings: int = 16
    """New seatings measured per update at most (the newest members' first); 0: measure none
    (the table is then only what earlier updates measured)."""
    support_episodes: int = 0
    """Seatings of members the solution uses (weight >= ``support_weight`` in every role) are
    topped up to this many episodes and the table solved again: the payoffs that decide the
    mixture get the most games (0: no top-up)."""
    support_weight: float = 0.05
    """Weight from which a member counts as used by the solution, for ``support_episodes``."""

    def __post_init__(self) -> None:
        if self.solver not in METASOLVERS:
            raise ConfigError(f"config key 'population.solver' = {self.solver!r}: expected one of "
                              f"{metasolver_names()}")
        if not 0.0 < self.support_weight <= 1.0:
            raise ConfigError(f"config key 'population.support_weight' = {self.support_weight!r}: "
                              "expected a number in (0, 1]")
        for key, low in (("episodes", 1), ("max_seatings", 0), ("support_episodes", 0)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"config key 'population.{key}' = {value!r}: expected an integer >= {low}")


def _key(ids: Sequence[int]) -> str:
    return ",".join(str(int(i)) for i in ids)


def seatings_to_measure(members: Mapping[str, Sequence[Any]], tally: Mapping[str, Any],
                        limit: int) -> list[tuple[int, ...]]:
    """Seatings (one member id per role, in ``members``' role order) not in ``tally`` yet, those
    with the newest members first, at most ``limit``."""
    pools = [sorted((m.id for m in ms), reverse=True) for ms in members.values()]
    todo = [ids for ids in itertools.product(*pools) if _key(ids) not in tally]
    todo.sort(key=lambda ids: sorted(ids, reverse=True), reverse=True)
    return todo[:limit]


def measure_seatings(game: Game, roles: Sequence[str], seatings: Sequence[Sequence[int]],
                     load: Callable[[MemberId], Policy], *, episodes: int, seed: int,
                     n_envs: int = 512) -> Tally:
    """Play ``episodes`` episodes of each seating and sum every role's return.

    Every seating plays the same deals (episode seeds drawn from ``seed``), and all seatings'
    episodes run side by side in one ``envs.MatchEngine`` (at most ``n_envs`` at once), one
    batched forward pass per member per step.
    """
    seats_of = {role: [s for s in game.seats if game.roles[s] == role] for role in roles}
    if sum(map(len, seats_of.values())) != len(game.seats) or any(
            len(ss) > 1 and r not in game.team_roles for r, ss in seats_of.items()):
        raise ConfigError(f"game {game.name!r} seats one role in several seats that are not a team; "
                          "the population table needs one seat per role")
    deals = [int(x) for x in np.random.default_rng(seed).integers(2 ** 31 - 1, size=episodes)]
    # A team role's member plays all its seats; the role's return is its seats' sum.
    by_seat = [{s: int(i) for r, i in zip(roles, ids) for s in seats_of[r]} for ids in seatings]
    engine = MatchEngine(game, load, max_copies=n_envs)
    try:
        results = engine.play(Match(seating, d) for seating in by_seat for d in deals)
    finally:
        engine.close()
    out: Tally = {}
    for k, ids in enumerate(seatings):
        totals = np.zeros(len(roles))
        for result in results[k * episodes:(k + 1) * episodes]:
            totals += [sum(result.returns[s] for s in seats_of[r]) for r in roles]
        out[_key(ids)] = [float(episodes), *map(float, totals)]
    return out


def support_seatings(members: Mapping[str, Sequence[Any]], mix: Mapping[str, Mapping[str, float]],
                     tally: Mapping[str, Sequence[float]], config: PopulationConfig) -> list[tuple[int, ...]]:
    """Seatings of members ``mix`` uses that have fewer than ``config.support_episodes`` episodes."""
    used = [[m.id for m in ms if mix[role].get(str(m.id), 0.0) >= config.support_weight]
            for role, ms in members.items()]
    return [ids for ids in itertools.product(*used)
            if tally.get(_key(ids), [0.0])[0] < config.support_episodes][:max(config.max_seatings, 1)]


def merge_tallies(tally: Mapping[str, Sequence[float]], more: Mapping[str, Sequence[float]]) -> Tally:
    """``tally`` with ``more``'s episodes and returns added seating by seating."""
    out = {k: list(v) for k, v in tally.items()}
    for key, values in more.items():
        old = out.get(key)
        out[key] = list(values) if old is None else [a + b for a, b in zip(old, values)]
    return out


def population_policy(members: Mapping[str, Sequence[Any]], tally: Mapping[str, Sequence[float]],
                      config: PopulationConfig) -> dict[str, dict[str, float]]:
    """Each role's mixture over ``members[role]`` (``{role: {member id: weight}}``, JSON-able),
    solved from the measured seatings of ``tally``."""
    roles = list(members)
    index = [{m.id: k for k, m in enumerate(members[r])} for r in roles]
    samples = []
    for key, (count, *returns) in tally.items():
        ids = [int(x) for x in key.split(",")]
        if len(ids) != len(roles) or any(i not in ix for i, ix in zip(ids, index)) or count <= 0:
            continue
        samples.append((dict(zip(roles, (ix[i] for i, ix in zip(ids, index)))),
                        dict(zip(roles, (r / count for r in returns)))))
    sizes = [len(members[r]) for r in roles]
    if not samples:
        weights = [np.full(n, 1.0 / n) for n in sizes]
    else:
        table = payoff_table(samples, roles, sizes)
        weights = solve([table.payoffs[r] for r in roles], config=MetaSolverConfig(solver=config.solver))
    return {r: {str(m.id): float(w) for m, w in zip(members[r], weights[j])} for j, r in enumerate(roles)}


def update_population(game: Game, members: Mapping[str, Sequence[Any]], tally: Mapping[str, Sequence[float]],
                      load: Callable[[MemberId], Policy], config: PopulationConfig, *,
                      seed: Callable[..., int]) -> tuple[dict[str, dict[str, float]], Tally, int]:
    """One update of the population policy after a turn: measure up to ``max_seatings`` new
    seatings of the active ``members``, solve, top up the support's seatings to
    ``support_episodes`` and solve again.  Returns the policy, the new tally and how many new
    seatings were measured.  ``seed(6)`` seeds the new seatings' deals and ``seed(7, k, done)``
    the k-th top-up (which had ``done`` episodes), so a resumed update plays the same deals."""
    roles = list(members)
    tally = {k: list(v) for k, v in tally.items()}
    todo = seatings_to_measure(members, tally, config.max_seatings)
    if todo:
        tally.update(measure_seatings(game, roles, todo, load, episodes=config.episodes, seed=seed(6)))
    population = population_policy(members, tally, config)
    if config.support_episodes > 0:
        top_up = support_seatings(members, population, tally, config)
        for k, ids in enumerate(top_up):
            done = int(tally[_key(ids)][0])
            more = measure_seatings(game, roles, [ids], load, episodes=config.support_episodes - done,
                                    seed=seed(7, k, done))
            tally = merge_tallies(tally, more)
        if top_up:
            population = population_policy(members, tally, config)
    return population, tally, len(todo)
