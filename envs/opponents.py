"""How opponents reach the self-play env: the NPC ``Policy`` protocol, opponent sources, a cache.

The env never knows where opponents come from. At each redraw point it asks an
``OpponentSource`` to ``pick`` a member id for every NPC seat, and builds the policies with
``source.load(member_id)`` through a bounded ``PolicyCache``. ``league`` implements a source on
top of its pool and sampler; this module ships the simple ones (fixed seatings and a game's
reference opponents).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, Union, runtime_checkable

import numpy as np

from envs.errors import GameConfigError

if TYPE_CHECKING:
    from envs.game import Game

__all__ = ["MemberId", "Policy", "OpponentSource", "PolicyCache", "FixedOpponents",
           "ReferenceOpponents"]

MemberId = Union[int, str]
"""A pool member's row (``int``) or the name of a reference opponent (``str``, e.g. ``"minimax"``)."""


@runtime_checkable
class Policy(Protocol):
    """An NPC: acts on a batch of flattened observations and legal-action masks.

    ``obs`` is ``[B, obs_dim]`` float32, ``mask`` ``[B, n_actions]`` bool or ``None`` (unmasked
    game); returns ``[B]`` integer actions, never a masked one. A policy may also offer
    ``probs(obs, mask) -> [B, n_actions]``; the env then samples with per-copy generators
    (reproducible across single and vectorized envs) instead of calling ``act``.
    """

    def act(self, obs: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator) -> np.ndarray: ...


@runtime_checkable
class OpponentSource(Protocol):
    """Names a member for each NPC seat at a redraw point, and builds a member's policy."""

    def pick(self, seats: Sequence[str], rng: np.random.Generator) -> dict[str, MemberId]: ...

    def load(self, member_id: MemberId) -> Policy: ...


class PolicyCache:
    """A bounded LRU cache of loaded opponent policies, keyed by member id.

    Loading a member (reading weights, building a network) is the expensive part of seating it;
    a league samples a few strong members often, so recently used ones are kept. The cache never
    holds more than ``maxsize`` policies; copies of the env keep their current opponents alive
    themselves, so an eviction never pulls a policy out from under a running episode.
    """

    def __init__(self, maxsize: int = 8):
        if not isinstance(maxsize, int) or maxsize < 1:
            raise GameConfigError(f"PolicyCache maxsize must be a positive integer, got {maxsize!r}")
        self.maxsize = maxsize
        self._items: OrderedDict[MemberId, Policy] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, member_id: MemberId, load: Callable[[MemberId], Policy]) -> Policy:
        """The cached policy of ``member_id``, loading (and maybe evicting the LRU one) on a miss."""
        policy = self._items.get(member_id)
        if policy is not None:
            self._items.move_to_end(member_id)
            self.hits += 1
            return policy
        self.misses += 1
        policy = load(member_id)
        self._items[member_id] = policy
        if len(self._items) > self.maxsize:
            self._items.popitem(last=False)
        return policy

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, member_id: object) -> bool:
        return member_id in self._items

    def keys(self) -> list[MemberId]:
        """Cached ids, least recently used first."""
        return list(self._items)

    def clear(self) -> None:
        self._items.clear()


class FixedOpponents:
    """Always the same seating: ``{seat: policy or member id}``.

    A policy object is seated under the id ``"fixed:<seat>"`` unless it has a ``name``
    attribute; a member id is resolved by ``loader`` (e.g. ``game.reference`` for reference
    names, or a pool-backed loader).
    """

    def __init__(self, seating: Mapping[str, Policy | MemberId], *,
                 loader: Callable[[MemberId], Policy] | None = None):
        self._ids: dict[str, MemberId] = {}
        self._policies: dict[MemberId, Policy] = {}
        self._loader = loader
        for seat, who in seating.items():
            if isinstance(who, (int, str)):
                if loader is None:
                    raise GameConfigError(
                        f"seat {seat!r} is given member id {who!r} but FixedOpponents has no loader "
                        "to build it; pass loader= or a policy object")
                self._ids[seat] = who
            else:
                member_id = getattr(who, "name", None) or f"fixed:{seat}"
                self._ids[seat] = member_id
                self._policies[member_id] = who

    def pick(self, seats: Sequence[str], rng: np.random.Generator) -> dict[str, MemberId]:
        missing = [s for s in seats if s not in self._ids]
        if missing:
            raise GameConfigError(f"FixedOpponents has no opponent for seat(s) {missing}; "
                                  f"it seats {sorted(self._ids)}")
        return {s: self._ids[s] for s in seats}

    def load(self, member_id: MemberId) -> Policy:
        if member_id in self._policies:
            return self._policies[member_id]
        if self._loader is None:
            raise GameConfigError(f"FixedOpponents cannot load unknown member {member_id!r}")
        return self._loader(member_id)


class ReferenceOpponents:
    """Seats the game's reference opponent ``name`` (``"random"``, ``"minimax"``, ...) everywhere.

    Its ``load`` builds any reference of the game by name, so forced seatings may mix references
    (``reset(options={"opponents": {"player_1": "minimax"}})``).
    """

    def __init__(self, game: Game, name: str = "random"):
        game.reference(name)  # fail now, with the valid names, rather than at the first reset
        self.game = game
        self.name = name

    def pick(self, seats: Sequence[str], rng: np.random.Generator) -> dict[str, MemberId]:
        return dict.fromkeys(seats, self.name)

    def load(self, member_id: MemberId) -> Policy:
        if not isinstance(member_id, str):
            raise GameConfigError(f"reference opponents are named by strings, got member id {member_id!r}")
        return self.game.reference(member_id)
