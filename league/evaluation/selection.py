"""Match-selection rules: which seating the evaluator plays next.

A rule is a function ``(SelectionState, rng) -> one member index per seat``; rules are a registry
(``SELECTION_RULES``), and anything that takes a rule accepts its name or such a callable.

``info`` (default)
    With probability ``uniform_share`` a uniform seating (so no member or pair is starved);
    otherwise the *focal* member is the least-played one (ties: highest sigma), and each other seat
    gets the member with the largest expected information about the focal's rating:
    ``quality ** closeness * (sigma_i^2 + sigma_j^2)``, where ``quality`` is TrueSkill's 1v1 match
    quality.  High combined sigma means much to learn; quality near its maximum means an outcome
    near a coin flip, which is where one game moves the posterior most, and it pits neighbours in
    mu against each other, which is exactly what orders them.  Choosing the focal by games played
    keeps the games balanced; pure max-sigma or max-quality pair selection starves some members and
    over-plays the middle of the ladder (measured in ``benchmarks/evaluator_ranking.py``).
``uniform``
    Uniform random seatings: the baseline (the only rule that ignores the balance cap).
``round_robin``
    The seating whose members have met least often, ties at random: a round robin in random order.

Teams: a role bound to several seats (``SelectionState.teams``) is played by one member in all
its seats.  ``select`` runs a rule on one seat per team and seats each chosen member in all its
team's seats, so rules never see teams.

``info`` and ``round_robin`` only seat members whose games stay within ``balance`` times the
least-played member's (after a short warm-up), so no member plays more than ``balance`` times the
games of the least-played one.  Which seat each chosen member takes is the evaluator's business
(it rotates members through the seats they may take).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from league.lookup import resolve

if TYPE_CHECKING:  # the config names the rule, so settings imports this module, not the reverse
    from league.evaluation.settings import EvaluationConfig

__all__ = [
    "SelectionState",
    "SelectionRule",
    "select",
    "SELECTION_RULES",
    "get_rule",
    "rule_names",
    "select_info",
    "select_uniform",
    "select_round_robin",
]


@dataclass
class SelectionState:
    """What a selection rule sees: candidates, their ratings and how much each has played.

    Members are addressed by index ``0..n-1`` into ``ids``; rules return one index per seat.
    """

    seats: tuple[str, ...]
    """Seats of the game, in order."""
    allowed: list[np.ndarray]
    """Per seat, the indices of members that may sit there (its role's members)."""
    ids: np.ndarray
    """Member id of each index."""
    mu: np.ndarray
    """TrueSkill mean of each member."""
    sigma: np.ndarray
    """TrueSkill standard deviation of each member."""
    games: np.ndarray
    """Evaluation games each member has played (within this evaluator, plus its rated games before
    it when ``EvaluationConfig.placement`` is on)."""
    met: np.ndarray
    """``met[i, j]``: matches in which members i and j sat together."""
    beta: float
    """The rating system's performance noise."""
    config: EvaluationConfig
    """The evaluator's settings."""
    teams: list[int] | None = None
    """Per seat, its team: seats of one team are played by one member (None: every seat its own)."""

    def eligible(self, seated: Sequence[int] = ()) -> np.ndarray:
        """Mask of members that may still be seated without breaking the balance cap.

        The cap is ``balance`` x the least-played member's games (at least min + 2, so that a
        fresh population can start), counted as if the members in ``seated`` (already chosen for
        this match) had played it: seating the only least-played member lifts the minimum, which
        is what keeps the cap satisfiable when everyone else has reached it.
        """
        games = self.games.copy()
        games[list(seated)] += 1
        pool = np.unique(np.concatenate(self.allowed))
        m = int(games[pool].min())
        cap = max(math.floor(self.config.balance * m), m + 2)
        mask = np.zeros(len(self.ids), dtype=bool)
        mask[pool] = games[pool] + 1 <= cap
        mask[list(seated)] = False
        return mask

    def info_scores(self, focal: int) -> np.ndarray:
        """Expected information of a game between ``focal`` and each member (see module doc)."""
        var = self.sigma[focal] ** 2 + self.sigma ** 2
        c2 = 2.0 * self.beta ** 2 + var
        quality = np.sqrt(2.0 * self.beta ** 2 / c2) * np.exp(-(self.mu - self.mu[focal]) ** 2 / (2.0 * c2))
        return quality ** self.config.closeness * var


SelectionRule = Callable[[SelectionState, np.random.Generator], list[int]]
"""A match-selection rule: (state, rng) -> one member index per seat, distinct members."""


def select(rule: SelectionRule, state: SelectionState, rng: np.random.Generator) -> list[int]:
    """One member index per seat from ``rule``, the same member in every seat of a team.

    The rule sees a state with one seat per team (each team's first seat) and picks distinct
    members for those; each team's member then takes all of the team's seats.
    """
    if state.teams is None or len(set(state.teams)) == len(state.seats):
        return [int(k) for k in rule(state, rng)]
    first: dict[int, int] = {}
    for s, team in enumerate(state.teams):
        first.setdefault(team, s)
    leads = list(first.values())
    view = dataclasses.replace(state, seats=tuple(state.seats[s] for s in leads),
                               allowed=[state.allowed[s] for s in leads], teams=None)
    chosen = [int(k) for k in rule(view, rng)]
    if len(chosen) != len(leads):
        raise ValueError(f"selection rule returned {chosen!r}: expected {len(leads)} member indices, "
                         f"one per team")
    by_team = dict(zip(first, chosen))
    return [by_team[team] for team in state.teams]


def _pick(indices: np.ndarray, scores: np.ndarray, rng: np.random.Generator) -> int:
    """The index with the highest score, ties broken at random (so no id order bias)."""
    best = indices[scores >= scores.max() - 1e-12 * max(1.0, abs(scores.max()))]
    return int(best[0] if len(best) == 1 else rng.choice(best))


def _fill(state: SelectionState, rng: np.random.Generator,
          score: Callable[[list[int], np.ndarray], np.ndarray]) -> list[int]:
    """Fill seats one by one: the focal first (least played, then highest sigma, in any seat it
    may take), then each remaining seat with the eligible member scoring highest against those
    already chosen.  Seat order is settled afterwards by ``SeatBook.rotate``."""
    ok = state.eligible()
    chosen: list[int] = []
    open_seats = list(range(len(state.seats)))
    # The focal: seats are visited as a whole, so the least-played member anywhere goes first.
    pool = np.unique(np.concatenate(state.allowed))
    pool = pool[ok[pool]] if ok[pool].any() else pool
    least = pool[state.games[pool] == state.games[pool].min()]
    focal = _pick(least, state.sigma[least], rng)
    seat = next(s for s in open_seats if focal in set(state.allowed[s].tolist()))
    chosen.append(focal)
    open_seats.remove(seat)
    for s in open_seats:
        ok = state.eligible(chosen)
        cands = np.array([i for i in state.allowed[s] if i not in chosen], dtype=int)
        if len(cands) == 0:
            raise ValueError(f"seat {state.seats[s]!r} has no member left to sit in it; "
                             f"each role needs at least as many members as it has seats")
        good = cands[ok[cands]]
        cands = good if len(good) else cands
        chosen.append(_pick(cands, score(chosen, cands), rng))
    return _seat_order(state, chosen, [seat, *open_seats])


def _seat_order(state: SelectionState, chosen: list[int], seats: list[int]) -> list[int]:
    """Members listed by seat index (``chosen[k]`` was picked for ``seats[k]``)."""
    out = [0] * len(state.seats)
    for member, s in zip(chosen, seats):
        out[s] = member
    return out


def _uniform_seating(state: SelectionState, rng: np.random.Generator, *, capped: bool) -> list[int]:
    """A uniform random seating; with ``capped``, only among members within the balance cap."""
    by_seat = [-1] * len(state.seats)
    # Seats in random order, so that with shared candidates no seat gets first pick every time.
    for s in rng.permutation(len(state.seats)).tolist():
        chosen = [k for k in by_seat if k >= 0]
        cands = np.array([i for i in state.allowed[s] if i not in chosen], dtype=int)
        if len(cands) == 0:
            raise ValueError(f"seat {state.seats[s]!r} has no member left to sit in it; "
                             f"each role needs at least as many members as it has seats")
        if capped:
            good = cands[state.eligible(chosen)[cands]]
            cands = good if len(good) else cands
        by_seat[s] = int(rng.choice(cands))
    return by_seat


def select_uniform(state: SelectionState, rng: np.random.Generator) -> list[int]:
    """Uniform random seatings, ignoring the balance cap: the baseline the benchmark measures."""
    return _uniform_seating(state, rng, capped=False)


def select_info(state: SelectionState, rng: np.random.Generator) -> list[int]:
    """Least-played focal vs the most informative opponents, plus a uniform share (module doc)."""
    if rng.random() < state.config.uniform_share:
        return _uniform_seating(state, rng, capped=True)
    return _fill(state, rng, lambda chosen, cands: sum(state.info_scores(c)[cands] for c in chosen))


def select_round_robin(state: SelectionState, rng: np.random.Generator) -> list[int]:
    """The members that have met least often: every pair meets once before any meets twice."""
    return _fill(state, rng, lambda chosen, cands: -sum(state.met[c, cands] for c in chosen)
                 .astype(float))


def _rules() -> dict[str, SelectionRule]:
    return {"info": select_info, "uniform": select_uniform, "round_robin": select_round_robin}


SELECTION_RULES: Mapping[str, SelectionRule] = _rules()
"""Rule name -> match-selection rule (pass a callable for a new rule)."""


def rule_names() -> list[str]:
    """The registered match-selection rule names, sorted."""
    return sorted(SELECTION_RULES)


def get_rule(rule: str | SelectionRule) -> SelectionRule:
    """The rule function for a name, or ``rule`` itself when it is callable."""
    return resolve(SELECTION_RULES, rule, "match-selection rule")
