"""How the pool's members live in memory: frozen, lazily loaded, cheap to list by the 100k.

``Member`` is the public record.  The pool hands out ``PoolMember``s (a two-slot subclass that
holds a row index and the rows it came from) whose fields load on first use; spec and hparams
are decoded once per distinct JSON document and shared, read-only, between members.
"""

from __future__ import annotations

import gc
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

import numpy as np

from league.pool.store import MEMBER_DTYPE

__all__ = ["Member", "MatchRecord", "MEMBER_FIELDS", "EPOCH", "PoolMember", "RowSource", "JsonHeap",
           "build_members"]

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True, eq=False)
class Member:
    """One frozen checkpoint of a role, as committed in the pool.

    ``spec`` and ``hparams`` are shared, read-only views (members of one role usually share
    them); copy with ``dict(...)`` or ``copy.deepcopy`` before changing them.  Members are
    equal when every field is; they hash by id.
    """

    id: int
    role: str
    version: int                 # per-role counter from 0
    parent: int | None
    step: int
    created: datetime            # tz-aware, UTC
    spec: dict[str, Any]
    hparams: dict[str, Any]
    mu: float
    sigma: float
    games: int
    active: bool
    anchor: bool
    retired_reason: str | None

    @property
    def conservative(self) -> float:
        """The rating leaderboards and pruning use: mu - 3 sigma."""
        return self.mu - 3.0 * self.sigma

    def __reduce__(self) -> tuple[Any, ...]:
        # Through __init__ with every field: a pool-built member may not have decoded its lazy
        # fields yet, and must not drag the pool's whole blob heap into the pickle.
        return (Member, tuple(getattr(self, f) for f in MEMBER_FIELDS))

    # Written out (not generated) so that pool-built members (a subclass) and hand-built ones
    # compare by value; hashing by id keeps equal members' hashes equal and works despite the
    # dict fields.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Member):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in MEMBER_FIELDS)

    def __hash__(self) -> int:
        return hash(self.id)


MEMBER_FIELDS = tuple(Member.__dataclass_fields__)


class PoolMember(Member):
    """A Member as the pool hands it out: just an id and a reference to the rows it came from
    (two slots, no dict, ~4x cheaper to build); its fields load on first use (``_LazyField``)."""

    __slots__ = ("_i", "_src")


PoolMember.__name__ = PoolMember.__qualname__ = "Member"  # repr shows Member(...)
_SET_I, _SET_SRC = PoolMember._i.__set__, PoolMember._src.__set__  # type: ignore[attr-defined]


