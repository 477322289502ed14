"""The pool's writer: the commit protocol that keeps every member whole whatever moment it dies.

``Writer`` owns the read-write ``index.h5`` of a pool opened with ``mode="a"`` and changes the
shared ``IndexView`` (``league.pool.view``) only in this order:

1. a new member's weights are written to a temporary name and ``os.replace``d into place;
2. its row (and JSON blobs) are written past the committed end of the tables (which grow by
   whole HDF5 chunks) and flushed;
3. the commit record (counts) is bumped and flushed.  Readers trust only committed counts.

``log_match`` + ``apply_latest`` are ``record_match``'s write-ahead log: the match row carries
the seated members' post-match mu/sigma/games and is committed first; copying those values into
the member rows can then be redone from the log (``apply_pending``, by a recovering writer; and
by readers, see ``IndexView.install``) whenever it did not finish.

The writer checks nothing about its arguments: ``league.pool.core.Pool`` validates every call
completely before it reaches here, so that a bad call writes nothing.

A write that fails (``ENOSPC``: the disk is full; ``EIO``; ...) raises ``PoolWriteError``.  Each
operation first checks that the file system has room for what it writes plus a margin
(``league.pool.failures``): on a nearly full disk it refuses before writing anything, and the pool stays
usable once space is freed.  A failure past that point happened before the operation's commit
record was written, so the pool on disk is as it was before the operation; the writer then
rolls its in-memory view back to that commit, removes the weights files it had just written,
and refuses further writes (the HDF5 library's state after a failed write is not trusted):
the pool must be opened again, which recovers it like a dead writer's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from league.pool import store
from league.pool.failures import WriteGuard, ensure_room, write_error
from league.pool.tables import TableFile
from league.pool.view import IndexView, apply_post, now_us
from league.pool.weights import WEIGHTS_DIR, save_weights, weights_path

if TYPE_CHECKING:
    import torch

__all__ = ["NewMember", "Writer"]

_DEDUPE_MAX = 4096  # blobs up to this size are deduplicated (specs and hparams repeat)


@dataclass(frozen=True)
class NewMember:
    """One member to add, already validated and encoded by the pool."""

    role: int                           # index into the pool's roles
    parent: int                         # -1: none
    step: int
    spec_b: bytes                       # canonical JSON (``store.json_bytes``)
    hparams_b: bytes
    tensors: Mapping[str, torch.Tensor]  # {} for a weightless member
    anchor: bool


class Writer:
    """The single writer of one pool directory (the caller holds ``league.pool.lock``)."""

    def __init__(self, path: Path, view: IndexView, *, fsync: bool) -> None:
        self.path = path
        self.view = view
        self.fsync = bool(fsync)
        self.file: TableFile | None = None
        self.dedupe: dict[bytes, tuple[int, int]] = {}
        self.dirty: set[int] = set()       # member rows changed in memory, not yet in the file
        self.next_version: list[int] = []  # per role
        self.broken: str | None = None     # why an earlier write failed halfway
        self.active_guard: WriteGuard | None = None
        self.gen_written = 0               # the newest commit generation written to the file

    # ---------------------------------------------------------------- opening and closing

    def create(self, header: store.Header) -> None:
        """Start a new pool in the (locked) directory: an empty index, then open it.

        The index is written whole under a temporary name and renamed into place, so a pool
        directory never holds a partial one.
        """
        tmp = self.path / (store.INDEX_FILE + ".create.tmp")
        try:
            self.ensure_room(0, "create")
            (self.path / WEIGHTS_DIR).mkdir(exist_ok=True)
            store.write_index(tmp, store.empty_snapshot(header))
            os.replace(tmp, self.view.index)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise write_error(exc, self.path, "create") from exc
        self.open(store.empty_snapshot(header))

    def open(self, snap: store.Snapshot) -> None:
        """Open the index in place for writing, with ``snap`` (its contents) as the view.

        Raises ``store.IndexBusyError`` when it cannot be opened in place (see
        ``league.pool.recovery``).
        """
        self.file = TableFile(self.view.index, fsync=self.fsync)
        self.view.install(snap, self.file.ds["blobs"], reader=False)
        self.gen_written = snap.commit.gen
        self.dirty = set()
        roles = self.view.roles
        self.next_version = [0] * len(roles)
        rows = snap.rows
        if len(rows):
            self.next_version = [int(c) for c in np.bincount(rows["role"], minlength=len(roles))]
        blobs = self.view.blobs
        for col in ("spec", "hparams"):   # so re-adding a known spec reuses its blob
            offs, first = np.unique(rows[col + "_off"], return_index=True)
            for off, j in zip(offs.tolist(), first.tolist()):
                ln = int(rows[col + "_len"][j])
                if ln <= _DEDUPE_MAX:
                    self.dedupe[bytes(blobs[off: off + ln])] = (off, ln)

    def finish(self) -> None:
        """Commit anything pending (unless an earlier write broke the writer)."""
        v = self.view
        if self.file is not None and self.broken is None and (v.applied != v.n_matches or self.dirty):
            with self.guard("close"):
                self.commit()

    def close(self) -> None:
        """Close the file without committing (``finish`` first to keep pending changes)."""
        if self.file is not None:
            self.file.close(failed=self.broken is not None)
            self.file = None

    def guard(self, what: str = "write", *, committed: str | None = None) -> WriteGuard:
        """Wrap each change: a failure halfway rolls the view back to the last commit, marks the
        writer broken and raises ``PoolWriteError`` for an ``OSError`` (``committed``: what the
        error says was committed already)."""
        return WriteGuard(self, what, committed)

    def ensure_room(self, nbytes: int, what: str) -> None:
        """Refuse, before writing anything, an operation the file system has no room for."""
        ensure_room(self.path, nbytes, what)

    # ---------------------------------------------------------------- operations

    def add(self, entries: list[NewMember], state_b: bytes | None) -> int:
        """Add members in one commit (weights files first); returns the first new id."""
        v = self.view
        n0 = v.rows.n
        self.ensure_room(sum(t.numel() * t.element_size() for e in entries for t in e.tensors.values()),
                         "add members")
        with self.guard("add") as g:
            # Weights files first: a committed row must never name a missing file.
            digests: dict[int, str] = {}
            for k, e in enumerate(entries):
                if e.tensors:
                    g.new_files.append(weights_path(self.path, n0 + k))
                    # The file is complete before it gets its final name (save_weights), and
                    # the row naming it, with its digest, is committed only after that.
                    digests[k] = save_weights(weights_path(self.path, n0 + k), e.tensors, fsync=self.fsync)
            now = now_us()
            for k, e in enumerate(entries):
                row = np.zeros((), dtype=store.MEMBER_DTYPE)
                row["role"] = e.role
                row["version"] = self.next_version[e.role]
                self.next_version[e.role] += 1
                row["parent"] = e.parent
                row["step"] = e.step
                row["created_us"] = now
                row["spec_off"], row["spec_len"] = self.put_blob(e.spec_b)
                row["hparams_off"], row["hparams_len"] = self.put_blob(e.hparams_b)
                row["mu"], row["sigma"], row["games"] = v.header.initial_mu, v.header.initial_sigma, 0
                row["active"], row["anchor"] = 1, int(e.anchor)
                row["stored"] = store.STORED_FILE if e.tensors else store.STORED_NONE
                row["digest"] = digests.get(k, "").encode()
                v.rows.append(row)
                v.members_cache.append(None)
                self.dirty.add(n0 + k)
            if state_b is not None:
                v.state_ptr = self.put_blob(state_b)
            self.commit()
        return n0

    def retire(self, ids: list[int], reason_b: bytes) -> None:
        """Take active members ``ids`` out of the active index, with one reason."""
        self.ensure_room(len(reason_b), "retire members")
        with self.guard("retire"):
            off, length = self.put_blob(reason_b)
            # The reason is committed before any row points at it: a reader may see a row
            # change at any flush, and must then find the blob it names.
            self.commit()
            self.touch(ids)
            rows = self.view.rows.buf
            rows["active"][ids] = 0
            rows["reason_off"][ids] = off
            rows["reason_len"][ids] = length
            self.commit()

    def delete_weights(self, i: int) -> None:
        """Mark member ``i``'s weights deleted, then delete its file."""
        with self.guard("delete weights"):
            self.touch([i])
            self.view.rows.buf["stored"][i] = store.STORED_DELETED
            self.commit()  # the row says "deleted" before the file goes: never a dangling row
            weights_path(self.path, i).unlink(missing_ok=True)

    def log_match(self, doc_b: bytes, state_b: bytes | None) -> int:
        """Commit a match row (its document carries the post-match values); returns its index.

        The member rows are not changed yet: ``apply_latest`` does that next.
        """
        v = self.view
        self.ensure_room(len(doc_b) + len(state_b or b""), "record a match")
        with self.guard("record a match"):
            k = v.n_matches
            mrow = np.zeros((), dtype=store.MATCH_DTYPE)
            mrow["time_us"] = now_us()
            mrow["off"], mrow["len"] = self.put_blob(doc_b, dedupe=False)
            if state_b is not None:
                v.state_ptr = self.put_blob(state_b)
            v.match_rows.append(mrow)
            self._file().write_span("matches", k, v.match_rows.buf[k: k + 1])
            v.n_matches = k + 1
            self.commit()
        return k

    def apply_latest(self, post: list[list[Any]]) -> None:
        """Copy the just-logged match's post-match values into the rows.

        They reach the file with the next commit (or close), which also moves ``applied``;
        until then readers and a recovering writer re-apply them from the log.
        """
        self.touch(p[0] for p in post)
        apply_post(self.view.rows.buf, post)
        self.view.applied = self.view.n_matches

    def apply_pending(self) -> None:
        """Finish what a dead writer's last match began: apply logged values, commit."""
        v = self.view
        with self.guard("finish the last logged match"):
            for post in v.pending_posts():
                self.touch(p[0] for p in post)
                apply_post(v.rows.buf, post)
            v.applied = v.n_matches
            self.commit()

    def set_state(self, state_b: bytes) -> None:
        """Commit a new run state."""
        self.ensure_room(len(state_b), "save the run state")
        with self.guard("save the run state"):
            self.view.state_ptr = self.put_blob(state_b)
            self.commit()

    # ---------------------------------------------------------------- the commit protocol

    def put_blob(self, data: bytes, *, dedupe: bool = True) -> tuple[int, int]:
        """Append a JSON document to the heap (past the committed end) -> (offset, length)."""
        if dedupe and len(data) <= _DEDUPE_MAX:
            hit = self.dedupe.get(data)
            if hit is not None:
                return hit
        blobs = self.view.blobs
        off = len(blobs)
        self._file().write_span("blobs", off, np.frombuffer(data, dtype="u1"))
        blobs += data
        if dedupe and len(data) <= _DEDUPE_MAX:
            self.dedupe[data] = (off, len(data))
            if self.active_guard is not None:
                self.active_guard.new_blobs.append(data)
        return off, len(data)

    def touch(self, ids: Iterable[int]) -> None:
        """Call *before* changing rows in memory: they go to the file with the next commit."""
        ids = list(ids)
        g = self.active_guard
        if g is not None:   # what to restore if this operation fails
            rows = self.view.rows.buf
            for i in ids:
                if i < g.n_rows and i not in g.old_rows:
                    g.old_rows[i] = rows[i].copy()
        self.dirty.update(ids)
        self.view.forget(ids)

    def _write_dirty_rows(self) -> None:
        if not self.dirty:
            return
        rows = self.view.rows.buf
        ids = sorted(self.dirty)
        # Contiguous runs go out as one write each (appends, batches); scattered ones alone.
        run_start = prev = ids[0]
        for i in ids[1:] + [-2]:
            if i != prev + 1:
                self._file().write_span("members", run_start, rows[run_start: prev + 1])
                run_start = i
            prev = i
        self.dirty.clear()

    def commit(self) -> None:
        """Write pending rows, flush, then bump the commit record and flush it.

        The first flush puts every row and blob on disk before the record that makes them
        visible; the alternating, checksummed record slot keeps the previous commit readable
        if a crash tears this write.
        """
        v, f = self.view, self._file()
        self._write_dirty_rows()
        c = store.Commit(v.commit.gen + 1, v.rows.n, v.n_matches, len(v.blobs),
                         v.applied, v.state_ptr[0], v.state_ptr[1])
        f.flush()
        self.gen_written = c.gen   # before the write: a failed one may have landed all the same
        f.write_commit(c)
        f.flush()
        v.commit = c

    def _file(self) -> TableFile:
        if self.file is None:  # the pool only writes through an open writer
            raise RuntimeError("the pool's writer is not open")
        return self.file
