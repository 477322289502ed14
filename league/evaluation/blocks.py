"""A rating match is a block of episodes: shared deals, every seat rotation, one outcome.

One poker hand says little about who plays better: three players who fold tie ahead of the one
who played and lost, and the cards swamp the skill.  So a match here is a *block*, as in the
Annual Computer Poker Competition's duplicate matches: ``episodes`` deals, drawn from the
match's seed, each played once in every rotation of the seated members through the seats they
may share (a symmetric game's seats; none when every seat is its own role).  Every member then
meets the same cards from every position, and the block's outcome ranks the members by their
returns summed over the block (``outcome = "returns"``) or by their summed per-episode ranks
(``"episode_ranks"``: a sum of placings, for games whose returns are not comparable chips).

A block with one deal and no rotation is exactly one episode, ranked by the game's outcome rule:
what a match was before.  The deals of a block are ``default_rng(seed).integers(2**31 - 1,
size=episodes)``, so the match log's seed and episode count are enough to replay it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np

from envs.game import ranks_from_returns

__all__ = ["OUTCOMES", "BlockOutcome", "EpisodeBackend", "BlockPlayer", "block_rotations", "block_deals"]

OUTCOMES = ("returns", "episode_ranks")
"""How a block's episodes make its outcome (``evaluation.outcome``)."""


class BlockOutcome(NamedTuple):
    """A played block: each nominal seat's member's rank, summed return, and the episodes played."""

    ranks: dict[str, int]
    returns: dict[str, float]
    episodes: int


class EpisodeResult(Protocol):
    returns: Mapping[str, float]
    ranks: Mapping[str, int]


class EpisodeBackend(Protocol):
    """Plays single episodes, many at once: ``envs.MatchResult``-like results in order."""

    def play_episodes(self, seatings: Sequence[Mapping[str, Any]],
                      seeds: Sequence[int | None]) -> Sequence[EpisodeResult]: ...


def block_rotations(seat_groups: Sequence[int]) -> list[tuple[int, ...]]:
    """Seat permutations of a block: rotation ``r`` moves the member of seat ``i`` to seat ``p[i]``.

    Members move only among seats of the same group (a role's seats; all seats in a symmetric
    game), cyclically, so after ``max(group size)`` rotations each member of the largest group
    has sat in every one of its seats once.  The first rotation is the identity.
    """
    groups: dict[int, list[int]] = {}
    for i, g in enumerate(seat_groups):
        groups.setdefault(g, []).append(i)
    size = max(len(v) for v in groups.values())
    out = []
    for r in range(size):
        p = list(range(len(seat_groups)))
        for idx in groups.values():
            for k, i in enumerate(idx):
                p[i] = idx[(k + r) % len(idx)]
        out.append(tuple(p))
    return out


def block_deals(seed: int | None, episodes: int) -> list[int | None]:
    """The deal seeds of a block played with ``seed`` (``None``: fresh entropy every deal)."""
    if seed is None:
        return [None] * episodes
    return [int(x) for x in np.random.default_rng(seed).integers(2 ** 31 - 1, size=episodes)]


class BlockPlayer:
    """Plays seatings as blocks through ``backend.play_episodes``: ``player(seatings) -> outcomes``.

    Args:
        backend: plays the blocks' episodes, all of a batch's blocks in one call (so that a
            vectorized engine runs them side by side).
        seats: the game's seats, in order.
        seat_groups: per seat, the group of seats its member may rotate through (``None``: no
            rotation, e.g. one role per seat).
        episodes: deals per block.
        outcome: ``"returns"`` or ``"episode_ranks"``.
        outcome_rule: turns summed returns into ranks (the game's ``outcome``).
    """

    def __init__(self, backend: EpisodeBackend, seats: Sequence[str], *, episodes: int = 1,
                 outcome: str = "returns", seat_groups: Sequence[int] | None = None,
                 outcome_rule: Any = ranks_from_returns) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome = {outcome!r}: expected one of {list(OUTCOMES)}")
        if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
            raise ValueError(f"episodes must be an integer >= 1, got {episodes!r}")
        self.backend = backend
        self.seats = tuple(seats)
        self.episodes = episodes
        self.outcome = outcome
        self.outcome_rule = outcome_rule
        groups = list(range(len(self.seats))) if seat_groups is None else list(seat_groups)
        self.rotations = block_rotations(groups)

    @property
    def episodes_per_block(self) -> int:
        return self.episodes * len(self.rotations)

    def __call__(self, seatings: Sequence[Mapping[str, Any]]) -> list[BlockOutcome]:
        """Each seating's block outcome, in order; seeds come from ``seating.seed`` (if any)."""
        plan: list[tuple[dict[str, Any], int | None]] = []
        for seating in seatings:
            deals = block_deals(getattr(seating, "seed", None), self.episodes)
            for p in self.rotations:
                rotated = {self.seats[p[i]]: seating[s] for i, s in enumerate(self.seats)}
                plan.extend((rotated, d) for d in deals)
        results = self.backend.play_episodes([s for s, _ in plan], [d for _, d in plan])
        per = self.episodes_per_block
        return [self._outcome(results[b * per:(b + 1) * per]) for b in range(len(seatings))]

    def _outcome(self, results: Sequence[EpisodeResult]) -> BlockOutcome:
        n = len(self.seats)
        returns, placings = np.zeros(n), np.zeros(n)
        for k, result in enumerate(results):
            p = self.rotations[k // self.episodes]
            for i in range(n):
                returns[i] += float(result.returns[self.seats[p[i]]])
                placings[i] += int(result.ranks[self.seats[p[i]]])
        summed = {s: float(r) for s, r in zip(self.seats, returns)}
        if self.outcome == "returns":
            ranks = dict(self.outcome_rule(summed))
        else:  # fewer placing points is better
            ranks = ranks_from_returns({s: -float(x) for s, x in zip(self.seats, placings)})
        return BlockOutcome({s: int(ranks[s]) for s in self.seats}, summed, len(results))
