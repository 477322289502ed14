"""The index file opened read-write: spans of its growable 1-D tables and the commit record.

``TableFile`` is the writer's only way into ``index.h5`` (``league.pool.writer``).  A file whose
write failed is abandoned open (HDF5 crashes closing it), and ``abandoned_here`` tells a later
open in the same process not to reuse it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from league.pool import store

__all__ = ["TableFile", "abandoned_here"]


class TableFile:
    """The index opened read-write: spans of its 1-D tables, which grow by whole chunks, and the
    commit record.  SWMR is on from the first moment (see ``store.open_writer``)."""

    def __init__(self, index: Path, *, fsync: bool) -> None:
        self.fsync = fsync
        self.f = store.open_writer(index)
        st = os.stat(index)
        self.inode = (st.st_dev, st.st_ino)
        try:
            self.ds = store.datasets(self.f, index)
        except BaseException:
            self.close()
            raise
        self.caps: dict[str, int] = {}     # allocated rows of each table in the file
        self.ftypes: dict[str, Any] = {}   # HDF5 type of each table

    def write_span(self, name: str, start: int, data: np.ndarray) -> None:
        """Write ``data`` at ``start`` of a 1-D table, growing it by whole chunks.

        Low-level h5py calls: the high-level ``ds[a:b] = x`` costs ~0.2 ms of Python per call.
        """
        ds = self.ds[name]
        end = start + len(data)
        cap = self.caps.get(name)
        if cap is None:
            cap = self.caps[name] = ds.shape[0]
        if end > cap:
            chunk = ds.chunks[0]
            cap = -(-max(end, cap + cap // 4) // chunk) * chunk
            ds.resize((cap,))
            self.caps[name] = cap
        fspace = ds.id.get_space()
        fspace.select_hyperslab((start,), (len(data),))
        ftype = self.ftypes.get(name)
        if ftype is None:
            # Naming the file's own type as the memory type skips building a new compound
            # type and conversion path per call (150 -> 45 us a row).
            ftype = self.ftypes[name] = ds.id.get_type()
        ds.id.write(h5py.h5s.create_simple((len(data),)), fspace, np.ascontiguousarray(data), mtype=ftype)

    def write_commit(self, c: store.Commit) -> None:
        """Write commit record ``c`` into its slot (alternating by generation)."""
        ds = self.ds["counts"]
        fspace = ds.id.get_space()
        fspace.select_hyperslab((c.gen % 2, 0), (1, 8))
        ds.id.write(h5py.h5s.create_simple((1, 8)), fspace, c.encode().reshape(1, 8))

    def flush(self) -> None:
        self.f.flush()
        if self.fsync:
            os.fsync(self.f.id.get_vfd_handle())

    def close(self, *, failed: bool = False) -> None:
        """Close the file; ``failed``: an earlier write failed, so abandon it open instead.

        HDF5 (2.0) crashes the process when it closes a file whose flush failed (it tries the
        failed metadata writes again).  Such a file is left open, never touched again, until the
        process exits; on disk it is flagged "open for write" like a dead writer's, and the next
        writer rebuilds it from its last commit (``league.pool.recovery``).
        """
        if failed:
            _ABANDONED.append(self)   # its datasets too: releasing any id makes HDF5 retry
            # Locked ids are never released, not even when the interpreter exits and frees
            # them (which crashed the process: "Can't decrement id ref count").
            for obj in (self.f, *self.ds.values()):
                obj.id.locked = True
            return
        try:
            self.f.close()
        except Exception:  # closing after a failed write must not hide the first error
            pass


_ABANDONED: list[TableFile] = []   # files whose writes failed: see ``TableFile.close``


def abandoned_here(index: Path) -> bool:
    """True when this process left ``index`` open after a failed write (``TableFile.close``).

    HDF5 shares one open file per inode within a process, so opening it again here would reuse
    the abandoned file's broken state (``RuntimeError: Can't decrement id ref count``).
    """
    try:
        st = os.stat(index)
    except OSError:
        return False
    return any(t.inode == (st.st_dev, st.st_ino) for t in _ABANDONED)


