"""Evaluation by sampled seatings: play a budget of matches where they teach the ratings the most.

A full round robin grows as the product of the members per seat, so the evaluator plays a
*budget* of seatings chosen by a match-selection rule, updates TrueSkill through
``ratings.TrueSkillSystem``, logs each match in the pool, and keeps the empirical payoff table
(wins / draws / games per ordered pair) that opponent sampling reads.

The environment stays outside: a match is played by any ``play(seating) -> ranks`` callable
(``seating``: seat -> member id, a ``Seating`` that also carries the match's seed; ``ranks``: seat
-> rank, 1 = best, equal = draw).  Tests and the benchmark pass a synthetic one.

Match-selection rules are a registry (``SELECTION_RULES``; a name or a callable):

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

``info`` and ``round_robin`` only seat members whose games stay within ``balance`` times the
least-played member's (after a short warm-up), so no member plays more than ``balance`` times the
games of the least-played one.  Seats are then assigned so that each member rotates through the seats it may
take (all seats in a symmetric game; the seats of its role otherwise).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from league.lookup import resolve
from league.errors import ConfigError, UnknownNameError
from ratings import Rating, TrueSkillSystem

__all__ = [
    "Seating",
    "Play",
    "MatchResult",
    "EvaluationConfig",
    "PayoffTable",
    "SelectionState",
    "SelectionRule",
    "SELECTION_RULES",
    "get_rule",
    "rule_names",
    "select_info",
    "select_uniform",
    "select_round_robin",
    "RatedMember",
    "RatingSystem",
    "Evaluator",
]


class Seating(dict):  # type: ignore[type-arg]
    """Seat -> member id for one match, plus the ``seed`` the match should be played with.

    A plain dict to any ``play`` callable; env glue that wants reproducible episodes reads
    ``seating.seed``, and the same seed goes into the pool's match log.
    """

    def __init__(self, seats: Mapping[str, int], seed: int | None = None) -> None:
        super().__init__(seats)
        self.seed = seed


Play = Callable[[Seating], Mapping[str, int]]
"""Plays one match: seating (seat -> member id) -> ranks (seat -> rank, 1 = best, equal = draw)."""


class MatchResult(NamedTuple):
    """One evaluated match."""

    seating: dict[str, int]
    """Seat -> member id."""
    ranks: dict[str, int]
    """Seat -> rank (1 = best; equal ranks are a draw)."""
    ratings: dict[str, Rating]
    """Seat -> the member's rating after the match."""
    seed: int
    """The seed the match was played with (also in the pool's match log); -1 if none was given."""


class PoolLike(Protocol):
    """The part of ``league.pool.Pool`` the evaluator uses."""

    def record_match(self, seats: Sequence[str], member_ids: Sequence[int], ranks: Sequence[int],
                     ratings: Sequence[tuple[float, float]], *, seed: int | None = ...,
                     kind: str = ...) -> Any: ...

    def matches(self, start: int = ...) -> list[Any]: ...


@dataclass
class EvaluationConfig:
    """How the evaluator chooses and plays matches."""

    rule: str = "info"
    """Match-selection rule: info, uniform or round_robin."""
    budget: int = 256
    """Matches played per evaluation (one call of Evaluator.run)."""
    uniform_share: float = 0.05
    """info: share of uniformly drawn seatings, so that no member or pair is starved."""
    closeness: float = 2.0
    """info: power on TrueSkill match quality; higher pits closer ratings against each other."""
    balance: float = 2.0
    """No member is seated once it has more than balance x the least-played member's games."""
    batch: int = 8
    """Seatings chosen before their results are applied (a parallel backend plays them at once)."""
    seed: int | None = None
    """Seed of the generator that picks seatings and match seeds (None: fresh entropy)."""

    def __post_init__(self) -> None:
        if not isinstance(self.rule, str) or self.rule not in SELECTION_RULES:
            raise ConfigError(f"evaluation.rule = {self.rule!r}: expected one of {rule_names()}")
        if isinstance(self.budget, bool) or not isinstance(self.budget, int) or self.budget < 0:
            raise ConfigError(f"evaluation.budget = {self.budget!r}: expected an integer >= 0")
        _check_real("evaluation.uniform_share", self.uniform_share, 0.0, 1.0)
        _check_real("evaluation.closeness", self.closeness, 0.0, math.inf)
        _check_real("evaluation.balance", self.balance, 1.0, math.inf)
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1:
            raise ConfigError(f"evaluation.batch = {self.batch!r}: expected an integer >= 1")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ConfigError(f"evaluation.seed = {self.seed!r}: expected an integer or none")


