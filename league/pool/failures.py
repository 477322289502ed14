"""Failed writes: room checked before writing, rollback when a write fails, one-line errors.

Each writer operation first checks the file system has room for what it writes plus a margin
(``ensure_room``).  A failure past that point happened before the operation's commit record was
written, so the pool on disk is as it was before; ``WriteGuard`` then rolls the writer's view back
to that commit, removes the weights files it had just written, marks the writer broken and raises
``PoolWriteError`` (``write_error``: one line, naming the cause and what to do).
"""

from __future__ import annotations

import dataclasses
import errno as errno_codes
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from league.errors import PoolWriteError

if TYPE_CHECKING:
    from league.pool.writer import Writer

__all__ = ["WriteGuard", "write_error", "ensure_room"]

# Room an operation needs beyond its own bytes: HDF5 grows tables by whole chunks (~1 MB at most
# with the chunk sizes in ``store``) and rewrites metadata at each flush.
_FREE_MARGIN = 1 << 20


def ensure_room(path: Path, nbytes: int, what: str) -> None:
    """Refuse, before writing anything, an operation the file system at ``path`` has no room for."""
    try:
        st = os.statvfs(path)
    except OSError:   # cannot tell: let the writes themselves find out
        return
    free = st.f_bavail * st.f_frsize
    if free < nbytes + _FREE_MARGIN:
        raise PoolWriteError(
            f"no room to {what} in pool {path}: {free / 2**20:.1f} MiB free, it needs about "
            f"{(nbytes + _FREE_MARGIN) / 2**20:.1f} MiB; nothing was written — free disk space and "
            "try again", errno_codes.ENOSPC)


_H5_ERRNO = re.compile(r"errno = (\d+)")


def write_error(exc: OSError | RuntimeError, path: Path, what: str, *,
                committed: str | None = None) -> PoolWriteError:
    """A failed write as a one-line ``PoolWriteError`` that keeps its errno (``committed``: what
    of the operation had been committed before it failed; default: nothing)."""
    if isinstance(exc, PoolWriteError):
        return exc
    code = getattr(exc, "errno", None)
    if code is None:   # h5py reports the failed write's errno inside its message
        m = _H5_ERRNO.search(str(exc))
        code = int(m.group(1)) if m else None
    reason = os.strerror(code) if code else " ".join(str(exc).split())[:200]
    hint = {errno_codes.ENOSPC: "free disk space", errno_codes.EDQUOT: "free disk space (quota)",
            errno_codes.EIO: "check the disk (I/O error)", errno_codes.EROFS: "remount it read-write",
            errno_codes.EACCES: "fix the permissions"}.get(code or 0, "fix the cause")
    done = committed or "nothing of it was committed (the pool is as it was before)"
    return PoolWriteError(f"could not {what} in pool {path}: {reason}; {done} — {hint}, then open the "
                          "pool again to continue", code)


class WriteGuard:
    """One operation of the writer: remembers the view as of the last commit; when a write
    fails, restores it, removes new weights files, marks the writer broken and raises
    ``PoolWriteError`` (for an ``OSError``; other errors propagate as they are)."""

    def __init__(self, writer: Writer, what: str, committed: str | None) -> None:
        self.writer = writer
        self.what = what
        self.committed = committed
        self.outer = True
        self.new_files: list[Path] = []
        self.new_blobs: list[bytes] = []
        self.old_rows: dict[int, np.ndarray] = {}

    def __enter__(self) -> WriteGuard:
        w = self.writer
        if w.active_guard is not None:   # nested: the outer one restores
            self.outer = False
            return w.active_guard
        v = w.view
        self.n_rows, self.n_match_rows, self.n_blobs = v.rows.n, v.match_rows.n, len(v.blobs)
        self.saved = (v.commit, v.n_matches, v.applied, v.state_ptr, set(w.dirty), list(w.next_version))
        w.active_guard = self
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if not self.outer:
            return
        w = self.writer
        w.active_guard = None
        if exc is None:
            return
        w.broken = f"{exc_type.__name__}: {' '.join(str(exc).split())[:200]}"
        self._restore()
        # h5py raises a failed flush as RuntimeError, naming the write's errno in its message.
        if isinstance(exc, OSError) or (isinstance(exc, RuntimeError) and _H5_ERRNO.search(str(exc))):
            raise write_error(exc, w.path, self.what, committed=self.committed) from exc

    def _restore(self) -> None:
        w, v = self.writer, self.writer.view
        for path in self.new_files:
            try:
                path.unlink(missing_ok=True)
            except OSError:   # the next writer's recovery removes it
                pass
        for i, row in self.old_rows.items():
            v.rows.buf[i] = row
        v.forget(range(self.n_rows, v.rows.n))
        v.rows.n, v.match_rows.n = self.n_rows, self.n_match_rows
        del v.members_cache[self.n_rows:]
        del v.match_cache[self.n_match_rows:]
        del v.blobs[self.n_blobs:]
        for off in [o for o in v.heap.cache if o >= self.n_blobs]:
            del v.heap.cache[off]
        for data in self.new_blobs:
            w.dedupe.pop(data, None)
        v.commit, v.n_matches, v.applied, v.state_ptr, w.dirty, w.next_version = self.saved
        self._repair_file()

    def _repair_file(self) -> None:
        """Undo in the file what readers (and the next writer) could see of the failed operation:
        rows rewritten in place get their old values back, and when a commit record of it was
        written, a newer one with the old counts supersedes it (a new generation, so that readers
        which saw the failed one reload).  Best effort: the disk may refuse these writes too."""
        w, v = self.writer, self.writer.view
        if w.file is None:
            return
        try:
            for i, row in sorted(self.old_rows.items()):
                w.file.write_span("members", i, row.reshape(1))
            if w.gen_written > v.commit.gen:
                c = dataclasses.replace(v.commit, gen=w.gen_written + 1)
                w.gen_written = c.gen
                w.file.write_commit(c)
                v.commit = c
            w.file.flush()
        except Exception:  # noqa: BLE001 - the first error is the one reported
            pass
