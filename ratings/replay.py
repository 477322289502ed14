"""Recompute ratings from a match log, with any rating system.

The pool's match log keeps every match's seating and ranks, so ratings are derived data: these
functions replay the log in order and return each player's final rating.  A match is anything
with ``member_ids`` and ``ranks`` (a pool ``MatchRecord``) or a mapping with those keys.
Every seat is its own team.  A player seated twice in one match takes its last seat's result,
the same rule the pool applies when it records the match.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Sequence

from ratings.elo import Elo
from ratings.rating import Rating, check_rating
from ratings.trueskill_system import TrueSkillSystem

__all__ = ["replay_elo", "replay_trueskill"]

def _seating(match: Any, index: int) -> tuple[list[Any], list[Any]]:
    try:
        if isinstance(match, Mapping):
            ids, ranks = match["member_ids"], match["ranks"]
        else:
            ids, ranks = match.member_ids, match.ranks
    except (KeyError, AttributeError):
        raise ValueError(f"match {index} has no member_ids/ranks: {match!r:.200}") from None
    ids, ranks = list(ids), list(ranks)
    if len(ids) != len(ranks):
        raise ValueError(f"match {index} has {len(ids)} member_ids but {len(ranks)} ranks")
    return ids, ranks


def replay_trueskill(matches: Iterable[Any], system: TrueSkillSystem,
                     initial: Mapping[Any, Rating] | None = None, *,
                     observe: Callable[[Sequence[Rating], Sequence[Any]], None] | None = None,
                     ) -> dict[Any, Rating]:
    """Final TrueSkill rating of every player in ``matches``, replayed in order.

    Players missing from ``initial`` start at ``system.new_rating()``.  The result also holds
    every player of ``initial``, played or not.  ``observe(before, ranks)``, if given, sees each
    match's seats' ratings before its update (``ratings.fit`` scores predictions with it).
    """
    ratings: dict[Any, Rating] = {k: check_rating(r, f"initial[{k!r}]") for k, r in (initial or {}).items()}
    for i, match in enumerate(matches):
        ids, ranks = _seating(match, i)
        before = [ratings[m] if m in ratings else system.new_rating() for m in ids]
        try:
            # A member seated several times with one rank (a team) is one player, rated once;
            # with different ranks (a self-play log), every seat is rated and the last one kept.
            team = len(set(ids)) < len(ids) and len(set(zip(ids, ranks))) == len(set(ids))
            after = system.rate_seats(before, ranks, players=ids if team else None)
        except ValueError as e:
            raise ValueError(f"match {i}: {e}") from None
        if observe is not None:
            observe(before, ranks)
        ratings.update(zip(ids, after))  # later seats overwrite earlier ones: the pool's rule
    return ratings


def replay_elo(matches: Iterable[Any], elo: Elo, initial: Mapping[Any, float] | None = None) -> dict[Any, float]:
    """Final Elo rating of every player in ``matches``, replayed in order (pairwise per match).

    Players missing from ``initial`` start at ``elo.initial``.
    """
    ratings: dict[Any, float] = {k: float(r) for k, r in (initial or {}).items()}
    for i, match in enumerate(matches):
        ids, ranks = _seating(match, i)
        try:
            after = elo.rate([ratings.get(m, elo.initial) for m in ids], ranks)
        except ValueError as e:
            raise ValueError(f"match {i}: {e}") from None
        ratings.update(zip(ids, after))
    return ratings
