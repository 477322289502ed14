"""The in-memory copy of a pool index's committed contents, shared by its reader or writer.

``IndexView`` holds the members and match tables as numpy arrays, the JSON heap as bytes, the
commit record it mirrors and the ``Member`` objects handed out so far.  ``league.pool.reader``
refreshes it from the file; ``league.pool.writer`` changes it and then writes it out;
``league.pool.core`` answers queries from it.  ``apply_post`` is the one place that copies a
logged match's post-match ratings into the rows: the writer after logging a match, a
recovering writer, and readers loading or refreshing the index all go through it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from league.errors import PoolCorruptError
from league.pool import store
from league.pool.members import EPOCH, MEMBER_FIELDS, JsonHeap, MatchRecord, Member, RowSource, build_members

__all__ = ["Growable", "IndexView", "apply_post", "now_us"]


def now_us() -> int:
    """Now, in the index's time unit (microseconds since the Unix epoch)."""
    return time.time_ns() // 1000


class Growable:
    """A numpy structured array with amortised O(1) append (the in-memory copy of a table).

    ``copy=False`` adopts ``data`` itself (readers: no spare room, no 2x allocation).
    """

    def __init__(self, data: np.ndarray, *, copy: bool = True):
        if copy:
            self.buf = np.zeros(max(16, 2 * len(data)), dtype=data.dtype)
            self.buf[: len(data)] = data
        else:
            self.buf = data
        self.n = len(data)

    def extend(self, data: np.ndarray) -> None:
        end = self.n + len(data)
        if end > len(self.buf):
            grown = np.zeros(max(16, 2 * len(self.buf), end), dtype=self.buf.dtype)
            grown[: self.n] = self.buf[: self.n]
            self.buf = grown
        self.buf[self.n: end] = data
        self.n = end

    def append(self, row: np.ndarray) -> None:
        if self.n == len(self.buf):
            grown = np.zeros(max(16, 2 * len(self.buf)), dtype=self.buf.dtype)
            grown[: self.n] = self.buf[: self.n]
            self.buf = grown
        self.buf[self.n] = row
        self.n += 1

    def view(self) -> np.ndarray:
        return self.buf[: self.n]


def apply_post(rows: np.ndarray, post: Sequence[Sequence[Any]]) -> None:
    """Set one logged match's post-match ``[id, mu, sigma, games]`` values in ``rows``.

    The caller makes sure no lazy ``Member`` still reads the rows it changes (a freshly loaded
    array, or ``IndexView.forget`` first).
    """
    for mid, mu, sigma, games in post:
        rows["mu"][mid], rows["sigma"][mid], rows["games"][mid] = mu, sigma, games


