"""The league pool: every member (checkpoint) of every role, its rating, weights and matches.

A pool is a directory::

    index.h5                   members table (all index, ``active`` column = active index),
                               match log, run state, schema version; see ``league.pool.store``
    weights/<id>.safetensors   one immutable weights file per member (weightless anchors: none)
    writer.lock                ``flock``ed by the single writer; the OS drops it when it dies

One process writes (``mode="a"``); any number read (``mode="r"``, HDF5 SWMR), also while the
writer appends.  A member is either fully there or absent whatever moment the writer dies:

1. its weights are written to a temporary name and ``os.replace``d into place;
2. its row (and JSON blobs) are written past the committed end of the tables and flushed;
3. the commit record (counts) is bumped and flushed.  Readers trust only committed counts.

``record_match`` is a write-ahead log: the match row carries the seated members' post-match
mu/sigma/games and is committed first; copying those values into the member rows can then be
redone from the log (by readers and by a recovering writer) whenever it did not finish.

A writer killed with ``index.h5`` open leaves the file flagged "open for write"; the next writer
(holding the lock, so the old one is certainly dead) rebuilds the index from its committed
contents into a temporary file and replaces it, keeping a hard-linked backup until done.  (It
does the same when this process has the index open read-only, which HDF5 forbids to combine
with a read-write open.)  Readers notice the new file and follow it.

Members are frozen snapshots.  Those the pool hands out load their fields lazily from the
rows they were built from, so that listing 100k members stays fast.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
import safetensors
import torch

from league.pool import store
from league.errors import (ConfigError, MissingWeightsError, PoolCorruptError, PoolError,
                           PoolExistsError, PoolLockedError, PoolNotFoundError, PoolReadOnlyError,
                           UnknownMemberError, UnknownRoleError, WeightsShapeError)
from league.models import expected_shapes
from league.pool.members import EPOCH, MEMBER_FIELDS, JsonHeap, MatchRecord, Member, RowSource, build_members
from league.pool.weights import load_weights, save_weights

__all__ = ["Member", "MatchRecord", "Pool"]

_INDEX = "index.h5"
_LOCK = "writer.lock"
_WEIGHTS = "weights"
_READ_RETRIES = 8  # a reader's view torn by a live writer heals within milliseconds
_DEDUPE_MAX = 4096  # blobs up to this size are deduplicated (specs and hparams repeat)
_REQUIRED = frozenset({"role", "weights", "spec", "hparams", "step"})   # add_many entry keys
_OPTIONAL = frozenset({"parent", "anchor"})


def _now_us() -> int:
    return time.time_ns() // 1000


def _to_datetime(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def _encode(what: str, obj: Any) -> bytes:
    try:
        return store.json_bytes(obj)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what} must be JSON-serializable without NaN/inf ({exc}); got {obj!r:.200}") from None


class _Growable:
    """A numpy structured array with amortised O(1) append (the writer's copy of a table).

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


class Pool:
    """The on-disk store of all members; build one with ``Pool.create`` or ``Pool.open``.

    Use as a context manager (or call ``close``).  Readers see the writer's commits: every
    query first re-reads the (tiny) commit record and reloads the tables when it moved.
    """

    # ---------------------------------------------------------------- opening and closing

    def __init__(self, path: Path, mode: Literal["r", "a"], lock_fd: int | None, fsync: bool = False) -> None:
        """Internal; use ``Pool.create`` or ``Pool.open``."""
        self.path = path
        self.mode = mode
        self._fsync = bool(fsync)
        self._lock_fd = lock_fd
        self._f: Any = None
        self._ds: dict[str, Any] = {}
        self._ino = -1
        self._closed = False
        self._broken: str | None = None
        self._heap = JsonHeap(bytearray())
        self._shapes_by_spec: dict[bytes, dict[str, tuple[int, ...]]] = {}  # spec JSON -> shapes
        self._dedupe: dict[bytes, tuple[int, int]] = {}
        self._caps: dict[str, int] = {}  # allocated rows of each table in the file
        self._ftypes: dict[str, Any] = {}  # HDF5 type of each table
        self._members_cache: list[Member | None] = []
        self._dirty: set[int] = set()   # member rows changed in memory, not yet in the file
        self._match_cache: list[MatchRecord] = []

    @classmethod
    def create(cls, path: str | os.PathLike[str], *, game: str, roles: Sequence[str],
               mu: float = 25.0, sigma: float = 25.0 / 3.0, fsync: bool = False) -> Pool:
        """Create an empty pool directory and open it for writing (mode ``"a"``).

        ``mu``/``sigma``: every new member's rating.  ``fsync``: see ``Pool.open``.
        """
        root = Path(path)
        if not isinstance(game, str) or not game:
            raise ConfigError(f"game must be a non-empty string, got {game!r}")
        if isinstance(roles, str) or not roles or not all(isinstance(r, str) and r for r in roles):
            raise ConfigError(f"roles must be a non-empty list of non-empty strings, got {roles!r}")
        if len(set(roles)) != len(roles):
            raise ConfigError(f"roles must be distinct, got {list(roles)!r}")
        if not (math.isfinite(mu) and math.isfinite(sigma) and sigma > 0):
            raise ConfigError(f"initial rating must be finite with sigma > 0, got mu={mu!r} sigma={sigma!r}")
        if (root / _INDEX).exists() or (root / (_INDEX + ".bak")).exists():
            raise PoolExistsError(f"{root} already holds a pool; open it with Pool.open({str(root)!r}, mode='a') "
                                  "or choose another directory")
        if root.exists() and not root.is_dir():
            raise PoolExistsError(f"{root} exists and is not a directory; choose another path")
        root.mkdir(parents=True, exist_ok=True)
        lock_fd = _lock(root)
        try:
            if (root / _INDEX).exists():  # another process created it while we took the lock
                raise PoolExistsError(f"{root} already holds a pool; open it with Pool.open")
            (root / _WEIGHTS).mkdir(exist_ok=True)
            header = store.Header(store.SCHEMA_VERSION, game, tuple(roles), float(mu), float(sigma))
            tmp = root / (_INDEX + ".create.tmp")
            store.write_index(tmp, store.empty_snapshot(header))
            os.replace(tmp, root / _INDEX)
            pool = cls(root, "a", lock_fd, fsync)
            pool._open_writer(store.empty_snapshot(header))
        except BaseException:
            if "pool" in locals():
                pool._close_file()
            os.close(lock_fd)
            raise
        return pool

    @classmethod
    def open(cls, path: str | os.PathLike[str], mode: Literal["r", "a"] = "r", *, fsync: bool = False) -> Pool:
        """Open an existing pool: ``"r"`` to read (many readers), ``"a"`` to write (one writer).

        Whatever moment the writer process dies, the pool stays whole.  ``fsync=True`` makes
        every commit also survive a power cut or OS crash, at the cost of a disk sync per write.
        """
        if mode not in ("r", "a"):
            raise ValueError(f"mode must be 'r' (read) or 'a' (read and write), got {mode!r}")
        root = Path(path)
        index = root / _INDEX
        if not index.exists() and not (mode == "a" and (root / (_INDEX + ".bak")).exists()):
            raise PoolNotFoundError(f"no pool at {root} ({_INDEX} missing); create one with Pool.create")
        if mode == "r":
            pool = cls(root, "r", None)
            try:
                pool._open_reader()
            except BaseException:
                pool._close_file()
                raise
            return pool
        lock_fd = _lock(root)
        pool = cls(root, "a", lock_fd, fsync)
        try:
            pool._recover_and_open()
        except BaseException:
            pool._close_file()
            os.close(lock_fd)
            raise
        return pool

    def close(self) -> None:
        """Commit anything pending, close the index and release the writer lock."""
        if self._closed:
            return
        try:
            if self.mode == "a" and self._f is not None and self._broken is None:
                if self._applied != self._n_matches or self._dirty:
                    self._commit()
        finally:
            self._closed = True
            self._close_file()
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = None

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._rows_view())} members"
        return f"Pool({str(self.path)!r}, mode={self.mode!r}, {state})"

    def _close_file(self) -> None:
        if self._f is not None:
            try:
                self._f.close()
            except Exception:  # closing after a failed write must not hide the first error
                pass
            self._f = None

    # ---------------------------------------------------------------- properties

    @property
    def game(self) -> str:
        """The game this pool's members play."""
        return self._header.game

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles declared at creation."""
        return self._header.roles

    @property
    def initial_mu(self) -> float:
        """mu of a new member."""
        return self._header.initial_mu

    @property
    def initial_sigma(self) -> float:
        """sigma of a new member."""
        return self._header.initial_sigma

    @property
    def state(self) -> dict[str, Any]:
        """The orchestrator's run state as last committed ({} before the first)."""
        self._sync()
        if self._state_ptr[1] == 0:
            return {}
        return json.loads(self._blob(*self._state_ptr))

    def __len__(self) -> int:
        self._sync()
        return len(self._rows_view())

    # ---------------------------------------------------------------- queries

    def member(self, member_id: int) -> Member:
        """The member with that id (retired ones included)."""
        self._sync()
        i = self._check_id(member_id)
        m = self._members_cache[i]
        return m if m is not None else self._build([i])[0]

    def members(self, role: str | None = None) -> list[Member]:
        """The all index (every member ever added), by id; optionally one role's."""
        self._sync()
        rows = self._rows_view()
        if role is None:
            return self._materialize(range(len(rows)))
        return self._materialize(np.flatnonzero(rows["role"] == self._role_index(role)).tolist())

    def active(self, role: str | None = None) -> list[Member]:
        """The active index (members opponents are sampled from), by id; optionally one role's."""
        self._sync()
        rows = self._rows_view()
        mask = rows["active"] == 1
        if role is not None:
            mask &= rows["role"] == self._role_index(role)
        return self._materialize(np.flatnonzero(mask).tolist())

    def weights(self, member_id: int) -> dict[str, torch.Tensor]:
        """A member's weights exactly as added (same dtypes, bit-identical); {} if weightless."""
        self._sync()
        i = self._check_id(member_id)
        row = self._rows_view()[i]
        stored = int(row["stored"])
        if stored == store.STORED_NONE:
            return {}
        if stored == store.STORED_DELETED:
            raise MissingWeightsError(f"weights of member {i} were deleted after it was retired; "
                                      "only its metadata and rating remain")
        path = self._weights_path(i)
        try:
            tensors = load_weights(path)
        except FileNotFoundError:
            if self.mode == "r":  # the writer may have deleted them since our last look
                self._sync()
                if self._rows_view()[i]["stored"] == store.STORED_DELETED:
                    raise MissingWeightsError(f"weights of member {i} were deleted after it was retired; "
                                              "only its metadata and rating remain") from None
            raise MissingWeightsError(f"weights file {path} of member {i} is missing; "
                                      "restore the pool's weights/ directory from a backup") from None
        except (safetensors.SafetensorError, OSError, ValueError) as exc:
            raise PoolCorruptError(f"weights file {path} of member {i} is corrupt ({exc}); "
                                   "restore it from a backup") from None
        self._check_shapes(int(row["spec_off"]), int(row["spec_len"]), tensors,
                           f"stored weights {path} of member {i}")
        return tensors

    def matches(self, start: int = 0) -> list[MatchRecord]:
        """The match log from index ``start`` on."""
        self._sync()
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        n = self._n_matches
        for k in range(len(self._match_cache), n):
            row = self._match_rows.view()[k]
            doc = json.loads(self._blob(int(row["off"]), int(row["len"])))
            self._match_cache.append(MatchRecord(
                k, _to_datetime(int(row["time_us"])), tuple(doc["seats"]), tuple(doc["member_ids"]),
                tuple(doc["ranks"]), doc["seed"], doc["kind"]))
        return self._match_cache[start:n]

    def refresh(self) -> None:
        """Pick up the writer's latest commit now (queries do this by themselves)."""
        self._sync()

    # ---------------------------------------------------------------- writes

    def add(self, role: str, weights: Mapping[str, torch.Tensor | np.ndarray], *,
            spec: Mapping[str, Any], hparams: Mapping[str, Any], step: int,
            parent: int | None = None, anchor: bool = False,
            state: Mapping[str, Any] | None = None) -> Member:
        """Add a member (weights file first, then its committed row); returns it.

        Everything is checked before anything is written: the role, the parent, that the
        weights have exactly the shapes ``spec`` implies, that hparams/state are JSON.
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
        self._check_writable()
        n0 = self._rows.n
        prepared = [self._prepare_entry(k, e, n0) for k, e in enumerate(entries)]
        state_b = None if state is None else self._encode_state(state)
        if not prepared:
            return []
        with self._writing():
            # Weights files first: a committed row must never name a missing file.
            for k, p in enumerate(prepared):
                if p["tensors"]:
                    self._save_weights(n0 + k, p["tensors"])
            now = _now_us()
            for k, p in enumerate(prepared):
                row = np.zeros((), dtype=store.MEMBER_DTYPE)
                role_i = p["role"]
                row["role"] = role_i
                row["version"] = self._next_version[role_i]
                self._next_version[role_i] += 1
                row["parent"] = p["parent"]
                row["step"] = p["step"]
                row["created_us"] = now
                row["spec_off"], row["spec_len"] = self._put_blob(p["spec_b"])
                row["hparams_off"], row["hparams_len"] = self._put_blob(p["hp_b"])
                row["mu"], row["sigma"], row["games"] = self.initial_mu, self.initial_sigma, 0
                row["active"], row["anchor"] = 1, p["anchor"]
                row["stored"] = store.STORED_FILE if p["tensors"] else store.STORED_NONE
                self._rows.append(row)
                self._members_cache.append(None)
                self._dirty.add(n0 + k)
            if state_b is not None:
                self._state_ptr = self._put_blob(state_b)
            self._commit()
        return self._materialize(range(n0, n0 + len(prepared)))

    def retire(self, member_id: int, reason: str) -> Member:
        """Take a member out of the active index (it stays in the all index). Idempotent."""
        return self.retire_many([member_id], reason)[0]

    def retire_many(self, member_ids: Iterable[int], reason: str) -> list[Member]:
        """Retire several members in one commit (for pruning); already retired ones keep
        their first reason."""
        self._check_writable()
        ids = [self._check_id(m) for m in member_ids]
        if not isinstance(reason, str):
            raise ValueError(f"reason must be a string, got {reason!r}")
        todo = sorted({i for i in ids if self._rows.buf[i]["active"]})
        if todo:
            with self._writing():
                off, length = self._put_blob(store.json_bytes(reason))
                # The reason is committed before any row points at it: a reader may see a row
                # change at any flush, and must then find the blob it names.
                self._commit()
                self._touch(todo)
                rows = self._rows.buf
                rows["active"][todo] = 0
                rows["reason_off"][todo] = off
                rows["reason_len"][todo] = length
                self._commit()
        return self._materialize(ids)

    def delete_weights(self, member_id: int) -> None:
        """Delete a retired, non-anchor member's weights file to save disk (metadata stays)."""
        self._check_writable()
        i = self._check_id(member_id)
        row = self._rows.buf[i]
        if row["anchor"]:
            raise PoolError(f"member {i} is an anchor; anchors keep their weights")
        if row["active"]:
            raise PoolError(f"member {i} is active; retire it before deleting its weights")
        if row["stored"] != store.STORED_FILE:
            return
        with self._writing():
            self._touch([i])
            self._rows.buf["stored"][i] = store.STORED_DELETED
            self._commit()  # the row says "deleted" before the file goes: never a dangling row
            self._weights_path(i).unlink(missing_ok=True)

    def record_match(self, seats: Sequence[str], member_ids: Sequence[int], ranks: Sequence[int],
                     ratings: Sequence[tuple[float, float]], *, seed: int | None = None,
                     kind: str = "eval", state: Mapping[str, Any] | None = None) -> MatchRecord:
        """Log a match and set the seated members' new ratings, in one commit.

        ``ratings`` are the new (mu, sigma) per seat, computed by the caller.  Each distinct
        member's ``games`` goes up by one; a member seated twice takes its last seat's rating.
        """
        self._check_writable()
        seats, ids = list(seats), list(member_ids)
        ranks, ratings = list(ranks), [tuple(r) for r in ratings]
        if not (len(seats) == len(ids) == len(ranks) == len(ratings)) or not seats:
            raise ValueError(f"seats, member_ids, ranks and ratings need one entry per seat; got lengths "
                             f"{len(seats)}, {len(ids)}, {len(ranks)}, {len(ratings)}")
        if not all(isinstance(s, str) for s in seats):
            raise ValueError(f"seats must be strings, got {seats!r}")
        ids = [self._check_id(m) for m in ids]
        if not all(isinstance(r, (int, np.integer)) and not isinstance(r, bool) and r >= 1 for r in ranks):
            raise ValueError(f"ranks must be integers >= 1 (1 = best), got {ranks!r}")
        for mu_sigma in ratings:
            if (len(mu_sigma) != 2 or not all(isinstance(x, (int, float, np.number)) for x in mu_sigma)
                    or not (math.isfinite(mu_sigma[0]) and math.isfinite(mu_sigma[1]) and mu_sigma[1] > 0)):
                raise ValueError(f"ratings must be finite (mu, sigma) pairs with sigma > 0, got {ratings!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"seed must be an int or None, got {seed!r}")
        if not isinstance(kind, str):
            raise ValueError(f"kind must be a string, got {kind!r}")
        post: dict[int, list[Any]] = {}
        for m, (mu, sigma) in zip(ids, ratings):
            post[m] = [m, float(mu), float(sigma), int(self._rows.buf[m]["games"]) + 1]
        doc = {"seats": seats, "member_ids": ids, "ranks": [int(r) for r in ranks],
               "seed": None if seed is None else int(seed), "kind": kind, "post": list(post.values())}
        doc_b = store.json_bytes(doc)
        state_b = None if state is None else self._encode_state(state)

        with self._writing():
            k = self._n_matches
            mrow = np.zeros((), dtype=store.MATCH_DTYPE)
            mrow["time_us"] = _now_us()
            mrow["off"], mrow["len"] = self._put_blob(doc_b, dedupe=False)
            if state_b is not None:
                self._state_ptr = self._put_blob(state_b)
            self._match_rows.append(mrow)
            self._write_span("matches", k, self._match_rows.buf[k: k + 1])
            self._n_matches = k + 1
            self._commit()
            # Committed: the log now holds the post-match values.  Copy them into the rows;
            # they reach the file with the next commit (or close), which also moves
            # ``applied``; until then readers and a recovering writer re-apply them from the log.
            self._apply_post(doc["post"], write=True)
            self._applied = k + 1
        return self.matches(k)[0]

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Commit the orchestrator's run state (a JSON-able dict)."""
        self._check_writable()
        state_b = self._encode_state(state)
        with self._writing():
            self._state_ptr = self._put_blob(state_b)
            self._commit()

    # ---------------------------------------------------------------- internals: opening

    def _open_reader(self) -> None:
        # Retried like _sync: the first read can race a live writer just as a refresh can.
        for attempt in range(_READ_RETRIES):
            try:
                return self._open_reader_once()
            except PoolCorruptError:
                self._close_file()
                if attempt == _READ_RETRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))

    def _open_reader_once(self) -> None:
        index = self.path / _INDEX
        try:
            self._ino = os.stat(index).st_ino
            self._f = store.open_reader(index)
        except FileNotFoundError:
            raise PoolNotFoundError(f"no pool at {self.path} ({_INDEX} missing)") from None
        snap = store.read_snapshot(self._f, index)
        self._ds = store.datasets(self._f, index)
        self._install(snap)

    def _recover_and_open(self) -> None:
        """With the lock held: restore, validate, rebuild a dead writer's index, clean up."""
        index = self.path / _INDEX
        backup = self.path / (_INDEX + ".bak")
        (self.path / (_INDEX + ".rebuild.tmp")).unlink(missing_ok=True)  # a rebuild that died
        if backup.exists():
            if index.exists():   # a rebuild finished but did not get to remove its backup
                backup.unlink()
            else:                # cannot happen with os.replace, but never lose the data
                os.replace(backup, index)
        # Validate with a read-only open first, so a bad or newer pool is not touched at all.
        f = store.open_reader(index)
        try:
            snap = store.read_snapshot(f, index)
        finally:
            f.close()
        try:
            self._open_writer(snap)
        except store.IndexBusyError:
            # The previous writer died with the file open (we hold its lock, so it is gone), or
            # a reader in this process has it open: write a fresh copy and replace it.  Readers
            # notice the new inode and follow.
            tmp = self.path / (_INDEX + ".rebuild.tmp")
            store.write_index(tmp, snap)
            try:
                os.link(index, backup)
            except OSError:  # a filesystem without hard links
                shutil.copy2(index, backup)
            os.replace(tmp, index)
            self._open_writer(snap)
            backup.unlink()
        if self._applied != self._n_matches:
            with self._writing():   # finish what the dead writer's last match began
                self._rows_apply_pending(write=True)
                self._commit()
        self._clean_weights_dir()

    def _open_writer(self, snap: store.Snapshot) -> None:
        index = self.path / _INDEX
        self._f = store.open_writer(index)
        self._caps, self._ftypes = {}, {}
        self._ino = os.stat(index).st_ino
        self._ds = store.datasets(self._f, index)
        self._install(snap)
        self._next_version = [0] * len(self.roles)
        if len(snap.rows):
            counts = np.bincount(snap.rows["role"], minlength=len(self.roles))
            self._next_version = [int(c) for c in counts]
        rows = snap.rows
        for col in ("spec", "hparams"):   # so re-adding a known spec reuses its blob
            offs, first = np.unique(rows[col + "_off"], return_index=True)
            for off, j in zip(offs.tolist(), first.tolist()):
                ln = int(rows[col + "_len"][j])
                if ln <= _DEDUPE_MAX:
                    self._dedupe[bytes(self._blobs[off: off + ln])] = (off, ln)

    def _install(self, snap: store.Snapshot) -> None:
        """Make a snapshot the pool's current view."""
        self._header = snap.header
        self._commit_rec = snap.commit
        writer = self.mode == "a"
        self._rows = _Growable(snap.rows, copy=writer)
        self._match_rows = _Growable(snap.matches, copy=writer)
        self._blobs = bytearray(snap.blobs)
        self._heap = JsonHeap(self._blobs)
        self._n_matches = snap.commit.n_matches
        self._applied = snap.commit.applied
        self._state_ptr = (snap.commit.state_off, snap.commit.state_len)
        self._rows_apply_pending(write=False)
        if self.mode == "r":
            self._fetch_referenced()
        self._members_cache = [None] * self._rows.n
        self._dirty = set()
        self._match_cache = []

    def _rows_apply_pending(self, *, write: bool) -> None:
        for k in range(self._applied, self._n_matches):
            m = self._match_rows.buf[k]
            self._apply_post(json.loads(self._blob(int(m["off"]), int(m["len"])))["post"], write=write)
        if write:
            self._applied = self._n_matches

    def _apply_post(self, post: list[list[Any]], *, write: bool) -> None:
        """Set logged post-match values in the rows (``write``: and in the file, later).

        Without ``write`` this runs only on a freshly loaded rows array that no Member
        refers to yet.
        """
        if write:
            self._touch([p[0] for p in post])
        rows = self._rows.buf
        for mid, mu, sigma, games in post:
            rows["mu"][mid], rows["sigma"][mid], rows["games"][mid] = mu, sigma, games

    def _clean_weights_dir(self) -> None:
        """Remove what a dead writer left: temp files, files of uncommitted or deleted members."""
        wdir = self.path / _WEIGHTS
        wdir.mkdir(exist_ok=True)
        rows = self._rows_view()
        for entry in os.scandir(wdir):
            name = entry.name
            stem = name.split(".", 1)[0]
            if name.endswith(".tmp"):
                os.unlink(entry.path)
            elif name.endswith(".safetensors") and stem.isdigit():
                i = int(stem)
                if i >= len(rows) or rows[i]["stored"] != store.STORED_FILE:
                    os.unlink(entry.path)

    # ---------------------------------------------------------------- internals: reading

    def _sync(self) -> None:
        """Readers: pick up the writer's latest commit (cheap when nothing changed).

        A reader races a live writer: it can catch a row mid-rewrite, or a file that a
        recovering writer is about to replace.  Such a view heals within moments, so a
        failed validation is retried before it is reported as corruption; a file that is
        really damaged fails every attempt.
        """
        if self._closed:
            raise PoolError(f"pool {self.path} is closed; open it again with Pool.open")
        if self.mode == "a":
            return
        for attempt in range(_READ_RETRIES):
            try:
                return self._sync_once()
            except PoolCorruptError:
                if attempt == _READ_RETRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))

    def _sync_once(self) -> None:
        index = self.path / _INDEX
        try:
            ino = os.stat(index).st_ino
        except FileNotFoundError:
            ino = self._ino
        if ino != self._ino:  # a recovering writer replaced index.h5: follow it
            self._close_file()
            self._open_reader()
            return
        commit = store.read_commit(self._ds["counts"], index, refresh=True)
        if commit.gen == self._commit_rec.gen:
            return
        self._reload(commit)

    def _reload(self, commit: store.Commit) -> None:
        index = self.path / _INDEX
        ds = self._ds
        try:
            for name in ("members", "matches", "blobs"):
                ds[name].refresh()
            rows = ds["members"][: commit.n_members]
            if commit.n_blobs > len(self._blobs):
                self._blobs += ds["blobs"][len(self._blobs): commit.n_blobs].tobytes()
            if commit.n_matches > self._match_rows.n:
                for row in ds["matches"][self._match_rows.n: commit.n_matches]:
                    self._match_rows.append(row)
        except (OSError, ValueError, RuntimeError) as exc:
            raise PoolCorruptError(f"pool index {index} could not be re-read ({exc})") from None
        store.check_rows(rows, self._header, store.read_commit(ds["counts"], index, refresh=True).n_blobs, index)
        self._commit_rec = commit
        self._n_matches = commit.n_matches
        self._applied = commit.applied
        self._state_ptr = (commit.state_off, commit.state_len)
        for k in range(self._applied, self._n_matches):  # logged matches not yet in the rows
            m = self._match_rows.buf[k]
            for mid, mu, sigma, games in json.loads(self._blob(int(m["off"]), int(m["len"])))["post"]:
                rows["mu"][mid], rows["sigma"][mid], rows["games"][mid] = mu, sigma, games
        # Update the one rows buffer in place rather than adopting the fresh array: members
        # built at different times would otherwise keep every old array alive (12 MB each at
        # 100k members).  Rows never go away, so ``rows`` extends the buffer.
        n_old = self._rows.n
        changed = np.flatnonzero(self._rows.view() != rows[:n_old]).tolist()
        self._forget(changed)
        self._rows.buf[changed] = rows[changed]
        self._rows.extend(rows[n_old:])
        self._members_cache.extend([None] * (len(rows) - n_old))
        self._fetch_referenced()

    def _rows_view(self) -> np.ndarray:
        return self._rows.view()

    def _fetch_blobs(self, end: int) -> None:
        """Make sure the heap holds bytes [0, end) (readers only ever lack a committed tail)."""
        if end > len(self._blobs):
            # A reader may see a row rewritten after its commit record was read; the blob it
            # names was committed before the row changed, so it is in the file.
            ds = self._ds["blobs"]
            ds.refresh()
            self._blobs += ds[len(self._blobs): end].tobytes()

    def _blob(self, off: int, length: int) -> bytes:
        self._fetch_blobs(off + length)
        return bytes(self._blobs[off: off + length])

    def _json(self, off: int, length: int) -> Any:
        """Decoded, frozen JSON blob, cached by offset (specs and hparams are shared)."""
        self._fetch_blobs(off + length)
        return self._heap.get(off, length)

    def _materialize(self, idx: Iterable[int]) -> list[Member]:
        idx = list(idx)
        cache = self._members_cache
        missing = [i for i in idx if cache[i] is None]
        if missing:
            self._build(missing)
        return [cache[i] for i in idx]  # type: ignore[misc]

    def _build(self, idx: list[int]) -> list[Member]:
        """Member objects for rows ``idx``, cached; their fields load on first use.
        (The JSON they may decode is in memory: see ``_fetch_referenced``.)"""
        return build_members(idx, RowSource(self._rows.buf, self._heap, self.roles), self._members_cache)

    def _fetch_referenced(self) -> None:
        """Readers: load every blob a row names (rows may be newer than the commit record)."""
        rows = self._rows_view()
        if len(rows):
            ends = np.maximum(np.maximum(rows["spec_off"] + rows["spec_len"], rows["hparams_off"] + rows["hparams_len"]),
                              rows["reason_off"] + rows["reason_len"])
            self._fetch_blobs(int(ends.max()))

    def _check_id(self, member_id: Any) -> int:
        n = len(self._rows_view())
        if isinstance(member_id, bool) or not isinstance(member_id, (int, np.integer)) or not 0 <= member_id < n:
            raise UnknownMemberError(f"no member with id {member_id!r} in pool {self.path} "
                                     f"(ids are ints 0..{n - 1})" if n else
                                     f"no member with id {member_id!r}: pool {self.path} is empty")
        return int(member_id)

    def _role_index(self, role: Any) -> int:
        try:
            return self.roles.index(role)
        except ValueError:
            raise UnknownRoleError(f"unknown role {role!r}; this pool's roles are {list(self.roles)}") from None

    def _shapes(self, spec_off: int, spec_len: int) -> dict[str, tuple[int, ...]]:
        self._fetch_blobs(spec_off + spec_len)
        key = bytes(self._blobs[spec_off: spec_off + spec_len])
        hit = self._shapes_by_spec.get(key)
        if hit is None:
            hit = expected_shapes(self._json(spec_off, spec_len))
            self._shapes_by_spec[key] = hit
        return hit

    def _check_shapes(self, spec_off: int, spec_len: int, tensors: Mapping[str, torch.Tensor], what: str) -> None:
        _compare_shapes(self._shapes(spec_off, spec_len), tensors, what, self._json(spec_off, spec_len))

    # ---------------------------------------------------------------- internals: writing

    def _check_writable(self) -> None:
        if self._closed:
            raise PoolError(f"pool {self.path} is closed; open it again with Pool.open(..., mode='a')")
        if self.mode != "a":
            raise PoolReadOnlyError(f"pool {self.path} was opened read-only; open it with mode='a' to write "
                                    "(one writer at a time)")
        if self._broken is not None:
            raise PoolError(f"an earlier write to pool {self.path} failed ({self._broken}); "
                            "close it and open it again to recover")

    def _writing(self) -> _WriteGuard:
        return _WriteGuard(self)

    def _encode_state(self, state: Any) -> bytes:
        if not isinstance(state, Mapping):
            raise ConfigError(f"run state must be a dict, got {type(state).__name__}")
        return _encode("run state", dict(state))

    def _prepare_entry(self, k: int, entry: Any, n0: int) -> dict[str, Any]:
        """Check one member to add completely, writing nothing."""
        if not isinstance(entry, Mapping) or not _REQUIRED <= set(entry) or set(entry) - _REQUIRED - _OPTIONAL:
            raise ValueError(f"add_many entry {k} must be a dict with keys {sorted(_REQUIRED)} and optionally "
                             f"{sorted(_OPTIONAL)}, got {sorted(entry) if isinstance(entry, Mapping) else entry!r}")
        role_i = self._role_index(entry["role"])
        parent = entry.get("parent")
        if parent is not None:
            is_int = isinstance(parent, (int, np.integer)) and not isinstance(parent, bool)
            parent = int(parent) if is_int and n0 <= parent < n0 + k else self._check_id(parent)
        step = entry["step"]
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"step must be a non-negative int, got {step!r}")
        spec = entry["spec"]
        spec_b = _encode("spec", dict(spec) if isinstance(spec, Mapping) else spec)
        tensors = self._prepare_weights(spec, spec_b, entry["weights"])
        hparams = entry["hparams"]
        if not isinstance(hparams, Mapping):
            raise ConfigError(f"hparams must be a dict, got {type(hparams).__name__}")
        return {"role": role_i, "parent": -1 if parent is None else parent, "step": int(step),
                "spec_b": spec_b, "hp_b": _encode("hparams", dict(hparams)), "tensors": tensors,
                "anchor": int(bool(entry.get("anchor", False)))}

    def _prepare_weights(self, spec: Any, spec_b: bytes, weights: Any) -> dict[str, torch.Tensor]:
        if not isinstance(weights, Mapping):
            raise WeightsShapeError(f"weights must be a dict of name -> tensor (a state_dict), got "
                                    f"{type(weights).__name__}")
        tensors: dict[str, torch.Tensor] = {}
        for name, value in weights.items():
            if isinstance(value, np.ndarray):
                value = torch.from_numpy(np.ascontiguousarray(value))
            if not isinstance(value, torch.Tensor) or not isinstance(name, str):
                raise WeightsShapeError(f"weight {name!r} is a {type(value).__name__}; weights must map "
                                        "str names to torch tensors or numpy arrays")
            tensors[name] = value
        # expected_shapes builds a meta-device network (~1 ms): cache it per spec.
        shapes = self._shapes_by_spec.get(spec_b)
        if shapes is None:
            shapes = expected_shapes(spec)
            self._shapes_by_spec[spec_b] = shapes
        _compare_shapes(shapes, tensors, "weights", spec)
        return tensors

    def _save_weights(self, i: int, tensors: dict[str, torch.Tensor]) -> None:
        # A committed row must never name a half-written file: the file is complete before
        # it gets its final name, and the row is committed only after that.
        save_weights(self._weights_path(i), tensors, fsync=self._fsync)

    def _weights_path(self, i: int) -> Path:
        return self.path / _WEIGHTS / f"{i}.safetensors"

    def _put_blob(self, data: bytes, *, dedupe: bool = True) -> tuple[int, int]:
        """Append a JSON document to the heap (past the committed end) -> (offset, length)."""
        if dedupe and len(data) <= _DEDUPE_MAX:
            hit = self._dedupe.get(data)
            if hit is not None:
                return hit
        off = len(self._blobs)
        self._write_span("blobs", off, np.frombuffer(data, dtype="u1"))
        self._blobs += data
        if dedupe and len(data) <= _DEDUPE_MAX:
            self._dedupe[data] = (off, len(data))
        return off, len(data)

    def _touch(self, ids: Iterable[int]) -> None:
        """Call *before* changing rows in memory: they go to the file with the next commit."""
        ids = list(ids)
        self._dirty.update(ids)
        self._forget(ids)

    def _forget(self, ids: Iterable[int]) -> None:
        """Call *before* changing rows in memory: drop their cached Members.

        A Member handed out earlier may not have read its row yet (lazy); it reads it now,
        so it keeps the values it had when handed out.  Later queries build new Members.
        """
        cache = self._members_cache
        for i in ids:
            m = cache[i]
            if m is not None:
                for name in MEMBER_FIELDS:
                    getattr(m, name)
                cache[i] = None

    def _write_span(self, name: str, start: int, data: np.ndarray) -> None:
        """Write ``data`` at ``start`` of a 1-D table, growing it by whole chunks.

        Low-level h5py calls: the high-level ``ds[a:b] = x`` costs ~0.2 ms of Python per call.
        """
        ds = self._ds[name]
        end = start + len(data)
        cap = self._caps.get(name)
        if cap is None:
            cap = self._caps[name] = ds.shape[0]
        if end > cap:
            chunk = ds.chunks[0]
            cap = -(-max(end, cap + cap // 4) // chunk) * chunk
            ds.resize((cap,))
            self._caps[name] = cap
        fspace = ds.id.get_space()
        fspace.select_hyperslab((start,), (len(data),))
        ftype = self._ftypes.get(name)
        if ftype is None:
            # Naming the file's own type as the memory type skips building a new compound
            # type and conversion path per call (150 -> 45 us a row).
            ftype = self._ftypes[name] = ds.id.get_type()
        ds.id.write(h5py.h5s.create_simple((len(data),)), fspace, np.ascontiguousarray(data), mtype=ftype)

    def _write_dirty_rows(self) -> None:
        if not self._dirty:
            return
        rows = self._rows.buf
        ids = sorted(self._dirty)
        # Contiguous runs go out as one write each (appends, batches); scattered ones alone.
        run_start = prev = ids[0]
        for i in ids[1:] + [-2]:
            if i != prev + 1:
                self._write_span("members", run_start, rows[run_start: prev + 1])
                run_start = i
            prev = i
        self._dirty.clear()

    def _commit(self) -> None:
        """Write pending rows, flush, then bump the commit record and flush it.

        The first flush puts every row and blob on disk before the record that makes them
        visible; the alternating, checksummed record slot keeps the previous commit readable
        if a crash tears this write.
        """
        self._write_dirty_rows()
        c = store.Commit(self._commit_rec.gen + 1, self._rows.n, self._n_matches, len(self._blobs),
                         self._applied, self._state_ptr[0], self._state_ptr[1])
        self._flush()
        ds = self._ds["counts"]
        fspace = ds.id.get_space()
        fspace.select_hyperslab((c.gen % 2, 0), (1, 8))
        ds.id.write(h5py.h5s.create_simple((1, 8)), fspace, c.encode().reshape(1, 8))
        self._flush()
        self._commit_rec = c

    def _flush(self) -> None:
        self._f.flush()
        if self._fsync:
            os.fsync(self._f.id.get_vfd_handle())


class _WriteGuard:
    """Marks the pool broken when a write fails halfway (its memory no longer matches the file)."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is not None:
            self.pool._broken = f"{exc_type.__name__}: {exc}"


def _compare_shapes(want: Mapping[str, tuple[int, ...]], tensors: Mapping[str, torch.Tensor],
                    what: str, spec: Any) -> None:
    missing = sorted(set(want) - set(tensors))
    extra = sorted(set(tensors) - set(want))
    if missing or extra:
        raise WeightsShapeError(f"{what} do not match spec {dict(spec)!r}: missing {missing[:4]}, "
                                f"unexpected {extra[:4]}; pass the state_dict of the network the spec builds")
    for name, shape in want.items():
        got = tuple(tensors[name].shape)
        if got != shape:
            raise WeightsShapeError(f"{what}: {name!r} has shape {got} but spec {dict(spec)!r} needs {shape}; "
                                    "rebuild the spec from the network that produced these weights")


def _lock(root: Path) -> int:
    """Take the pool's writer lock (exclusive flock; the OS releases it if we die)."""
    try:
        fd = os.open(root / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:
        raise PoolNotFoundError(f"no pool at {root}; create one with Pool.create") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        finally:
            os.close(fd)
        raise PoolLockedError(f"pool {root} is open for writing by another process (pid {holder}); "
                              "a pool has one writer: close that one, or open with mode='r' to read") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd
