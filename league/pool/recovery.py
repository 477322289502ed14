"""Opening a pool for writing after whatever the last writer left: recovery and rebuild.

A writer killed with ``index.h5`` open leaves the file flagged "open for write", which HDF5
then refuses to open for writing again (pip's h5py has no ``h5clear``).  The next writer holds
the lock (``league.pool.lock``), so the old one is certainly dead: it rebuilds the index from
its committed contents into a temporary file and ``os.replace``s it, keeping a hard-linked
backup until done.  (It does the same when this process has the index open read-only, which
HDF5 forbids to combine with a read-write open.)  Readers notice the new inode and follow it
(``league.pool.reader``).  Then it finishes a logged match whose ratings were not yet copied
into the rows, and removes weights files no committed row names.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from league.pool import store
from league.pool.weights import WEIGHTS_DIR
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
    # Validate with a read-only open first, so a bad or newer pool is not touched at all.
    f = store.open_reader(index)
    try:
        snap = store.read_snapshot(f, index)
    finally:
        f.close()
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


def _rebuild(root: Path, snap: store.Snapshot) -> None:
    """Replace ``index.h5`` by a fresh file holding ``snap``; the old one stays as the backup."""
    index = root / store.INDEX_FILE
    tmp = root / _REBUILD_TMP
    store.write_index(tmp, snap)
    try:
        os.link(index, root / BACKUP_FILE)
    except OSError:  # a filesystem without hard links
        shutil.copy2(index, root / BACKUP_FILE)
    os.replace(tmp, index)


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
