"""Who sits where: one evaluator's seat bookkeeping.

``SeatBook`` counts every seating the evaluator hands out as played at once (games, pairs met,
seats taken), so a batch chosen before any result comes back spreads over members instead of
repeating the least-played one; ``settle`` marks a handed-out seating's result as in, ``cancel``
takes back one that will not be played.  It also rotates the chosen members through the seats
they may take (``hand_out``), so that each sits where it has sat least.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from league.evaluation.selection import SelectionState

__all__ = ["SeatBook"]


class SeatBook:
    """Seat counts and pending seatings over the members of ``state`` (whose ``games`` and
    ``met`` it keeps); ``seat_group[s]``: the group of seats a member in seat ``s`` rotates in."""

    def __init__(self, state: SelectionState, seat_group: Sequence[int]) -> None:
        self.state = state
        self.seat_group = list(seat_group)
        self.seat_counts = np.zeros((len(state.ids), len(seat_group)), dtype=int)
        self.pending: list[tuple[int, ...]] = []

    def hand_out(self, chosen: list[int], rng: np.random.Generator) -> list[int]:
        """The chosen members (indices, one per seat) rotated, counted as played and pending."""
        order = self.rotate(chosen, rng)
        self._count(order, +1)
        self.pending.append(tuple(order))
        return order

    def settle(self, idx: Sequence[int]) -> None:
        """A result is in for seating ``idx``: counted already if it was handed out, else now."""
        if tuple(idx) in self.pending:
            self.pending.remove(tuple(idx))
        else:
            self._count(idx, +1)

    def cancel(self, idx: tuple[int, ...], seating: Mapping[str, int]) -> None:
        """Take back a handed-out seating that will not be played."""
        if idx not in self.pending:
            raise ValueError(f"seating {seating!r} is not pending")
        self.pending.remove(idx)
        self._count(idx, -1)

    def rotate(self, chosen: list[int], rng: np.random.Generator) -> list[int]:
        """Reorder the members among the seats they may take so that each sits where it has sat
        least: without this, the focal member of ``info`` would always take the first seat, and
        any first-mover advantage would leak into its rating."""
        n = len(self.seat_group)
        if n > 7:  # 8! orderings is too many to try per match; keep the rule's order
            return chosen
        best, best_cost = [chosen], None
        for perm in itertools.permutations(range(n)):
            order = [chosen[p] for p in perm]
            if any(self.seat_group[s] != self.seat_group[p] for s, p in enumerate(perm)):
                continue  # a member may only move between seats of its own role
            cost = int(sum(self.seat_counts[k, s] for s, k in enumerate(order)))
            if best_cost is None or cost < best_cost:
                best, best_cost = [order], cost
            elif cost == best_cost:
                best.append(order)
        return best[int(rng.integers(len(best)))] if len(best) > 1 else best[0]

    def _count(self, idx: Sequence[int], sign: int) -> None:
        st = self.state
        for s, k in enumerate(idx):
            self.seat_counts[k, s] += sign
        distinct = sorted(set(idx))
        st.games[distinct] += sign
        for a, b in itertools.combinations(distinct, 2):
            st.met[a, b] += sign
            st.met[b, a] += sign
