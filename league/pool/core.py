"""The league pool: every member (checkpoint) of every role, its rating, weights and matches.

A pool is a directory::

    index.h5                   members table (all index, ``active`` column = active index),
                               match log, run state, schema version; see ``league.pool.store``
    weights/<id>.safetensors   one immutable weights file per member (weightless anchors: none);
                               see ``league.pool.weights``
    writer.lock                ``flock``ed by the single writer; see ``league.pool.lock``

One process writes (``mode="a"``); any number read (``mode="r"``, HDF5 SWMR), also while the
writer appends.  A member is either fully there or absent whatever moment the writer dies.

This module is the facade: ``Pool``, its public API and the validation of every argument, done
completely before anything is written so that a bad call leaves the pool untouched.  The work
is done by the modules beside it:

- ``validation``: the argument checks, and the injected weights check (``WeightsFit``);
- ``session``: an open pool directory: the lock, the reader or writer, opened and closed together;
- ``view``: the in-memory copy of the committed index, shared by the reader or writer, and the
  members built from it (``members``: the lazy ``Member`` objects);
- ``writer``: the commit protocol (weights file, rows, commit record; tables that grow by
  chunks) and ``record_match``'s write-ahead log;
- ``reader``: a read-only pool's sync with the writer's commits, its retries, and following an
  index a recovering writer replaced;
- ``recovery``: opening for writing after a dead writer (rebuilding an index left open);
- ``lock``: the writer lock; ``store``: the index's on-disk format; ``weights``: weights files.

Checking that weights fit a spec needs the network the spec builds (torch), so the pool takes
that check as ``check_weights``; the default, ``league.models.check_weights``, is imported on
first use, and ``import league.pool`` does not import torch.

Members are frozen snapshots.  Those the pool hands out load their fields lazily from the
rows they were built from, so that listing 100k members stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from league.errors import MissingWeightsError, PoolError
from league.pool import store
from league.pool.members import MatchRecord, Member
from league.pool.session import Session
from league.pool.validation import (WeightsCheck, WeightsFit, check_create, check_id, check_new_dir, check_open,
                                    encode_state, match_doc, new_member, role_index)
from league.pool.view import IndexView, apply_post
from league.pool.weights import load_member_weights, weights_path

if TYPE_CHECKING:
    import torch

__all__ = ["Member", "MatchRecord", "Pool", "WeightsCheck"]


def _read_weights(session: Session, view: IndexView, path: Path, i: int,
                  fit: Any) -> dict[str, torch.Tensor]:
    """``Pool.weights`` of member ``i`` (its id already checked): the file checked against its
    digest and its spec, {} for a weightless member."""
    row = view.rows.buf[i]
    stored = int(row["stored"])
    if stored == store.STORED_FILE:
        try:
            tensors = load_member_weights(path, i, row["digest"].decode() or None)
        except MissingWeightsError:
            # A reader may be behind the writer, which deleted them since our last look.
            if session.reader is None:
                raise
            session.sync()
            if view.rows.buf[i]["stored"] != store.STORED_DELETED:
                raise
            stored = store.STORED_DELETED
        else:
            off, length = int(row["spec_off"]), int(row["spec_len"])
            fit(view.json(off, length), view.blob(off, length), tensors,
                stored=f"member {i} ({weights_path(path, i)})")
            return tensors
    if stored == store.STORED_DELETED:
        raise MissingWeightsError(f"weights of member {i} were deleted after it was retired; "
                                  "only its metadata and rating remain")
    return {}


class Pool:
    """The on-disk store of all members; build one with ``Pool.create`` or ``Pool.open``.

    Use as a context manager (or call ``close``).  Readers see the writer's commits: every
    query first re-reads the (tiny) commit record and reloads the tables when it moved.
    """

    # ---------------------------------------------------------------- opening and closing

    def __init__(self, session: Session, check_weights: WeightsCheck | None = None) -> None:
        """Internal; use ``Pool.create`` or ``Pool.open``."""
        self.path = session.path
        self.mode = session.mode
        self._s = session
        self._view = session.view
        self._fit = WeightsFit(check_weights)

    @classmethod
    def create(cls, path: str | os.PathLike[str], *, game: str, roles: Sequence[str],
               mu: float = 25.0, sigma: float = 25.0 / 3.0, fsync: bool = False,
               check_weights: WeightsCheck | None = None) -> Pool:
        """Create an empty pool directory and open it for writing (mode ``"a"``).

        ``mu``/``sigma``: every new member's rating.  ``fsync``, ``check_weights``: see ``Pool.open``.
        """
        root = Path(path)
        check_create(game, roles, mu, sigma)
        check_new_dir(root)
        header = store.Header(store.SCHEMA_VERSION, game, tuple(roles), float(mu), float(sigma))
        return cls(Session.create(root, header, fsync=fsync), check_weights)

    @classmethod
    def open(cls, path: str | os.PathLike[str], mode: Literal["r", "a"] = "r", *, fsync: bool = False,
             check_weights: WeightsCheck | None = None) -> Pool:
        """Open an existing pool: ``"r"`` to read (many readers), ``"a"`` to write (one writer).

        Whatever moment the writer process dies, the pool stays whole.  ``fsync=True`` makes
        every commit also survive a power cut or OS crash, at the cost of a disk sync per write.
        ``check_weights(spec, weights)`` raises ``WeightsShapeError`` when weights do not fit a
        spec (see ``WeightsCheck``); adds and loads run it.  Default: ``league.models.check_weights``.
        """
        root = Path(path)
        check_open(root, mode)
        return cls(Session.open(root, mode, fsync=fsync), check_weights)

    def close(self) -> None:
        """Commit anything pending, close the index and release the writer lock."""
        self._s.close()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._s.closed else f"{self._view.rows.n} members"
        return f"Pool({str(self.path)!r}, mode={self.mode!r}, {state})"

    # ---------------------------------------------------------------- properties

    @property
    def game(self) -> str:
        """The game this pool's members play."""
        return self._view.header.game

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles declared at creation."""
        return self._view.header.roles

    @property
    def initial_mu(self) -> float:
        """mu of a new member."""
        return self._view.header.initial_mu

    @property
    def initial_sigma(self) -> float:
        """sigma of a new member."""
        return self._view.header.initial_sigma

    @property
    def state(self) -> dict[str, Any]:
        """The orchestrator's run state as last committed ({} before the first)."""
        self._s.sync()
        return self._view.state()

    def __len__(self) -> int:
        self._s.sync()
        return self._view.rows.n

    # ---------------------------------------------------------------- queries

    def member(self, member_id: int) -> Member:
        """The member with that id (retired ones included)."""
        self._s.sync()
        i = self._check_id(member_id)
        m = self._view.members_cache[i]
        return m if m is not None else self._view.build([i])[0]

    def members(self, role: str | None = None) -> list[Member]:
        """The all index (every member ever added), by id; optionally one role's."""
        self._s.sync()
        return self._view.select(None if role is None else self._role_index(role), active=False)

    def active(self, role: str | None = None) -> list[Member]:
        """The active index (members opponents are sampled from), by id; optionally one role's."""
        self._s.sync()
        return self._view.select(None if role is None else self._role_index(role), active=True)

    def weights(self, member_id: int) -> dict[str, torch.Tensor]:
        """A member's weights exactly as added (same dtypes, bit-identical); {} if weightless.

        The file is checked against the digest recorded when it was added: a damaged one raises
        ``WeightsCorruptError`` (a ``PoolCorruptError``) naming the member, the file and both
        digests.  Members added before digests were recorded load unverified (``unverified``).
        """
        self._s.sync()
        return _read_weights(self._s, self._view, self.path, self._check_id(member_id), self._fit)

    def digest(self, member_id: int) -> str | None:
        """The recorded digest of a member's weights file (``"xxh3_128:<hex>"``, or a bare BLAKE2b
        hex when added under schema 2); None when it has no file, or was added to a pool of
        schema 1 (unverified)."""
        self._s.sync()
        row = self._view.rows.buf[self._check_id(member_id)]
        return (row["digest"].decode() or None) if row["stored"] == store.STORED_FILE else None

    def unverified(self) -> list[int]:
        """Members with a weights file but no recorded digest: added before schema 2 (digests),
        so a load cannot tell a damaged file from a good one."""
        self._s.sync()
        rows = self._view.rows.view()
        return np.flatnonzero((rows["stored"] == store.STORED_FILE) & (rows["digest"] == b"")).tolist()

    def matches(self, start: int = 0) -> list[MatchRecord]:
        """The match log from index ``start`` on."""
        self._s.sync()
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        return self._view.match_records(start)

    def refresh(self) -> None:
        """Pick up the writer's latest commit now (queries do this by themselves)."""
        self._s.sync()

    # ---------------------------------------------------------------- writes

    def add(self, role: str, weights: Mapping[str, torch.Tensor | np.ndarray], *,
            spec: Mapping[str, Any], hparams: Mapping[str, Any], step: int,
            parent: int | None = None, anchor: bool = False,
            state: Mapping[str, Any] | None = None) -> Member:
        """Add a member (weights file first, then its committed row); returns it.

        Everything is checked before anything is written: the role, the parent, that the
        weights fit ``spec`` (``check_weights``), that hparams/state are JSON.
        ``state`` (the run state) is committed together with the row.
        """
        return self.add_many([dict(role=role, weights=weights, spec=spec, hparams=hparams, step=step,
                                   parent=parent, anchor=anchor)], state=state)[0]

    def add_many(self, entries: Iterable[Mapping[str, Any]], *,
                 state: Mapping[str, Any] | None = None) -> list[Member]:
        """Add several members in one commit (all or none); returns them in order.

        Each entry holds ``add``'s arguments by name: ``role, weights, spec, hparams, step`` and
        optionally ``parent`` (an existing id, or the id of an earlier entry) and ``anchor``.
        For imports and big pools: one commit instead of one per member.
        """
        writer = self._s.writable()
        n0 = self._view.rows.n
        prepared = [new_member(k, e, n0=n0, roles=self.roles, path=self.path, fit=self._fit)
                    for k, e in enumerate(entries)]
        state_b = None if state is None else encode_state(state)
        if not prepared:
            return []
        writer.add(prepared, state_b)
        return self._view.materialize(range(n0, n0 + len(prepared)))

    def retire(self, member_id: int, reason: str) -> Member:
        """Take a member out of the active index (it stays in the all index). Idempotent."""
        return self.retire_many([member_id], reason)[0]

    def retire_many(self, member_ids: Iterable[int], reason: str) -> list[Member]:
        """Retire several members in one commit (for pruning); already retired ones keep
        their first reason."""
        writer = self._s.writable()
        ids = [self._check_id(m) for m in member_ids]
        if not isinstance(reason, str):
            raise ValueError(f"reason must be a string, got {reason!r}")
        todo = sorted({i for i in ids if self._view.rows.buf[i]["active"]})
        if todo:
            writer.retire(todo, store.json_bytes(reason))
        return self._view.materialize(ids)

    def delete_weights(self, member_id: int) -> None:
        """Delete a retired, non-anchor member's weights file to save disk (metadata stays)."""
        writer = self._s.writable()
        i = self._check_id(member_id)
        row = self._view.rows.buf[i]
        if row["anchor"]:
            raise PoolError(f"member {i} is an anchor; anchors keep their weights")
        if row["active"]:
            raise PoolError(f"member {i} is active; retire it before deleting its weights")
        if row["stored"] == store.STORED_FILE:
            writer.delete_weights(i)

    def record_match(self, seats: Sequence[str], member_ids: Sequence[int], ranks: Sequence[int],
                     ratings: Sequence[tuple[float, float]], *, seed: int | None = None,
                     kind: str = "eval", state: Mapping[str, Any] | None = None,
                     returns: Sequence[float] | None = None, episodes: int = 1) -> MatchRecord:
        """Log a match and set the seated members' new ratings, in one commit.

        ``ratings`` are the new (mu, sigma) per seat, computed by the caller.  Each distinct
        member's ``games`` goes up by one; a member seated twice takes its last seat's rating.
        ``returns`` (each seat's member's summed return) and ``episodes`` (how many the match
        was played over) go in the log so that its ratings can be recomputed from it.
        """
        writer = self._s.writable()
        doc = match_doc(seats, member_ids, ranks, ratings, seed, kind, games=self._view.rows.view()["games"],
                        path=self.path, returns=returns, episodes=episodes)
        state_b = None if state is None else encode_state(state)
        k = writer.log_match(store.json_bytes(doc), state_b)
        # Committed: the log now holds the post-match values; copying them into the rows
        # can be redone from it whenever this step does not finish.
        with writer.guard("apply the match's ratings",
                          committed="the match is committed, and its ratings are applied when the pool is opened again"):
            self._apply_post(doc["post"], write=True)
        return self.matches(k)[0]

    def _apply_post(self, post: list[list[Any]], *, write: bool) -> None:
        """Set a logged match's post-match values in the rows (``write``: and, with the next
        commit, in the file).  ``record_match``'s step after its commit: a crash here is the
        one the write-ahead log repairs, and a test simulates it by replacing this method."""
        if write:
            self._s.writable().apply_latest(post)
        else:   # nothing calls this: readers and recovery apply the log through IndexView
            apply_post(self._view.rows.buf, post)

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Commit the orchestrator's run state (a JSON-able dict)."""
        writer = self._s.writable()
        writer.set_state(encode_state(state))

    # ---------------------------------------------------------------- internals

    def _check_id(self, member_id: Any) -> int:
        return check_id(member_id, self._view.rows.n, self.path)

    def _role_index(self, role: Any) -> int:
        return role_index(self.roles, role)
