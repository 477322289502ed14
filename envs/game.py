"""What the self-play env needs to know about a game: seats, roles, spaces, encoding, outcome.

A ``Game`` is a description plus a factory of raw PettingZoo envs; it holds no episode state, so
one ``Game`` serves any number of env copies.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np

from envs.errors import GameConfigError
from envs.opponents import MemberId, Policy

__all__ = ["Game", "Outcome", "Encoder", "ranks_from_returns", "team_ranks", "dict_obs_encoder",
           "one_hot_encoder", "box_encoder"]

Encoder = Callable[[Any, np.ndarray, np.ndarray], None]
"""``encode(raw_obs, obs_row, mask_row)`` writes a seat's raw PettingZoo observation into a
float32 row and (for masked games) its legal actions into a bool row, in place."""

ReferenceFactory = Callable[["Game"], Policy]


class Outcome(NamedTuple):
    """How one episode (a match) ended.

    ``seating`` maps every seat to its member id (the learner's seat to ``"learner"`` unless the
    caller named it), ``ranks`` every seat to its rank (1 = best, equal ranks = tie),
    ``returns`` every seat to its summed reward, ``length`` counts the learner's decisions and
    ``illegal`` names the seat that lost by an illegal action, if any. In a match played by
    ``envs.match`` every seat is a policy: ``learner_seat`` is ``None`` and ``length`` 0.
    """

    seating: dict[str, MemberId]
    ranks: dict[str, int]
    returns: dict[str, float]
    learner_seat: str | None
    length: int
    illegal: str | None = None
    teams: dict[str, str] | None = None
    """Seat -> team (``Game.team_of``); seats of one team win or lose together."""

    def result(self, seat: str | None = None) -> int:
        """+1 win, 0 draw, -1 loss for ``seat`` (default: the learner's), judged against the
        seats of *other* teams only: a team's shared first place is a win for each of its seats,
        not a draw among teammates."""
        seat = self.learner_seat if seat is None else seat
        teams = self.teams or {}
        mine = self.ranks[seat]
        team = teams.get(seat, seat)
        others = [r for s, r in self.ranks.items() if s != seat and teams.get(s, s) != team]
        best_other = min(others, default=mine + 1)
        return 1 if mine < best_other else -1 if mine > best_other else 0


def ranks_from_returns(returns: Mapping[str, float]) -> dict[str, int]:
    """Competition ranking: 1 + the number of seats with a strictly higher return."""
    values = list(returns.values())
    return {seat: 1 + sum([v > r for v in values]) for seat, r in returns.items()}


def team_ranks(returns: Mapping[str, float], teams: Mapping[str, str]) -> dict[str, int]:
    """Team against team: each team's return is the sum of its seats', teams are ranked by
    ``ranks_from_returns`` and every seat takes its team's rank."""
    totals: dict[str, float] = {}
    for seat, r in returns.items():
        team = teams.get(seat, seat)
        totals[team] = totals.get(team, 0.0) + float(r)
    ranked = ranks_from_returns(totals)
    return {seat: ranked[teams.get(seat, seat)] for seat in returns}


def dict_obs_encoder(raw: Mapping[str, np.ndarray], obs_row: np.ndarray, mask_row: np.ndarray) -> None:
    """PettingZoo classic's ``{"observation", "action_mask"}`` dicts: flatten, copy the mask."""
    obs_row[:] = raw["observation"].reshape(-1)
    mask_row[:] = raw["action_mask"]


def one_hot_encoder(raw: Any, obs_row: np.ndarray, mask_row: np.ndarray) -> None:
    """``Discrete`` observations (rps): a one-hot vector, so networks see categories, not magnitudes."""
    obs_row[:] = 0.0
    obs_row[int(raw)] = 1.0


def box_encoder(raw: np.ndarray, obs_row: np.ndarray, mask_row: np.ndarray) -> None:
    """``Box`` observations: flattened as they are."""
    obs_row[:] = np.asarray(raw).reshape(-1)


@dataclass(frozen=True, eq=False)
class Game:
    """A registered game. Build one with ``envs.make(name, **kwargs)``.

    ``env_fn`` returns a fresh *raw* PettingZoo env (no order-enforcing or illegal-move
    wrappers: the self-play env checks legality itself, which is measurably faster).
    ``symmetric`` says seats are interchangeable, so evaluation may rotate members through them.
    ``outcome_rule`` turns every seat's return into ranks (default: ``ranks_from_returns``);
    rating matches apply it to returns summed over ``match_episodes`` episodes.
    ``observe(env, seat)``, when set, replaces ``env.observe(seat)`` (AEC games) with a cheaper
    read of the env's state in whatever form ``encoder`` takes; it is only called for the seat
    to move and for the learner at the end of an episode.
    """

    name: str
    seats: tuple[str, ...]
    roles: Mapping[str, str]
    api: Literal["aec", "parallel"]
    symmetric: bool
    masked: bool
    env_fn: Callable[[], Any]
    obs_dims: Mapping[str, int]
    action_counts: Mapping[str, int]
    encoder: Encoder
    references: Mapping[str, ReferenceFactory]
    outcome_rule: Callable[[Mapping[str, float]], dict[str, int]] = ranks_from_returns
    observe: Callable[[Any, str], Any] | None = None
    obs_bounds: tuple[float, float] = (0.0, 1.0)
    illegal_reward: float = -1.0
    config: Mapping[str, Any] = field(default_factory=dict)
    match_episodes: int = 1
    """Episodes a rating match plays when ``evaluation.episodes_per_match`` is 0: many where one
    episode is mostly luck (a poker hand), so that a match's winner says something about skill."""
    teams: Mapping[str, str] | None = None
    """Seat -> team, where the sides are not the roles (simple_tag's adversaries when each is
    bound to its own role); ``None``: derived from the roles, see ``team_of``."""
    action_specs: Mapping[str, Mapping[str, Any]] | None = None
    """Seat -> action spec (``envs.spaces``: discrete, multi-discrete or box); ``None``: every
    seat has ``Discrete(action_counts[seat])``. ``action_counts`` then holds ``spaces.width``."""
    obs_shapes: Mapping[str, tuple[int, ...]] | None = None
    """Seat -> the raw shape of its ``Box`` observation before flattening (images keep
    ``(H, W, C)`` or ``(C, H, W)`` here, so a network can choose a CNN); ``None``: unknown."""

    def obs_dim(self, seat: str) -> int:
        """Length of the flattened float32 observation of ``seat``."""
        return self.obs_dims[self.check_seat(seat)]

    def n_actions(self, seat: str) -> int:
        """Number of discrete actions of ``seat`` (for other action kinds: ``envs.spaces.width``,
        the mask's or the action vector's length)."""
        return self.action_counts[self.check_seat(seat)]

    def action_spec(self, seat: str) -> dict[str, Any]:
        """The action spec of ``seat`` (see ``envs.spaces``)."""
        self.check_seat(seat)
        if self.action_specs is None or seat not in self.action_specs:
            return {"type": "discrete", "n": int(self.action_counts[seat])}
        return dict(self.action_specs[seat])

    def obs_shape(self, seat: str) -> tuple[int, ...]:
        """The raw observation shape of ``seat`` (``(obs_dim,)`` when the game gives none)."""
        self.check_seat(seat)
        if self.obs_shapes is None or seat not in self.obs_shapes:
            return (int(self.obs_dims[seat]),)
        return tuple(int(d) for d in self.obs_shapes[seat])

    def new_env(self) -> Any:
        """A fresh raw PettingZoo env (AEC or parallel, see ``api``)."""
        return self.env_fn()

    @property
    def team_roles(self) -> frozenset[str]:
        """Roles whose seats are one team, played by one member in every seat of the role: the
        roles bound to several seats, unless the game is symmetric with a single role (then
        the seats are opponents, as in self-play of one lineage)."""
        roles = [self.roles[s] for s in self.seats]
        if self.symmetric and len(set(roles)) == 1:
            return frozenset()
        return frozenset(r for r in roles if roles.count(r) > 1)

    @property
    def team_of(self) -> dict[str, str]:
        """Seat -> team: ``teams`` if given; else a team role's seats share the role's name and
        every other seat is a team of its own (named by the seat)."""
        if self.teams is not None:
            return {s: str(self.teams[s]) for s in self.seats}
        shared = self.team_roles
        return {s: (self.roles[s] if self.roles[s] in shared else s) for s in self.seats}

    def outcome(self, returns: Mapping[str, float]) -> dict[str, int]:
        """Ranks of all seats (1 = best, ties share a rank) from their episode returns.

        The default rule ranks team against team (``team_ranks``: a team's return is the sum
        of its seats'); a game's own ``outcome_rule`` sees every seat's return and must give
        the seats of one team one rank.
        """
        if self.outcome_rule is ranks_from_returns:
            return team_ranks(returns, self._teams)
        return self.outcome_rule(returns)

    @functools.cached_property
    def _teams(self) -> dict[str, str]:
        """``team_of``, worked out once: ``outcome`` runs at the end of every episode."""
        return self.team_of

    def reference(self, name: str, seat: str | None = None) -> Policy:
        """A fresh reference opponent (``"random"`` for every game, ``"minimax"`` for some).

        References act from the flattened observation and mask alone, so one serves any seat;
        ``seat`` is only checked.
        """
        if seat is not None:
            self.check_seat(seat)
        factory = self.references.get(name)
        if factory is None:
            raise GameConfigError(f"game {self.name!r} has no reference opponent {name!r}; "
                                  f"valid: {sorted(self.references)}")
        return factory(self)

    def check_seat(self, seat: str) -> str:
        """``seat`` itself, or a ``GameConfigError`` listing the valid seats."""
        if seat not in self.obs_dims:
            raise GameConfigError(f"game {self.name!r} has no seat {seat!r}; seats: {list(self.seats)}")
        return seat
