"""The on-disk format of a pool's ``index.h5``: layout, commit record, reading and rebuilding.

The rest of ``league.pool`` holds the logic (what a member is, what each operation writes, how
readers follow and how a dead writer's index is rebuilt); this module holds only how the index
is laid out in HDF5, so the format can be read in one place.

Layout (every object is created before the writer turns SWMR on; afterwards the writer only
resizes these datasets and overwrites their elements, which is all SWMR allows)::

    /            attrs: schema_version, game, roles (JSON list), initial_mu, initial_sigma
    /members     compound table, one row per member (the all index; ``active`` column;
                 from schema 2 on, ``digest``: its weights file's digest; schema 2: BLAKE2b-128
                 hex (S32), schema 3: ``xxh3_128:<hex>`` (S48; old BLAKE2b rows kept as they were))
    /matches     compound table, one row per match (the append-only match log)
    /blobs       uint8 heap of JSON documents (spec, hparams, retire reason, match, run state),
                 addressed by (offset, length) columns; variable-length strings are not
                 SWMR-safe, plain bytes are
    /counts      int64 [2, 8]: two alternating copies of the commit record

The commit record says how much of each table is committed (readers trust nothing beyond it).
It is written to alternating slots with a checksum, so a write torn by a crash leaves the other
slot, one commit older, intact.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from league.errors import PoolCorruptError, PoolError, PoolVersionError

__all__ = [
    "INDEX_FILE",
    "SCHEMA_VERSION",
    "MEMBER_DTYPE",
    "MEMBER_DTYPE_V1",
    "MEMBER_DTYPE_V2",
    "member_dtype",
    "read_members",
    "MATCH_DTYPE",
    "Header",
    "Commit",
    "Snapshot",
    "STORED_NONE",
    "STORED_FILE",
    "STORED_DELETED",
    "IndexBusyError",
    "empty_snapshot",
    "json_bytes",
    "check_rows",
    "datasets",
    "read_commit",
    "read_header",
    "open_reader",
    "open_writer",
    "read_snapshot",
    "write_index",
]

INDEX_FILE = "index.h5"   # the index's name in a pool directory
SCHEMA_VERSION = 3   # 3: digests name their algorithm; 2: BLAKE2b digests; 1: none (all still read)

# Rows are fixed-size so a row is one element of a chunked dataset.  Integer ids; -1 = none.
_V1_FIELDS = [
    ("role", "<i4"),
    ("version", "<i8"),
    ("parent", "<i8"),
    ("step", "<i8"),
    ("created_us", "<i8"),      # microseconds since the Unix epoch, UTC
    ("spec_off", "<i8"), ("spec_len", "<i8"),
    ("hparams_off", "<i8"), ("hparams_len", "<i8"),
    ("mu", "<f8"), ("sigma", "<f8"), ("games", "<i8"),
    ("reason_off", "<i8"), ("reason_len", "<i8"),   # len 0: not retired
    ("active", "u1"), ("anchor", "u1"),
    ("stored", "u1"),           # 0: no weights file (weightless), 1: file, 2: deleted
]
MEMBER_DTYPE_V1 = np.dtype(_V1_FIELDS)
# The digest is hex (no NUL bytes, which numpy's fixed-size bytes would strip); b"": none
# (weightless, or added under schema 1: unverified).
MEMBER_DTYPE_V2 = np.dtype([*_V1_FIELDS, ("digest", "S32")])
MEMBER_DTYPE = np.dtype([*_V1_FIELDS, ("digest", "S48")])
STORED_NONE, STORED_FILE, STORED_DELETED = 0, 1, 2

MATCH_DTYPE = np.dtype([("time_us", "<i8"), ("off", "<i8"), ("len", "<i8")])

# Chunk sizes: a flush rewrites every dirty chunk whole, so members/matches chunks stay small
# (~15 KB: one add dirties one members chunk and at most two blob chunks).
_CHUNKS = {"members": 128, "matches": 512, "blobs": 1 << 13}
_DATASET_DTYPES = {"members": MEMBER_DTYPE, "matches": MATCH_DTYPE, "blobs": np.dtype("u1")}


class IndexBusyError(Exception):
    """index.h5 cannot be opened for writing in place (internal signal: rebuild it).

    Either a writer died with it open (it stays flagged "open for write"), or this process
    has it open read-only (HDF5 refuses a second, read-write open of one file per process).
    """


@dataclass(frozen=True)
class Header:
    """What never changes after ``Pool.create``."""

    schema_version: int
    game: str
    roles: tuple[str, ...]
    initial_mu: float
    initial_sigma: float


@dataclass(frozen=True)
class Commit:
    """One commit record: how much of each table is committed.

    ``applied``: matches ``[0, applied)`` have been copied into the members' mu/sigma/games;
    later committed matches are re-applied from the log (their rows carry post-match values).
    """

    gen: int = 0
    n_members: int = 0
    n_matches: int = 0
    n_blobs: int = 0
    applied: int = 0
    state_off: int = 0
    state_len: int = 0      # 0: no run state yet ({})

    def encode(self) -> np.ndarray:
        vals = np.array([self.gen, self.n_members, self.n_matches, self.n_blobs, self.applied,
                         self.state_off, self.state_len, 0], dtype="<i8")
        vals[7] = zlib.crc32(vals[:7].tobytes())
        return vals

    @staticmethod
    def decode(slots: np.ndarray) -> Commit | None:
        """The newest slot whose checksum holds, or None when neither does."""
        best: Commit | None = None
        for vals in np.asarray(slots, dtype="<i8").reshape(2, 8):
            if int(vals[7]) != zlib.crc32(vals[:7].tobytes()) or (vals[:7] < 0).any():
                continue
            c = Commit(*(int(v) for v in vals[:7]))
            if best is None or c.gen > best.gen:
                best = c
        return best


@dataclass
class Snapshot:
    """The committed contents of an index, as arrays."""

    header: Header
    commit: Commit
    rows: np.ndarray        # MEMBER_DTYPE [n_members]
    blobs: bytes            # [n_blobs]
    matches: np.ndarray     # MATCH_DTYPE [n_matches]


def _fapl() -> h5py.h5p.PropFAID:
    plist = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    plist.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    # HDF5's own file lock would stop the writer from opening while any reader has the file
    # open; the pool's writer.lock already guarantees the single writer.
    plist.set_file_locking(False, True)
    return plist


def open_reader(path: Path) -> h5py.File:
    """Open for SWMR reading; works while a writer appends, and on a file a dead writer left."""
    try:
        # A SWMR open skips HDF5's end-of-file check (the file may be growing), so a truncated
        # file would open.  A plain read-only open checks it; it fails on a file that a live or
        # dead writer has open, and then there is nothing to compare against anyway.
        try:
            h5py.File(path, "r", libver="latest", locking=False).close()
        except OSError as exc:
            if "already open for write" not in str(exc):
                raise
        # No raw-data chunk cache: a reader re-reads rows the writer rewrites in place
        # (ratings, retire), and a cached chunk would serve the old or a torn copy.
        return h5py.File(path, "r", libver="latest", swmr=True, locking=False, rdcc_nbytes=0)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise PoolCorruptError(
            f"{path} is not a readable HDF5 file ({exc}); restore it from a backup") from None


def open_writer(path: Path) -> h5py.File:
    """Open read-write with SWMR on from the first moment.

    Opening with the SWMR-write flag at once (not ``r+`` then ``swmr_mode = True``) leaves no
    window in which a crash would flag the file "open for write" without SWMR, which would make
    it unreadable even to SWMR readers.  Raises ``IndexBusyError`` when it cannot be opened in
    place.
    """
    try:
        fid = h5py.h5f.open(os.fsencode(path), h5py.h5f.ACC_RDWR | h5py.h5f.ACC_SWMR_WRITE,
                            fapl=_fapl())
    except OSError as exc:
        if "already open for" in str(exc):
            raise IndexBusyError(str(exc)) from None
        if not os.access(path, os.W_OK):
            raise PoolError(f"{path} is not writable by this user; open the pool with mode='r' "
                            "or fix the file's permissions") from None
        raise PoolCorruptError(f"{path} cannot be opened for writing ({exc}); "
                               "restore it from a backup") from None
    return h5py.File(fid)


def read_header(f: h5py.File, path: Path) -> Header:
    """The pool's fixed attributes; checks the schema version before anything else."""
    attrs = f.attrs
    if "schema_version" not in attrs:
        raise PoolCorruptError(f"{path} is an HDF5 file but not a league pool index "
                               "(no schema_version); point Pool.open at a pool directory")
    version = int(attrs["schema_version"])
    if version > SCHEMA_VERSION:
        raise PoolVersionError(
            f"pool index {path} has schema version {version}, but this league reads up to "
            f"{SCHEMA_VERSION}; upgrade league to open it")
    try:
        roles = json.loads(attrs["roles"])
        return Header(version, str(attrs["game"]), tuple(str(r) for r in roles),
                      float(attrs["initial_mu"]), float(attrs["initial_sigma"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise PoolCorruptError(f"pool index {path} has a damaged header ({exc}); "
                               "restore it from a backup") from None


def member_dtype(version: int) -> np.dtype:
    """The members table's row type in an index of schema ``version``."""
    return MEMBER_DTYPE_V1 if version < 2 else MEMBER_DTYPE_V2 if version == 2 else MEMBER_DTYPE


def read_members(ds: h5py.Dataset, n: int, version: int) -> np.ndarray:
    """The first ``n`` member rows, as ``MEMBER_DTYPE`` whatever the file's schema (the read
    path of older pools: schema 1 rows get an empty digest, schema 2's keep their BLAKE2b one)."""
    raw = ds[:n]
    if version >= 3:
        return raw
    rows = np.zeros(len(raw), MEMBER_DTYPE)
    for name in raw.dtype.names:
        rows[name] = raw[name]
    return rows


def datasets(f: h5py.File, path: Path, version: int = SCHEMA_VERSION) -> dict[str, h5py.Dataset]:
    """The four datasets, checked for presence and dtype (of schema ``version``)."""
    out: dict[str, h5py.Dataset] = {}
    try:
        for name, dtype in _DATASET_DTYPES.items():
            if name == "members":
                dtype = member_dtype(version)
            ds = f[name]
            if ds.dtype != dtype or ds.ndim != 1:
                raise ValueError(f"dataset {name!r} has dtype {ds.dtype}")
            out[name] = ds
        out["counts"] = f["counts"]
        if out["counts"].shape != (2, 8):
            raise ValueError(f"dataset 'counts' has shape {out['counts'].shape}")
    except (KeyError, ValueError, OSError) as exc:
        raise PoolCorruptError(f"pool index {path} is damaged ({exc}); restore it from a backup") from None
    return out


def read_commit(ds: h5py.Dataset, path: Path, *, refresh: bool) -> Commit:
    """The newest valid commit record."""
    try:
        if refresh:
            ds.refresh()
        commit = Commit.decode(ds[...])
    except (OSError, ValueError, RuntimeError) as exc:
        raise PoolCorruptError(f"pool index {path}: cannot read the commit record ({exc})") from None
    if commit is None:
        raise PoolCorruptError(f"pool index {path}: both commit records are damaged; restore it from a backup")
    return commit


def check_rows(rows: np.ndarray, header: Header, n_blobs: int, path: Path) -> None:
    """Reject rows that point outside the committed blobs or name unknown roles.

    ``n_blobs`` must come from a commit record read *after* the rows: a live writer may
    rewrite a row (retire) between a reader's reading the commit record and the rows, and
    the blob the new row names is committed before the row is written.
    """
    if len(rows) == 0:
        return
    nb = n_blobs
    bad = ((rows["role"] < 0) | (rows["role"] >= len(header.roles))
           | (rows["spec_off"] < 0) | (rows["spec_off"] + rows["spec_len"] > nb)
           | (rows["hparams_off"] < 0) | (rows["hparams_off"] + rows["hparams_len"] > nb)
           | (rows["reason_off"] < 0) | (rows["reason_off"] + rows["reason_len"] > nb)
           | (rows["stored"] > STORED_DELETED) | (rows["parent"] >= np.arange(len(rows))))
    if bad.any():
        raise PoolCorruptError(f"pool index {path}: member row {int(np.argmax(bad))} is damaged; "
                               "restore index.h5 from a backup")


def read_snapshot(f: h5py.File, path: Path) -> Snapshot:
    """Everything committed in an open index, validated."""
    header = read_header(f, path)
    ds = datasets(f, path, header.schema_version)
    commit = read_commit(ds["counts"], path, refresh=False)
    try:
        if (commit.n_members > ds["members"].shape[0] or commit.n_matches > ds["matches"].shape[0]
                or commit.n_blobs > ds["blobs"].shape[0] or commit.applied > commit.n_matches
                or commit.state_off + commit.state_len > commit.n_blobs):
            raise ValueError(f"commit record {commit} points past the end of the tables")
        rows = read_members(ds["members"], commit.n_members, header.schema_version)
        blobs = ds["blobs"][: commit.n_blobs].tobytes()
        matches = ds["matches"][: commit.n_matches]
    except (OSError, ValueError, RuntimeError) as exc:
        raise PoolCorruptError(f"pool index {path} is damaged ({exc}); restore it from a backup") from None
    check_rows(rows, header, read_commit(ds["counts"], path, refresh=True).n_blobs, path)
    if len(matches) and ((matches["off"] < 0) | (matches["off"] + matches["len"] > commit.n_blobs)).any():
        raise PoolCorruptError(f"pool index {path}: the match log is damaged; restore it from a backup")
    return Snapshot(header, commit, rows, blobs, matches)


def _create_table(f: h5py.File, name: str, data: np.ndarray, dtype: np.dtype) -> None:
    chunk = _CHUNKS[name]
    cap = max(chunk, -(-len(data) // chunk) * chunk)
    ds = f.create_dataset(name, shape=(cap,), maxshape=(None,), chunks=(chunk,), dtype=dtype)
    if len(data):
        ds[: len(data)] = data if data.dtype == dtype else data[list(dtype.names)].astype(dtype)


def write_index(path: Path, snap: Snapshot) -> None:
    """Write a complete, closed index file (used by create and by crash recovery).

    The caller writes to a temporary name and ``os.replace``s it into place.  The layout is
    that of ``snap.header.schema_version`` (an older one only in tests of the read path).
    """
    h = snap.header
    with h5py.File(path, "w", libver="latest") as f:
        f.attrs["schema_version"] = h.schema_version
        f.attrs["game"] = h.game
        f.attrs["roles"] = json.dumps(list(h.roles))
        f.attrs["initial_mu"] = h.initial_mu
        f.attrs["initial_sigma"] = h.initial_sigma
        _create_table(f, "members", snap.rows, member_dtype(h.schema_version))
        _create_table(f, "matches", snap.matches, MATCH_DTYPE)
        _create_table(f, "blobs", np.frombuffer(snap.blobs, dtype="u1"), np.dtype("u1"))
        counts = f.create_dataset("counts", shape=(2, 8), chunks=(2, 8), dtype="<i8")
        counts[0] = snap.commit.encode()   # slot 1 stays zero, which fails its checksum


def empty_snapshot(header: Header) -> Snapshot:
    """A pool with no members, matches or state."""
    return Snapshot(header, Commit(), np.zeros(0, MEMBER_DTYPE), b"", np.zeros(0, MATCH_DTYPE))


def json_bytes(obj: Any) -> bytes:
    """Canonical JSON (sorted keys, no NaN) so equal documents dedupe to one blob."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, allow_nan=False,
                      default=_json_default).encode()


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays turn up in sampled hyperparameters and seeds
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-serializable")