class IndexView:
    """The committed contents of one ``index.h5`` in memory, plus the members built from them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.index = path / store.INDEX_FILE
        self.header = store.Header(store.SCHEMA_VERSION, "", (), 25.0, 25.0 / 3.0)  # until install
        self.commit = store.Commit()
        self.rows = Growable(np.zeros(0, store.MEMBER_DTYPE))
        self.match_rows = Growable(np.zeros(0, store.MATCH_DTYPE))
        self.blobs = bytearray()
        self.heap = JsonHeap(self.blobs)
        self.blobs_ds: h5py.Dataset | None = None   # where a reader fetches a lagging heap tail
        self.n_matches = 0      # logged matches (the writer's may run ahead of ``commit``)
        self.applied = 0        # matches [0, applied) are in the rows' mu/sigma/games
        self.state_ptr = (0, 0)
        self.members_cache: list[Member | None] = []
        self.match_cache: list[MatchRecord] = []

    @property
    def roles(self) -> tuple[str, ...]:
        return self.header.roles

    def install(self, snap: store.Snapshot, blobs_ds: h5py.Dataset, *, reader: bool) -> None:
        """Make a snapshot the current view (``reader``: adopt its arrays, no spare room)."""
        self.header = snap.header
        self.commit = snap.commit
        self.rows = Growable(snap.rows, copy=not reader)
        self.match_rows = Growable(snap.matches, copy=not reader)
        self.blobs = bytearray(snap.blobs)
        self.heap = JsonHeap(self.blobs)
        self.blobs_ds = blobs_ds
        self.n_matches = snap.commit.n_matches
        self.applied = snap.commit.applied
        self.state_ptr = (snap.commit.state_off, snap.commit.state_len)
        for post in self.pending_posts():   # no Member refers to these fresh rows yet
            apply_post(self.rows.buf, post)
        if reader:
            self.fetch_referenced()
        self.members_cache = [None] * self.rows.n
        self.match_cache = []

    def pending_posts(self) -> Iterator[list[list[Any]]]:
        """The post-match values of logged matches not yet copied into the rows, in order."""
        for k in range(self.applied, self.n_matches):
            m = self.match_rows.buf[k]
            yield json.loads(self.blob(int(m["off"]), int(m["len"])))["post"]

    # ---------------------------------------------------------------- the JSON heap

    def fetch_blobs(self, end: int) -> None:
        """Make sure the heap holds bytes [0, end) (readers only ever lack a committed tail)."""
        if end > len(self.blobs) and self.blobs_ds is not None:
            # A reader may see a row rewritten after its commit record was read; the blob it
            # names was committed before the row changed, so it is in the file.
            ds = self.blobs_ds
            ds.refresh()
            self.blobs += ds[len(self.blobs): end].tobytes()

    def fetch_referenced(self) -> None:
        """Readers: load every blob a row names (rows may be newer than the commit record)."""
        rows = self.rows.view()
        if len(rows):
            ends = np.maximum(np.maximum(rows["spec_off"] + rows["spec_len"], rows["hparams_off"] + rows["hparams_len"]),
                              rows["reason_off"] + rows["reason_len"])
            self.fetch_blobs(int(ends.max()))

    def blob(self, off: int, length: int) -> bytes:
        self.fetch_blobs(off + length)
        return bytes(self.blobs[off: off + length])

    def json(self, off: int, length: int) -> Any:
        """Decoded, frozen JSON blob, cached by offset (specs and hparams are shared)."""
        self.fetch_blobs(off + length)
        return self.heap.get(off, length)

    def state(self) -> dict[str, Any]:
        """The run state the view's commit names ({} before the first)."""
        if self.state_ptr[1] == 0:
            return {}
        try:
            return json.loads(self.blob(*self.state_ptr))  # type: ignore[no-any-return]
        except ValueError as exc:
            raise PoolCorruptError(f"pool index {self.index}: the run state is damaged ({exc}); "
                                   f"restore index.h5 from a backup (python -m league.verify "
                                   f"{self.path} lists the damage)") from None

    # ---------------------------------------------------------------- members and matches

    def materialize(self, idx: Iterable[int]) -> list[Member]:
        """The members of rows ``idx``, built on first request and cached."""
        idx = list(idx)
        cache = self.members_cache
        missing = [i for i in idx if cache[i] is None]
        if missing:
            self.build(missing)
        return [cache[i] for i in idx]  # type: ignore[misc]

    def select(self, role: int | None, *, active: bool) -> list[Member]:
        """Every member (``active``: only active ones), by id; optionally only role ``role``'s."""
        rows = self.rows.view()
        if role is None and not active:
            return self.materialize(range(len(rows)))
        mask = rows["active"] == 1 if active else np.ones(len(rows), dtype=bool)
        if role is not None:
            mask &= rows["role"] == role
        return self.materialize(np.flatnonzero(mask).tolist())

    def build(self, idx: list[int]) -> list[Member]:
        """Member objects for rows ``idx``, cached; their fields load on first use.
        (The JSON they may decode is in memory: see ``fetch_referenced``.)"""
        return build_members(idx, RowSource(self.rows.buf, self.heap, self.roles), self.members_cache)

    def forget(self, ids: Iterable[int]) -> None:
        """Call *before* changing rows in memory: drop their cached Members.

        A Member handed out earlier may not have read its row yet (lazy); it reads it now,
        so it keeps the values it had when handed out.  Later queries build new Members.
        """
        cache = self.members_cache
        for i in ids:
            m = cache[i]
            if m is not None:
                for name in MEMBER_FIELDS:
                    getattr(m, name)
                cache[i] = None

    def match_records(self, start: int) -> list[MatchRecord]:
        """The logged matches from ``start`` on, decoded once and cached."""
        n = self.n_matches
        for k in range(len(self.match_cache), n):
            row = self.match_rows.view()[k]
            try:
                doc = json.loads(self.blob(int(row["off"]), int(row["len"])))
            except ValueError as exc:
                raise PoolCorruptError(f"pool index {self.index}: match {k} of the log is damaged ({exc}); "
                                       f"restore index.h5 from a backup (python -m league.verify "
                                       f"{self.path} lists the damage)") from None
            self.match_cache.append(MatchRecord(
                k, _to_datetime(int(row["time_us"])), tuple(doc["seats"]), tuple(doc["member_ids"]),
                tuple(doc["ranks"]), doc["seed"], doc["kind"],
                None if doc.get("returns") is None else tuple(doc["returns"]), int(doc.get("episodes", 1))))
        return self.match_cache[start:n]


def _to_datetime(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)
