"""Evaluation by sampled seatings: play a budget of matches where they teach the ratings the most.

A full round robin grows as the product of the members per seat, so the evaluator plays a
*budget* of seatings chosen by a match-selection rule, updates TrueSkill through
``ratings.TrueSkillSystem``, logs each match in the pool, and keeps the empirical payoff table
(wins / draws / games per ordered pair) that opponent sampling reads.

The environment stays outside: a match is played by any ``play(seating) -> ranks`` callable
(``seating``: seat -> member id, a ``Seating`` that also carries the match's seed; ``ranks``: seat
-> rank, 1 = best, equal = draw).  Tests and the benchmark pass a synthetic one.

Which seatings are played is a match-selection rule's choice (``league.evaluation.selection``:
``info``, ``uniform``, ``round_robin``, or a callable); the evaluator then assigns seats so that
each member rotates through the seats it may take (all seats in a symmetric game; the seats of
its role otherwise), rates the result and counts it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np

from league.checks import ARGUMENT, check_range
from league.errors import ResumeMismatchError, UnknownNameError
from league.evaluation.seatbook import SeatBook
from league.evaluation.selection import SelectionRule, SelectionState, get_rule, select
from league.evaluation.settings import EvaluationConfig
from league.protocols import PoolLike
from ratings import PayoffTable, Rating, TrueSkillSystem

__all__ = [
    "Seating",
    "Play",
    "MatchResult",
    "EvaluationConfig",
    "RatedMember",
    "RatingSystem",
    "LoggedMatch",
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


class RatedMember(Protocol):
    """What the evaluator needs to know about a member (``league.pool.Member`` has it)."""

    id: int
    role: str
    mu: float
    sigma: float
    # Optional: ``games`` (rated games so far), read when ``EvaluationConfig.placement`` is on.


class RatingSystem(Protocol):
    """The part of ``ratings.TrueSkillSystem`` the evaluator uses."""

    beta: float

    def rate_seats(self, ratings: Sequence[Rating], ranks: Sequence[float],
                   players: Sequence[object] | None = None) -> list[Rating]: ...


class LoggedMatch(Protocol):
    """A match as the pool's log holds it (``league.pool.MatchRecord`` has these fields)."""

    seats: Sequence[str]
    member_ids: Sequence[int]
    ranks: Sequence[int]
    seed: int | None
    returns: Sequence[float] | None
    episodes: int


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
        # Games before this evaluator (placement): the selection rule sees past + present games.
        self._past = np.array([int(getattr(m, "games", 0)) if self.config.placement else 0 for m in members],
                              dtype=int)
        self.state = SelectionState(
            seats=self.seats, allowed=allowed, ids=np.array(ids, dtype=int),
            mu=np.array([float(m.mu) for m in members]),
            sigma=np.array([float(m.sigma) for m in members]),
            games=self._past.copy(), met=np.zeros((n, n), dtype=int),
            beta=float(self.system.beta), config=self.config,
            # A role bound to several seats is a team: one member plays all its seats.
            teams=None if self.symmetric else list(self._seat_group))
        self._book = SeatBook(self.state, self._seat_group)

    @classmethod
    def from_pool(cls, pool: PoolLike, seats: Sequence[str], *, symmetric: bool = True,
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
        return {int(i): int(g) for i, g in zip(self.state.ids, self.state.games - self._past)}

    @property
    def seat_groups(self) -> list[int]:
        """Per seat, the group of seats its members rotate through (all 0 in a symmetric game)."""
        return list(self._seat_group)

    def seat_counts(self, member_id: int) -> dict[str, int]:
        """How often ``member_id`` sat in each seat."""
        row = self._book.seat_counts[self._index[int(member_id)]]
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
        chosen = select(self.rule, self.state, self.rng)
        teams = self.state.teams or list(range(len(self.seats)))
        if len(chosen) != len(self.seats) or not (len(set(chosen)) == len(set(zip(teams, chosen)))
                                                  == len(set(teams))):
            raise ValueError(f"selection rule returned {chosen!r}: expected {len(self.seats)} "
                             f"member indices, one per seat, distinct except within a team")
        for s, k in enumerate(chosen):
            if k not in set(self.state.allowed[s].tolist()):
                raise ValueError(f"selection rule seated member index {k} in seat "
                                 f"{self.seats[s]!r}, which its role may not take")
        chosen = self._book.hand_out(chosen, self.rng)
        seed = int(self.rng.integers(2 ** 31 - 1))
        return Seating({s: int(self.state.ids[k]) for s, k in zip(self.seats, chosen)}, seed=seed)

    def record(self, seating: Mapping[str, int], ranks: Mapping[str, int],
               seed: int | None = None, *, returns: Mapping[str, float] | None = None,
               episodes: int = 1, log: bool = True) -> MatchResult:
        """Rate one played match, update the payoff table and log it in the pool (if any).

        ``returns`` (per seat, summed over the match) and ``episodes`` go in the pool's log.
        ``log=False``: the pool's log holds this match already (a replay, see ``run``).
        """
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
        before = [Rating(float(st.mu[k]), float(st.sigma[k])) for k in idx]
        if len(set(idx)) < len(idx):  # a team played by one member: rated once, one entry
            new = self.system.rate_seats(before, [int(r) for r in rank_list], players=idx)
        else:
            new = self.system.rate_seats(before, [int(r) for r in rank_list])
        seed = getattr(seating, "seed", None) if seed is None else seed
        if self.pool is not None and log:
            # Logged before the in-memory update: if the pool refuses the row, nothing changed.
            self.pool.record_match(list(self.seats), [int(st.ids[k]) for k in idx],
                                   [int(r) for r in rank_list],
                                   [(float(r.mu), float(r.sigma)) for r in new],
                                   seed=seed, kind="eval", episodes=episodes,
                                   returns=None if returns is None else [float(returns[s]) for s in self.seats])
        for k, r in zip(idx, new):
            st.mu[k], st.sigma[k] = r.mu, r.sigma
        self._book.settle(idx)
        once = dict(zip(idx, rank_list))  # a team's member counts once (its seats share a rank)
        self.payoff.record([int(st.ids[k]) for k in once], list(once.values()))
        return MatchResult(seating={s: int(st.ids[k]) for s, k in zip(self.seats, idx)},
                           ranks={s: int(r) for s, r in zip(self.seats, rank_list)},
                           ratings={s: Rating(float(r.mu), float(r.sigma)) for s, r in zip(self.seats, new)},
                           seed=-1 if seed is None else int(seed))

    def step(self, play: Play) -> MatchResult:
        """Select one seating, play it, rate it."""
        seating = self.next_seating()
        return self._record_played(seating, play(seating))

    def _record_played(self, seating: Seating, played: Any) -> MatchResult:
        """``record`` what a play function returned: ranks, or a block outcome (``.ranks``,
        ``.returns``, ``.episodes``)."""
        if hasattr(played, "ranks") and not isinstance(played, Mapping):
            return self.record(seating, played.ranks, seed=seating.seed, returns=played.returns,
                               episodes=played.episodes)
        return self.record(seating, played, seed=seating.seed)

    def run(self, play: Play | None = None, budget: int | None = None,
            on_match: Callable[[MatchResult], bool | None] | None = None, *,
            play_batch: Callable[[list[Seating]], Sequence[Any]] | None = None,
            replay: Sequence[LoggedMatch] = ()) -> list[MatchResult]:
        """Play ``budget`` matches (``config.budget`` if None), ``config.batch`` seatings chosen at
        a time and recorded in order; ``on_match`` sees each result and may return True to stop
        (the rest of that batch is then dropped unplayed).  Matches are played one by one with
        ``play``, or a whole batch at once with ``play_batch(seatings) -> ranks per seating``
        (e.g. a ``MatchBackend`` playing them in parallel); give exactly one of the two.  Either
        may return block outcomes (``league.evaluation.blocks.BlockOutcome``) instead of ranks,
        whose returns and episode counts then go in the match log too.

        ``replay``: the logged results of this budget's first matches, from an evaluation that
        was interrupted (``pool.matches(start)``; the evaluator built with the ratings and seed
        that one started from).  Their seatings are chosen again, so the generator and the
        selection state move exactly as they did, checked against the log
        (``ResumeMismatchError`` before anything is played if they differ), and rated without
        being played, logged or shown to ``on_match``; the rest of the budget is played."""
        if (play is None) == (play_batch is None):
            raise ValueError("give exactly one of play and play_batch")
        budget = self.config.budget if budget is None else budget
        check_range("budget", budget, low=0, integer=True, form=ARGUMENT, error=ValueError)
        if len(replay) > budget:
            raise ValueError(f"replay holds {len(replay)} matches, more than the budget of {budget}")
        results: list[MatchResult] = []
        while len(results) < budget:
            batch = [self.next_seating() for _ in range(min(self.config.batch, budget - len(results)))]
            logged = list(replay[len(results):len(results) + len(batch)])
            for seating, match in zip(batch, logged):
                _check_replay(seating, match)
            fresh = batch[len(logged):]
            played = play_batch(fresh) if play_batch is not None and fresh else None
            for match, seating in zip(logged, batch):
                results.append(self.record(seating, dict(zip(match.seats, match.ranks)), seed=match.seed,
                                           returns=None if match.returns is None else dict(zip(match.seats,
                                                                                               match.returns)),
                                           episodes=match.episodes, log=False))
            for k, seating in enumerate(fresh):
                outcome = played[k] if played is not None else play(seating)  # type: ignore[misc]
                results.append(self._record_played(seating, outcome))
                if on_match is not None and on_match(results[-1]):
                    for dropped in fresh[k + 1:]:
                        self.cancel(dropped)
                    return results
        return results

    def cancel(self, seating: Mapping[str, int]) -> None:
        """Forget a seating handed out by ``next_seating`` that will not be played."""
        self._book.cancel(tuple(self._index[int(seating[s])] for s in self.seats), dict(seating))


def _check_replay(seating: Seating, match: LoggedMatch) -> None:
    """Refuse to replay a logged match the evaluator would not have chosen here."""
    logged = dict(zip(match.seats, (int(i) for i in match.member_ids)))
    if logged != dict(seating) or match.seed != seating.seed:
        raise ResumeMismatchError(
            f"logged match {getattr(match, 'index', '?')} seated {logged} with seed {match.seed}, but the "
            f"evaluator now chooses {dict(seating)} with seed {seating.seed}: the evaluation settings "
            f"or the ratings it started from are not those of the interrupted evaluation")
