"""A pool opened read-only (``mode="r"``): following the writer's commits, with retries.

Any number of readers open ``index.h5`` with HDF5 SWMR, also while the writer appends.  Before
each query the pool asks its ``Reader`` to ``sync``: re-read the (tiny) commit record and, when
it moved, load what was committed since into the shared ``IndexView``.  A reader races a live
writer, so it can catch a row mid-rewrite or a file that a recovering writer is about to
replace (``league.pool.recovery``); such a view heals within milliseconds, so a failed
validation is retried before it is reported as corruption, and a replaced file (a new inode)
is followed by opening it afresh.  A file that is really damaged fails every attempt.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from league.errors import PoolCorruptError, PoolNotFoundError
from league.pool import store
from league.pool.view import IndexView, apply_post

__all__ = ["Reader"]

_READ_RETRIES = 8  # a reader's view torn by a live writer heals within milliseconds


class Reader:
    """The read-only file of one pool and the sync of its view with the writer's commits."""

    def __init__(self, path: Path, view: IndexView) -> None:
        self.path = path
        self.view = view
        self.f: h5py.File | None = None
        self.ds: dict[str, Any] = {}
        self.ino = -1   # inode of the index we have open: a rebuilt index has a new one

    def open(self) -> None:
        """Open the index and load it into the view."""
        # Retried like sync: the first read can race a live writer just as a refresh can.
        for attempt in range(_READ_RETRIES):
            try:
                return self._open_once()
            except PoolCorruptError:
                self.close()
                if attempt == _READ_RETRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))

    def close(self) -> None:
        if self.f is not None:
            try:
                self.f.close()
            except Exception:  # closing must not hide the error that made us close
                pass
            self.f = None

    def sync(self) -> None:
        """Pick up the writer's latest commit (cheap when nothing changed)."""
        for attempt in range(_READ_RETRIES):
            try:
                return self._sync_once()
            except PoolCorruptError:
                if attempt == _READ_RETRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))

    def _open_once(self) -> None:
        index = self.view.index
        try:
            self.ino = os.stat(index).st_ino
            self.f = store.open_reader(index)
        except FileNotFoundError:
            raise PoolNotFoundError(f"no pool at {self.path} ({store.INDEX_FILE} missing)") from None
        snap = store.read_snapshot(self.f, index)
        self.ds = store.datasets(self.f, index, snap.header.schema_version)
        self.view.install(snap, self.ds["blobs"], reader=True)

    def _sync_once(self) -> None:
        index = self.view.index
        try:
            ino = os.stat(index).st_ino
        except FileNotFoundError:
            ino = self.ino
        if ino != self.ino:  # a recovering writer replaced index.h5: follow it
            self.close()
            self.open()
            return
        commit = store.read_commit(self.ds["counts"], index, refresh=True)
        if commit.gen == self.view.commit.gen:
            return
        self._reload(commit)

    def _reload(self, commit: store.Commit) -> None:
        """Load what ``commit`` added or changed since the view's commit."""
        v, ds, index = self.view, self.ds, self.view.index
        try:
            for name in ("members", "matches", "blobs"):
                ds[name].refresh()
            rows = store.read_members(ds["members"], commit.n_members, v.header.schema_version)
            if commit.n_blobs > len(v.blobs):
                v.blobs += ds["blobs"][len(v.blobs): commit.n_blobs].tobytes()
            if commit.n_matches > v.match_rows.n:
                for row in ds["matches"][v.match_rows.n: commit.n_matches]:
                    v.match_rows.append(row)
        except (OSError, ValueError, RuntimeError) as exc:
            raise PoolCorruptError(f"pool index {index} could not be re-read ({exc})") from None
        store.check_rows(rows, v.header, store.read_commit(ds["counts"], index, refresh=True).n_blobs, index)
        v.commit = commit
        v.n_matches = commit.n_matches
        v.applied = commit.applied
        v.state_ptr = (commit.state_off, commit.state_len)
        for post in v.pending_posts():   # logged matches not yet in the rows
            apply_post(rows, post)
        # Update the one rows buffer in place rather than adopting the fresh array: members
        # built at different times would otherwise keep every old array alive (12 MB each at
        # 100k members).  Rows never go away, so ``rows`` extends the buffer.
        n_old = v.rows.n
        changed = np.flatnonzero(v.rows.view() != rows[:n_old]).tolist()
        v.forget(changed)
        v.rows.buf[changed] = rows[changed]
        v.rows.extend(rows[n_old:])
        v.members_cache.extend([None] * (len(rows) - n_old))
        v.fetch_referenced()
