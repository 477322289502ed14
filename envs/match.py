"""Play many matches at once: a policy in every seat, one forward pass per member per round.

A ``Match`` is a seating (every seat -> a member id or a policy object) and a seed; a match is
one episode. ``MatchEngine.play`` runs up to ``max_copies`` of them side by side in the engine
the self-play envs use (``envs.engine``, with no learner seat): each round, every running
match adds its next decision, decisions are grouped by member across matches, and each member
runs one batched forward pass. A copy whose match ends takes the next one waiting.

A match's outcome depends on its seating, its seed and its members' policies alone, never on
which other matches share the batch: its copy draws everything from
``np.random.default_rng(seed)``, first the raw env's seed (``integers(2**31 - 1)``), then one
uniform per decision in the order the match makes them (seat order within a parallel step),
for policies that offer ``probs``; ``act``-only policies are called on their one row with that
generator. This is the stream the self-play env draws with ``reset(seed=seed)``, so for AEC
games a match plays exactly what ``SelfPlayEnv`` plays with the same seed, the first seat's
policy acting through ``act`` by hand (``league.evaluation.matches``'s sequential path).

Returns are the seats' summed rewards; ranks come from them by ``Game.outcome`` (1 = best,
equal ranks = tie). A policy choosing a masked action raises ``IllegalActionError``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple, Union

import numpy as np

from envs.engine import Engine
from envs.errors import GameConfigError
from envs.game import Game, Outcome
from envs.opponents import MemberId, Policy, PolicyCache

__all__ = ["Match", "MatchResult", "MatchEngine"]

Seat = Union[MemberId, Policy]
"""Who sits in a seat: a member id (built by the engine's ``load``) or a policy object."""


class Match(NamedTuple):
    """One match to play: ``seating`` names every seat's member (or policy), ``seed`` its
    randomness (``None``: fresh entropy, not reproducible)."""

    seating: Mapping[str, Seat]
    seed: int | None = None


class MatchResult(NamedTuple):
    """How a match ended: every seat's member id, summed return and rank (1 = best)."""

    seating: dict[str, MemberId]
    returns: dict[str, float]
    ranks: dict[str, int]
    seed: int | None


class _Seated:
    """The engine's opponent source in matches: every seat is forced, so it only loads."""

    def __init__(self, game: Game, load: Callable[[MemberId], Policy] | None):
        self.game = game
        self.load_member = load
        self.policies: dict[str, Policy] = {}  # policy objects seated in the current play() call

    def pick(self, seats: Sequence[str], rng: np.random.Generator) -> dict[str, MemberId]:
        raise GameConfigError(f"a match seats a member in every seat; seats {list(seats)} were left empty")

    def load(self, member_id: MemberId) -> Policy:
        if isinstance(member_id, str) and member_id in self.policies:
            return self.policies[member_id]
        if self.load_member is not None:
            return self.load_member(member_id)
        if isinstance(member_id, str):
            return self.game.reference(member_id)
        raise GameConfigError(f"member {member_id!r} is seated but the MatchEngine has no load() to build it")


class MatchEngine:
    """Plays matches of ``game``, many at once; ``load(member_id)`` builds a member's policy.

    Without ``load``, string ids name the game's reference opponents (``"random"``, ...).
    Built policies stay in a bounded LRU cache (``cache_size``). At most ``max_copies`` matches
    run side by side (env copies are made as batches need them and kept).
    """

    def __init__(self, game: Game, load: Callable[[MemberId], Policy] | None = None, *,
                 cache_size: int = 64, max_copies: int = 512):
        if not isinstance(max_copies, int) or max_copies < 1:
            raise GameConfigError(f"max_copies must be a positive integer, got {max_copies!r}")
        self.game = game
        self.max_copies = max_copies
        self._source = _Seated(game, load)
        self._seats = frozenset(game.seats)
        self._engine = Engine(game, None, self._source, 0, redraw="episode", cache_size=cache_size,
                              autoreset=False, learner_id="", act_rows=True)

    @property
    def cache(self) -> PolicyCache:
        """The bounded LRU cache of built policies."""
        return self._engine.cache

    def play(self, matches: Iterable[Match | tuple[Mapping[str, Seat], int | None]]) -> list[MatchResult]:
        """Every match's result, in the order given."""
        self._source.policies.clear()
        todo = [self._check(Match(*m)) for m in matches]
        if not todo:
            return []
        engine = self._engine
        n = min(len(todo), self.max_copies)
        engine.grow(n)
        results: list[MatchResult | None] = [None] * len(todo)
        waiting = iter(range(len(todo)))
        playing: dict[int, int] = {}  # copy -> match

        def assign(i: int) -> bool:
            k = next(waiting, None)
            if k is None:
                return False
            seating, seed = todo[k]
            engine.seed_copy(i, np.random.default_rng(seed))
            engine.force(i, seating)
            playing[i] = k
            return True

        def feed(i: int, outcome: Outcome) -> bool:
            k = playing.pop(i)
            results[k] = MatchResult(dict(outcome.seating), outcome.returns, outcome.ranks, todo[k].seed)
            return assign(i)

        for i in range(n):
            assign(i)
        engine.feed = feed
        # The cyclic collector's passes scan every live object, hundreds of env copies' among
        # them, and every hand allocates and frees many: a fifth of a 512-copy batch's time.
        # Playing creates no reference cycles (refcounting frees it all; checked for every
        # shipped game), so the collector waits until the batch is over.
        collect = gc.isenabled()
        gc.disable()
        try:
            engine.begin(range(n))
        finally:
            if collect:
                gc.enable()
            engine.feed = None
            engine.outcomes = []
            self._source.policies.clear()
        # Every copy plays until the queue is empty, so no result is missing.
        return results  # type: ignore[return-value]

    def play_one(self, seating: Mapping[str, Seat], seed: int | None = None) -> MatchResult:
        """One match on its own (the same result it has in any batch)."""
        return self.play([Match(seating, seed)])[0]

    def close(self) -> None:
        for c in self._engine.copies:
            c.env.close()

    def _check(self, match: Match) -> Match:
        """``match`` with policy objects replaced by ids, or a ``GameConfigError``.

        Plain dicts, ints and strings take the short ways through (``type(x) is``): a batch
        checks every match, and the general ``isinstance`` checks (ABCs, numpy types) took
        twice as long.
        """
        seating, seed = match
        if type(seating) is not dict and not isinstance(seating, Mapping):
            raise GameConfigError(f"a match seating must map seats to members, got {seating!r}")
        seats = self.game.seats
        if len(seating) != len(seats) or not seating.keys() >= self._seats:
            missing = [s for s in seats if s not in seating]
            extra = [s for s in seating if s not in seats]
            raise GameConfigError(f"seating {dict(seating)!r} leaves seats {missing} empty" if missing else
                                  f"seating {dict(seating)!r} names seats {extra} that game "
                                  f"{self.game.name!r} does not have (seats: {list(seats)})")
        if seed is not None and type(seed) is not int and \
                (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise GameConfigError(f"a match seed must be an integer or None, got {seed!r}")
        ids: dict[str, MemberId] = {}
        for s in seats:
            who = seating[s]
            kind = type(who)
            if kind is int or kind is str:
                ids[s] = who
            elif isinstance(who, (int, np.integer)) and not isinstance(who, bool):
                ids[s] = int(who)
            elif isinstance(who, str):
                ids[s] = who
            else:
                # Keyed by identity: two policy objects never share a batch (or a cache slot).
                member_id = f"{getattr(who, 'name', None) or type(who).__name__}@{id(who):x}"
                self._source.policies[member_id] = who
                ids[s] = member_id
        return Match(ids, None if seed is None else int(seed))