class _LazyField:
    """A Member field read from the pool's row on first access, then kept in the instance.

    Listing 100k members must not convert 100k rows and decode 100k JSON documents when the
    caller looks at a few: the pool builds a ``PoolMember`` holding only its row index and
    the rows.  The first scalar field read converts the whole row (one ``tolist``); spec,
    hparams, retired_reason and created decode separately, since they cost most.  A
    ``Member(...)`` built by hand has every field in its ``__dict__``, which always wins over
    this (non-data) descriptor.  The pool never changes a row a lazy member still refers to
    (see ``Pool._touch``), so a member stays the snapshot it was when handed out.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        if self.name == "id":
            return obj._i
        d = obj.__dict__  # created on first use
        if "_ptrs" not in d:
            src = obj._src
            i = obj._i
            roles = src.roles
            (role, version, parent, step, created_us, so, sl, ho, hl, mu, sigma, games, ro, rl, active, anchor,
             _stored, _digest) = src.row(i)
            d.update({"id": i, "role": roles[role], "version": version, "parent": None if parent < 0 else parent,
                      "step": step, "mu": mu, "sigma": sigma, "games": games, "active": active == 1,
                      "anchor": anchor == 1, "_ptrs": (so, sl, ho, hl, ro, rl, created_us)})
            if self.name in d:
                return d[self.name]
        so, sl, ho, hl, ro, rl, created_us = d["_ptrs"]
        heap = obj._src.heap
        if self.name == "spec":
            value = heap.get(so, sl)
        elif self.name == "hparams":
            value = heap.get(ho, hl)
        elif self.name == "retired_reason":
            value = heap.get(ro, rl) if rl else None
        else:
            value = EPOCH + timedelta(microseconds=created_us)
        d[self.name] = value
        return value


for _name in MEMBER_FIELDS:
    setattr(Member, _name, _LazyField(_name))


class RowSource:
    """The rows (and JSON heap) one batch of pool-built members reads its fields from.

    One row converts in ~2 us (``tolist`` of a numpy record), fine when a caller looks at a
    few members; once many are read (a sampler over every active member), converting whole
    columns at once is ~5x cheaper per row.
    """

    __slots__ = ("rows", "heap", "roles", "reads", "tuples")
    _BULK_AFTER = 64

    def __init__(self, rows: np.ndarray, heap: JsonHeap, roles: tuple[str, ...]) -> None:
        self.rows, self.heap, self.roles = rows, heap, roles
        self.reads = 0
        self.tuples: list[tuple[Any, ...]] | None = None

    def row(self, i: int) -> tuple[Any, ...]:
        """Row ``i`` as Python values, in MEMBER_DTYPE field order."""
        if self.tuples is None:
            self.reads += 1
            if self.reads <= self._BULK_AFTER:
                return self.rows[i].tolist()  # type: ignore[no-any-return]
            self.tuples = list(zip(*(self.rows[name].tolist() for name in MEMBER_DTYPE.names)))
        return self.tuples[i]


class JsonHeap:
    """Decoded (frozen) JSON documents of the blob heap, cached by offset.

    Holds the heap's bytes, not the file, so members keep working after the pool closes.
    """

    __slots__ = ("data", "cache")

    def __init__(self, data: bytearray) -> None:
        self.data = data   # the pool's bytearray; it grows in place, offsets never move
        self.cache: dict[int, Any] = {}

    def get(self, off: int, length: int) -> Any:
        hit = self.cache.get(off)
        if hit is None:
            hit = _freeze(json.loads(self.data[off: off + length]))
            self.cache[off] = hit
        return hit


class MatchRecord(NamedTuple):
    """One logged match: who sat where and how they ranked (1 = best; equal = draw)."""

    index: int
    time: datetime
    seats: tuple[str, ...]
    member_ids: tuple[int, ...]
    ranks: tuple[int, ...]
    seed: int | None
    kind: str
    returns: tuple[float, ...] | None = None
    """Every seat's member's summed return over the match's episodes (None: not logged)."""
    episodes: int = 1
    """Episodes the match was played over (a block: its deals in every seat rotation)."""


class _FrozenDict(dict):  # type: ignore[type-arg]
    """A dict that refuses changes: decoded specs are shared by many members."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a member's spec/hparams are read-only (shared between members); "
                        "copy them first with dict(...) or copy.deepcopy(...)")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:  # pickles (e.g. to Ray workers) as a plain dict
        return (dict, (_thaw(self),))

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return _thaw(self)


class _FrozenList(list):  # type: ignore[type-arg]
    """A list that refuses changes (nested in a frozen spec, e.g. ``hidden``)."""

    _refuse = _FrozenDict._refuse
    __setitem__ = __delitem__ = append = extend = insert = pop = remove = clear = _refuse  # type: ignore[assignment]
    sort = reverse = __iadd__ = __imul__ = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (_thaw(self),))

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return _thaw(self)


def _freeze(obj: Any) -> Any:
    if isinstance(obj, dict):
        return _FrozenDict((k, _freeze(v)) for k, v in obj.items())
    if isinstance(obj, list):
        return _FrozenList(_freeze(v) for v in obj)
    return obj


def _thaw(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _thaw(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_thaw(v) for v in obj]
    return obj


def build_members(idx: list[int], source: RowSource, cache: list[Member | None]) -> list[Member]:
    """Lazy members for rows ``idx`` of ``source``, also stored into ``cache[i]``."""
    new, set_i, set_src = object.__new__, _SET_I, _SET_SRC
    out: list[Member] = []
    gc_was_on = gc.isenabled()
    gc.disable()  # 100k new objects would trigger repeated full collections over them
    try:
        for i in idx:
            m = new(PoolMember)   # bypasses the frozen __init__
            set_i(m, i)
            set_src(m, source)
            cache[i] = m
            out.append(m)
    finally:
        if gc_was_on:
            gc.enable()
    return out
