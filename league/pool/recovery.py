"""Opening a pool for writing after whatever the last writer left: recovery and rebuild.

A writer killed with ``index.h5`` open leaves the file flagged "open for write", which HDF5
then refuses to open for writing again (pip's h5py has no ``h5clear``).  The next writer holds
the lock (``league.pool.lock``), so the old one is certainly dead: it rebuilds the index from
its committed contents into a temporary file and ``os.replace``s it, keeping a hard-linked
backup until done.  (It does the same when this process has the index open read-only, which
HDF5 forbids to combine with a read-write open.)  Readers notice the new inode and follow it
(``league.pool.reader``).  Then it finishes a logged match whose ratings were not yet copied
into the rows, and removes weights files no committed row names.  An index of an older schema
is rewritten at the current one the same way (the migration; readers read old ones as they are).
"""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
from pathlib import Path

import numpy as np

from league.pool import store
from league.pool.weights import WEIGHTS_DIR
from league.pool.failures import write_error
from league.pool.tables import abandoned_here
from league.pool.writer import Writer

__all__ = ["BACKUP_FILE", "open_for_writing"]

BACKUP_FILE = store.INDEX_FILE + ".bak"   # the old index while a rebuild replaces it
_REBUILD_TMP = store.INDEX_FILE + ".rebuild.tmp"


def open_for_writing(root: Path, writer: Writer) -> None:
    """With the lock held: restore, validate, rebuild a dead writer's index, open, clean up."""
    index = root / store.INDEX_FILE
    backup = root / BACKUP_FILE
    (root / _REBUILD_TMP).unlink(missing_ok=True)  # a rebuild that died
    if backup.exists():
        if index.exists():   # a rebuild finished but did not get to remove its backup
            backup.unlink()
        else:                # cannot happen with os.replace, but never lose the data
            os.replace(backup, index)
    if abandoned_here(index):
        _fresh_inode(root)
    # Validate with a read-only open first, so a bad or newer pool is not touched at all.
    f = store.open_reader(index)
    try:
        snap = store.read_snapshot(f, index)
    finally:
        f.close()
    if snap.header.schema_version < store.SCHEMA_VERSION:
        # An older pool: rewrite its index at the current schema (members added before keep
        # an empty digest: unverified), then write as usual.  Readers follow the new file.
        snap = dataclasses.replace(snap, header=dataclasses.replace(snap.header,
                                                                    schema_version=store.SCHEMA_VERSION))
        _rebuild(root, snap)
        backup.unlink()
    try:
        writer.open(snap)
    except store.IndexBusyError:
        # The previous writer died with the file open (we hold its lock, so it is gone), or
        # a reader in this process has it open: write a fresh copy and replace it.
        _rebuild(root, snap)
        writer.open(snap)
        backup.unlink()
    if writer.view.applied != writer.view.n_matches:
        writer.apply_pending()
    _clean_weights_dir(root, writer.view.rows.view())


def _fresh_inode(root: Path) -> None:
    """Put a byte copy of ``index.h5`` in its place: the same contents (flagged open, so it is
    rebuilt below) under a new inode, which HDF5 opens afresh instead of sharing the broken file
    this process abandoned after a failed write."""
    index, tmp = root / store.INDEX_FILE, root / _REBUILD_TMP
    try:
        shutil.copyfile(index, tmp)
        os.replace(tmp, index)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(exc, root, "rewrite the index (after a failed write)") from exc


def _rebuild(root: Path, snap: store.Snapshot) -> None:
    """Replace ``index.h5`` by a fresh file holding ``snap``; the old one stays as the backup."""
    index = root / store.INDEX_FILE
    tmp = root / _REBUILD_TMP
    backup = root / BACKUP_FILE
    try:
        store.write_index(tmp, snap)
        try:
            os.link(index, backup)
        except OSError as exc:  # a filesystem without hard links
            if exc.errno in (errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EROFS):
                raise
            shutil.copy2(index, backup)
        os.replace(tmp, index)
    except OSError as exc:
        # The old index is still in place (os.replace is the last step): drop the partial copies.
        tmp.unlink(missing_ok=True)
        if index.exists():
            backup.unlink(missing_ok=True)
        raise write_error(exc, root, "rewrite the index (after a dead writer, or to migrate it)") from exc


def _clean_weights_dir(root: Path, rows: np.ndarray) -> None:
    """Remove what a dead writer left: temp files, files of uncommitted or deleted members."""
    wdir = root / WEIGHTS_DIR
    wdir.mkdir(exist_ok=True)
    for entry in os.scandir(wdir):
        name = entry.name
        stem = name.split(".", 1)[0]
        if name.endswith(".tmp"):
            os.unlink(entry.path)
        elif name.endswith(".safetensors") and stem.isdigit():
            i = int(stem)
            if i >= len(rows) or rows[i]["stored"] != store.STORED_FILE:
                os.unlink(entry.path)
