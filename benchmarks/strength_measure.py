"""Ground-truth strength of a finished league pool, as it stood at earlier wall times too.

A pool stores when each member was created, so "the league at time t" is every member created
within ``t`` seconds of the pool itself (the anchors are added when the pool is made).  Two
things the pool does not keep for earlier times, and how this module stands in for them:

* the population policy (``pool.state["population"]``): only the end-of-run mixture is stored,
  so it is measured at the end only;
* the ratings: the best member of a role at time ``t`` is ranked by the *end-of-run* rating among
  the members created by ``t`` (hindsight).  At the end it is exactly the leaderboard's pick: the
  active non-anchor member with the highest conservative rating (mu - 3 sigma).

A role with no trained member by ``t`` is represented by its anchors (uniform random): that is
what the league would hand a user at that moment.

Kuhn poker is scored with OpenSpiel's exact exploitability (``benchmarks/groundtruth.py``); board
games by greedy play, in the member's own seat, against the game's references.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyspiel

import envs
from benchmarks.groundtruth import (ProbsFn, kuhn_exploitability, kuhn_mixture_policy, network_probs,
                                    uniform_probs)
from league.models import ActorCritic, is_reference, is_weightless, load_network
from league.pool import Member, Pool
from league.training.callbacks import EvalCallback

__all__ = ["Probe", "PROBES", "PoolAtTime", "kuhn_rows", "probe_network", "board_rows", "seats_roles"]


@dataclass(frozen=True)
class Probe:
    """One board-game measurement: greedy play in the learner's seat against a reference."""

    name: str
    """Metric name (prefixed with the role in the results)."""
    reference: str
    """The game's reference opponent (``"minimax"``, ``"random"``)."""
    quantity: str
    """``"win"`` (win rate) or ``"nonloss"`` (win + draw rate)."""
    episodes: int
    """Episodes of the full run (``--quick`` divides them)."""
    game_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """``envs.make`` keyword arguments of the reference's game (connect four: minimax depth)."""
    seed: int = 1


PROBES: dict[str, tuple[Probe, ...]] = {
    "tictactoe": (Probe("nonloss_vs_minimax", "minimax", "nonloss", 200, seed=1),
                  Probe("win_vs_random", "random", "win", 500, seed=2)),
    "connect_four": (Probe("win_vs_minimax_d2", "minimax", "win", 100, {"depth": 2}, seed=3),
                     Probe("win_vs_minimax_d4", "minimax", "win", 100, {"depth": 4}, seed=4)),
}


class PoolAtTime:
    """Read-side helpers over an open pool: members by creation time, cached policies."""

    def __init__(self, pool: Pool):
        self.pool = pool
        self.roles = tuple(pool.roles)
        everyone = pool.members()
        self.start: datetime = min(m.created for m in everyone)
        self._probs: dict[int, ProbsFn] = {}

    def members(self, role: str, seconds: float | None) -> list[Member]:
        """The role's members created within ``seconds`` of the pool (all of them for None)."""
        members = self.pool.members(role)
        if seconds is None:
            return members
        cutoff = self.start + timedelta(seconds=seconds)
        return [m for m in members if m.created <= cutoff]

    def trained_or_anchors(self, role: str, seconds: float | None) -> list[Member]:
        """The trained members by then, or the anchors if there are none yet."""
        members = self.members(role, seconds)
        trained = [m for m in members if not m.anchor]
        # A reference anchor (minimax) is a yardstick the league rates against, not a player it hands out.
        return trained or [m for m in members if m.anchor and not is_reference(m.spec)]

    def probs(self, member: Member) -> ProbsFn:
        """The member's sampling distribution (uniform over legal actions for a weightless one)."""
        if member.id not in self._probs:
            if is_weightless(member.spec):
                self._probs[member.id] = uniform_probs(int(member.spec["n_actions"]))
            else:
                self._probs[member.id] = network_probs(self.network(member))
        return self._probs[member.id]

    def network(self, member: Member) -> ActorCritic:
        return load_network(member.spec, self.pool.weights(member.id))

    def best(self, role: str, seconds: float | None) -> Member | None:
        """The leaderboard's pick at the end; by end-of-run rating among members by ``seconds`` before."""
        if seconds is None:
            pool = [m for m in self.pool.active(role) if not m.anchor]
        else:
            pool = [m for m in self.members(role, seconds) if not m.anchor]
        return max(pool, key=lambda m: (m.conservative, m.version)) if pool else None


def kuhn_rows(view: PoolAtTime, marks: Mapping[float, float | None]) -> list[tuple[float, str, float]]:
    """``(fraction, metric, exploitability)`` of the newest pair, the uniform mixture of trained
    members and (at the end, ``None`` mark) the stored population policy.

    ``marks`` maps each time fraction to the seconds since the pool was made (None: the end).
    """
    game = pyspiel.load_game("kuhn_poker")
    out: list[tuple[float, str, float]] = []
    for fraction, seconds in marks.items():
        pops = [view.trained_or_anchors(r, seconds) for r in view.roles]
        newest = [max(p, key=lambda m: (m.version, m.id)) for p in pops]
        out.append((fraction, "expl_newest",
                    kuhn_exploitability(game, kuhn_mixture_policy(game, [[view.probs(m)] for m in newest]))))
        out.append((fraction, "expl_uniform",
                    kuhn_exploitability(game, kuhn_mixture_policy(game, [[view.probs(m) for m in p]
                                                                         for p in pops]))))
        population = view.pool.state.get("population") if seconds is None else None
        if population:
            members = [view.pool.members(r) for r in view.roles]
            weights = [[float(population.get(r, {}).get(str(m.id), 0.0)) for m in ms]
                       for r, ms in zip(view.roles, members)]
            out.append((fraction, "expl_population", kuhn_exploitability(game, kuhn_mixture_policy(
                game, [[view.probs(m) for m in ms] for ms in members], weights))))
    return out


def probe_network(net: ActorCritic, game_name: str, seat: str, probe: Probe, episodes: int) -> float:
    """One probe's rate for ``net`` playing greedily in ``seat``."""
    game = envs.make(game_name, **dict(probe.game_kwargs))
    ev = EvalCallback.vs_reference(game, seat, probe.reference, episodes=episodes, greedy=True,
                                   seed=probe.seed).evaluate(net)
    return ev.win_rate if probe.quantity == "win" else ev.win_rate + ev.draw_rate


def board_rows(view: PoolAtTime, game_name: str, marks: Mapping[float, float | None],
               episode_scale: float = 1.0) -> list[tuple[float, str, float]]:
    """``(fraction, "<role>:<probe>", rate)`` for each role's best member at each mark."""
    game = envs.make(game_name)
    seat_of = {role: seat for seat, role in game.roles.items()}
    cache: dict[tuple[int, str], float] = {}  # one member picked at several marks is played once
    out: list[tuple[float, str, float]] = []
    for fraction, seconds in marks.items():
        for role in view.roles:
            best = view.best(role, seconds)
            if best is None:
                continue
            net = None
            for probe in PROBES[game_name]:
                key = (best.id, probe.name)
                if key not in cache:
                    net = net or view.network(best)
                    cache[key] = probe_network(net, game_name, seat_of[role], probe,
                                               max(4, round(probe.episodes * episode_scale)))
                out.append((fraction, f"{role}:{probe.name}", cache[key]))
    return out


def seats_roles(game_name: str) -> Sequence[tuple[str, str]]:
    """``(seat, role)`` pairs of a game with its default roles."""
    game = envs.make(game_name)
    return [(seat, game.roles[seat]) for seat in game.seats]