def _check_real(key: str, value: object, low: float, high: float) -> None:
    """ConfigError naming ``key`` unless ``low <= value <= high`` (finite unless high is inf)."""
    ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and not math.isnan(value)
          and math.isfinite(value) and low <= value <= high)
    if not ok:
        upper = "" if high == math.inf else f" and <= {high}"
        raise ConfigError(f"{key} = {value!r}: expected a finite number >= {low}{upper}")


# --------------------------------------------------------------------------------------------
# Empirical payoff table.
# --------------------------------------------------------------------------------------------

class PayoffTable:
    """Wins, draws and games per ordered pair of members, from every pair of seats in a match.

    In an N-seat match each pair of seats counts as one game between those two members: the
    better-ranked one wins, equal ranks draw.  ``win_rate(a, b)`` is ``a``'s score against ``b``
    ((wins + draws / 2) / games); opponent sampling reads it once a pair has enough games.
    """

    def __init__(self) -> None:
        self._table: dict[tuple[int, int], list[int]] = {}  # (a, b) -> [a's wins, draws, games]

    def record(self, member_ids: Sequence[int], ranks: Sequence[int]) -> None:
        """Count one match: member ids and their ranks, seat by seat."""
        if len(member_ids) != len(ranks):
            raise ValueError(f"{len(member_ids)} member ids but {len(ranks)} ranks")
        for s, t in itertools.combinations(range(len(member_ids)), 2):
            a, b = int(member_ids[s]), int(member_ids[t])
            if a == b:
                continue  # a member against itself says nothing about who is better
            ab = self._table.setdefault((a, b), [0, 0, 0])
            ba = self._table.setdefault((b, a), [0, 0, 0])
            ab[2] += 1
            ba[2] += 1
            if ranks[s] < ranks[t]:
                ab[0] += 1
            elif ranks[t] < ranks[s]:
                ba[0] += 1
            else:
                ab[1] += 1
                ba[1] += 1

    @classmethod
    def from_matches(cls, matches: Iterable[Any], kinds: Iterable[str] | None = None) -> PayoffTable:
        """Rebuild the table from a match log (``pool.matches()``), optionally only some kinds."""
        wanted = None if kinds is None else set(kinds)
        table = cls()
        for m in matches:
            if wanted is None or getattr(m, "kind", None) in wanted:
                table.record(m.member_ids, m.ranks)
        return table

    def wins(self, a: int, b: int) -> int:
        """Games ``a`` won against ``b``."""
        return self._table.get((a, b), (0, 0, 0))[0]

    def draws(self, a: int, b: int) -> int:
        """Games between ``a`` and ``b`` that were draws."""
        return self._table.get((a, b), (0, 0, 0))[1]

    def games(self, a: int, b: int) -> int:
        """Games between ``a`` and ``b``."""
        return self._table.get((a, b), (0, 0, 0))[2]

    def win_rate(self, a: int, b: int) -> float:
        """``a``'s score against ``b``: (wins + draws / 2) / games; 0.5 before any game."""
        w, d, n = self._table.get((a, b), (0, 0, 0))
        return 0.5 if n == 0 else (w + 0.5 * d) / n

    def matrix(self, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(win rates, games) as ``[len(ids), len(ids)]`` arrays; row = the scoring member."""
        n = len(ids)
        rates, games = np.full((n, n), 0.5), np.zeros((n, n), dtype=int)
        for i, a in enumerate(ids):
            for j, b in enumerate(ids):
                rates[i, j], games[i, j] = self.win_rate(a, b), self.games(a, b)
        return rates, games

    def pairs(self) -> list[tuple[int, int]]:
        """Every ordered pair with at least one game."""
        return sorted(self._table)


# --------------------------------------------------------------------------------------------
# Match selection.
# --------------------------------------------------------------------------------------------

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
    """Evaluation games each member has played (within this evaluator)."""
    met: np.ndarray
    """``met[i, j]``: matches in which members i and j sat together."""
    beta: float
    """The rating system's performance noise."""
    config: EvaluationConfig
    """The evaluator's settings."""

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


def _pick(indices: np.ndarray, scores: np.ndarray, rng: np.random.Generator) -> int:
    """The index with the highest score, ties broken at random (so no id order bias)."""
    best = indices[scores >= scores.max() - 1e-12 * max(1.0, abs(scores.max()))]
    return int(best[0] if len(best) == 1 else rng.choice(best))


def _fill(state: SelectionState, rng: np.random.Generator,
          score: Callable[[list[int], np.ndarray], np.ndarray]) -> list[int]:
    """Fill seats one by one: the focal first (least played, then highest sigma, in any seat it
    may take), then each remaining seat with the eligible member scoring highest against those
    already chosen.  Seat order is settled afterwards by ``Evaluator._rotate``."""
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


# --------------------------------------------------------------------------------------------
# The evaluator.
# --------------------------------------------------------------------------------------------

class RatedMember(Protocol):
    """What the evaluator needs to know about a member (``league.pool.Member`` has it)."""

    id: int
    role: str
    mu: float
    sigma: float


class RatingSystem(Protocol):
    """The part of ``ratings.TrueSkillSystem`` the evaluator uses."""

    beta: float

    def rate_seats(self, ratings: Sequence[Rating], ranks: Sequence[float]) -> list[Rating]: ...


class Evaluator:
    """Plays budgets of seatings chosen by a selection rule and keeps ratings and payoffs current.

    Args:
        seats: the game's seats, in order.
        members: the members to evaluate (e.g. ``pool.active()``); their ``mu``/``sigma`` are the
            starting ratings.
        symmetric: seats are interchangeable: any member may sit anywhere and members rotate
            through the seats.  Otherwise each seat draws from the members of its role
            (``seat_roles``), and members rotate only among the seats of their role.
        seat_roles: seat -> role; required when ``symmetric`` is False.
        config: selection settings; ``EvaluationConfig()`` if None.
        rule: overrides ``config.rule``; a name or a callable ``(SelectionState, rng) -> indices``.
        system: the rating system; a default ``TrueSkillSystem()`` if None.
        pool: when given, every match is logged with ``pool.record_match(..., kind="eval")``.
        payoff: an existing payoff table to extend (e.g. ``PayoffTable.from_matches(pool.matches())``).
    """

    def __init__(self, seats: Sequence[str], members: Sequence[RatedMember], *,
                 symmetric: bool = True, seat_roles: Mapping[str, str] | None = None,
                 config: EvaluationConfig | None = None, rule: str | SelectionRule | None = None,
                 system: RatingSystem | None = None, pool: PoolLike | None = None,
                 payoff: PayoffTable | None = None) -> None:
        self.config = EvaluationConfig() if config is None else config
        self.rule = get_rule(self.config.rule if rule is None else rule)
        self.system: RatingSystem = TrueSkillSystem() if system is None else system
        self.pool = pool
        self.payoff = PayoffTable() if payoff is None else payoff
        self.rng = np.random.default_rng(self.config.seed)
        self.seats = tuple(seats)
        if len(self.seats) < 2 or len(set(self.seats)) != len(self.seats):
            raise ValueError(f"seats must be at least two distinct names, got {list(seats)!r}")
        members = list(members)
        ids = [int(m.id) for m in members]
        if len(set(ids)) != len(ids):
            raise ValueError(f"member ids must be distinct, got {ids!r}")
        self.symmetric = bool(symmetric)
        roles = [str(m.role) for m in members]
        if self.symmetric:
            allowed = [np.arange(len(members))] * len(self.seats)
            self._seat_group = [0] * len(self.seats)
        else:
            if seat_roles is None or set(seat_roles) != set(self.seats):
                raise ValueError(f"an asymmetric game needs seat_roles for every seat {list(self.seats)}, "
                                 f"got {seat_roles!r}")
            allowed = [np.array([k for k, r in enumerate(roles) if r == seat_roles[s]], dtype=int)
                       for s in self.seats]
            for s, a in zip(self.seats, allowed):
                if len(a) == 0:
                    raise ValueError(f"no member of role {seat_roles[s]!r} to sit in seat {s!r}")
            groups = sorted(set(seat_roles.values()))
            self._seat_group = [groups.index(seat_roles[s]) for s in self.seats]
        n = len(members)
        self._index = {m: k for k, m in enumerate(ids)}
        self.state = SelectionState(
            seats=self.seats, allowed=allowed, ids=np.array(ids, dtype=int),
            mu=np.array([float(m.mu) for m in members]),
            sigma=np.array([float(m.sigma) for m in members]),
            games=np.zeros(n, dtype=int), met=np.zeros((n, n), dtype=int),
            beta=float(self.system.beta), config=self.config)
        self._seat_counts = np.zeros((n, len(self.seats)), dtype=int)
        # Seatings handed out by next_seating and not yet recorded, already counted as played:
        # a batch of seatings chosen before any result comes back then spreads over members
        # instead of repeating the same least-played one.
        self._pending: list[tuple[int, ...]] = []

    @classmethod
    def from_pool(cls, pool: Any, seats: Sequence[str], *, symmetric: bool = True,
                  seat_roles: Mapping[str, str] | None = None, config: EvaluationConfig | None = None,
                  rule: str | SelectionRule | None = None, system: RatingSystem | None = None,
                  record: bool = True) -> Evaluator:
        """An evaluator over the pool's active members, its payoff table rebuilt from the match
        log; with ``record`` (the default) each match is logged in the pool."""
        return cls(seats, pool.active(), symmetric=symmetric, seat_roles=seat_roles, config=config,
                   rule=rule, system=system, pool=pool if record else None,
                   payoff=PayoffTable.from_matches(pool.matches()))

    # ---------------------------------------------------------------- queries

    @property
    def ratings(self) -> dict[int, Rating]:
        """Member id -> current rating."""
        st = self.state
        return {int(i): Rating(float(m), float(s)) for i, m, s in zip(st.ids, st.mu, st.sigma)}

    @property
    def games(self) -> dict[int, int]:
        """Member id -> matches played in this evaluator."""
        return {int(i): int(g) for i, g in zip(self.state.ids, self.state.games)}

    def seat_counts(self, member_id: int) -> dict[str, int]:
        """How often ``member_id`` sat in each seat."""
        row = self._seat_counts[self._index[int(member_id)]]
        return {s: int(c) for s, c in zip(self.seats, row)}

    def ranking(self, key: str = "mu") -> list[int]:
        """Member ids from best to worst by ``mu`` or by ``conservative`` (mu - 3 sigma)."""
        st = self.state
        if key == "mu":
            score = st.mu
        elif key == "conservative":
            score = st.mu - 3.0 * st.sigma
        else:
            raise UnknownNameError(f"unknown ranking key {key!r}: expected one of ['conservative', 'mu']")
        return [int(st.ids[k]) for k in np.argsort(-score, kind="stable")]

    # ---------------------------------------------------------------- playing

    def next_seating(self) -> Seating:
        """The next seating the rule picks, seats rotated, with a fresh match seed.

        The seating counts as played from here on (games, pairs met, seats taken), so calling this
        several times before recording any result gives a spread-out batch; pass each seating to
        ``record`` once its result is in.
        """
        chosen = [int(k) for k in self.rule(self.state, self.rng)]
        if len(chosen) != len(self.seats) or len(set(chosen)) != len(chosen):
            raise ValueError(f"selection rule returned {chosen!r}: expected {len(self.seats)} "
                             f"distinct member indices, one per seat")
        for s, k in enumerate(chosen):
            if k not in set(self.state.allowed[s].tolist()):
                raise ValueError(f"selection rule seated member index {k} in seat "
                                 f"{self.seats[s]!r}, which its role may not take")
        chosen = self._rotate(chosen)
        self._count(chosen)
        self._pending.append(tuple(chosen))
        seed = int(self.rng.integers(2 ** 31 - 1))
        return Seating({s: int(self.state.ids[k]) for s, k in zip(self.seats, chosen)}, seed=seed)

    def _rotate(self, chosen: list[int]) -> list[int]:
        """Reorder the members among the seats they may take so that each sits where it has sat
        least: without this, the focal member of ``info`` would always take the first seat, and
        any first-mover advantage would leak into its rating."""
        n = len(self.seats)
        if n > 7:  # 8! orderings is too many to try per match; keep the rule's order
            return chosen
        best, best_cost = [chosen], None
        for perm in itertools.permutations(range(n)):
            order = [chosen[p] for p in perm]
            if any(self._seat_group[s] != self._seat_group[p] for s, p in enumerate(perm)):
                continue  # a member may only move between seats of its own role
            cost = int(sum(self._seat_counts[k, s] for s, k in enumerate(order)))
            if best_cost is None or cost < best_cost:
                best, best_cost = [order], cost
            elif cost == best_cost:
                best.append(order)
        return best[int(self.rng.integers(len(best)))] if len(best) > 1 else best[0]

    def record(self, seating: Mapping[str, int], ranks: Mapping[str, int],
               seed: int | None = None) -> MatchResult:
        """Rate one played match, update the payoff table and log it in the pool (if any)."""
        if set(seating) != set(self.seats) or set(ranks) != set(self.seats):
            raise ValueError(f"seating {dict(seating)!r} and ranks {dict(ranks)!r} must both name "
                             f"exactly the seats {list(self.seats)}")
        rank_list = [ranks[s] for s in self.seats]
        if not all(isinstance(r, (int, np.integer)) and not isinstance(r, bool) and r >= 1
                   for r in rank_list):
            raise ValueError(f"ranks must be integers >= 1 (1 = best), got {dict(ranks)!r}")
        try:
            idx = [self._index[int(seating[s])] for s in self.seats]
        except KeyError as exc:
            raise ValueError(f"seating {dict(seating)!r} names member {exc.args[0]!r}, "
                             f"which this evaluator does not rate") from None
        st = self.state
        new = self.system.rate_seats([Rating(float(st.mu[k]), float(st.sigma[k])) for k in idx],
                                     [int(r) for r in rank_list])
        seed = getattr(seating, "seed", None) if seed is None else seed
        if self.pool is not None:
            # Logged before the in-memory update: if the pool refuses the row, nothing changed.
            self.pool.record_match(list(self.seats), [int(st.ids[k]) for k in idx],
                                   [int(r) for r in rank_list],
                                   [(float(r.mu), float(r.sigma)) for r in new],
                                   seed=seed, kind="eval")
        for k, r in zip(idx, new):
            st.mu[k], st.sigma[k] = r.mu, r.sigma
        if tuple(idx) in self._pending:
            self._pending.remove(tuple(idx))  # counted when it was handed out
        else:
            self._count(idx)
        self.payoff.record([int(st.ids[k]) for k in idx], rank_list)
        return MatchResult(seating={s: int(st.ids[k]) for s, k in zip(self.seats, idx)},
                           ranks={s: int(r) for s, r in zip(self.seats, rank_list)},
                           ratings={s: Rating(float(r.mu), float(r.sigma)) for s, r in zip(self.seats, new)},
                           seed=-1 if seed is None else int(seed))

    def _count(self, idx: Sequence[int]) -> None:
        """Count a seating (member indices in seat order) as played."""
        st = self.state
        for s, k in enumerate(idx):
            self._seat_counts[k, s] += 1
        distinct = sorted(set(idx))
        st.games[distinct] += 1
        for a, b in itertools.combinations(distinct, 2):
            st.met[a, b] += 1
            st.met[b, a] += 1

    def step(self, play: Play) -> MatchResult:
        """Select one seating, play it, rate it."""
        seating = self.next_seating()
        ranks = play(seating)
        return self.record(seating, ranks, seed=seating.seed)

    def run(self, play: Play | None = None, budget: int | None = None,
            on_match: Callable[[MatchResult], bool | None] | None = None, *,
            play_batch: Callable[[list[Seating]], Sequence[Mapping[str, int]]] | None = None
            ) -> list[MatchResult]:
        """Play ``budget`` matches (``config.budget`` if None), ``config.batch`` seatings chosen at
        a time and recorded in order; ``on_match`` sees each result and may return True to stop
        (the rest of that batch is then dropped unplayed).  Matches are played one by one with
        ``play``, or a whole batch at once with ``play_batch(seatings) -> ranks per seating``
        (e.g. a ``MatchBackend`` playing them in parallel); give exactly one of the two."""
        if (play is None) == (play_batch is None):
            raise ValueError("give exactly one of play and play_batch")
        budget = self.config.budget if budget is None else budget
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
            raise ValueError(f"budget must be an integer >= 0, got {budget!r}")
        results: list[MatchResult] = []
        while len(results) < budget:
            batch = [self.next_seating() for _ in range(min(self.config.batch, budget - len(results)))]
            played = play_batch(batch) if play_batch is not None else None
            for k, seating in enumerate(batch):
                ranks = played[k] if played is not None else play(seating)  # type: ignore[misc]
                results.append(self.record(seating, ranks, seed=seating.seed))
                if on_match is not None and on_match(results[-1]):
                    for dropped in batch[k + 1:]:
                        self.cancel(dropped)
                    return results
        return results

    def cancel(self, seating: Mapping[str, int]) -> None:
        """Forget a seating handed out by ``next_seating`` that will not be played."""
        idx = tuple(self._index[int(seating[s])] for s in self.seats)
        if idx not in self._pending:
            raise ValueError(f"seating {dict(seating)!r} is not pending")
        self._pending.remove(idx)
        st = self.state
        for s, k in enumerate(idx):
            self._seat_counts[k, s] -= 1
        distinct = sorted(set(idx))
        st.games[distinct] -= 1
        for a, b in itertools.combinations(distinct, 2):
            st.met[a, b] -= 1
            st.met[b, a] -= 1
