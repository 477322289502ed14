"""``PoolLike``: the part of ``league.pool.Pool`` that evaluation and pruning use.

It lives apart from ``league.pool`` so that the modules typed against it need not import the
pool (and h5py, torch) to name it, and so that a test can pass any object with these methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["PoolLike"]


class PoolLike(Protocol):
    """A pool's members, retirement and match log, as the evaluator and pruning see them."""

    def active(self, role: str | None = None) -> list[Any]:
        """The active members (those opponents are sampled from), optionally of one role."""
        ...

    def retire(self, member_id: int, reason: str) -> Any:
        """Take a member out of the active index."""
        ...

    def delete_weights(self, member_id: int) -> None:
        """Delete a retired member's weights file."""
        ...

    def record_match(self, seats: Sequence[str], member_ids: Sequence[int], ranks: Sequence[int],
                     ratings: Sequence[tuple[float, float]], *, seed: int | None = ...,
                     kind: str = ..., returns: Sequence[float] | None = ..., episodes: int = ...) -> Any:
        """Log a match and set the seated members' new ratings."""
        ...

    def matches(self, start: int = ...) -> list[Any]:
        """The match log from index ``start`` on."""
        ...
