"""An open pool directory: its lock, its reader or writer, and the view they share.

``Session`` wires the parts of ``league.pool`` together for one ``Pool`` and opens and closes
them as a unit: ``mode="r"`` is a ``Reader``; ``mode="a"`` is the writer lock
(``league.pool.lock``) and a ``Writer``, opened through ``league.pool.recovery``.  Whatever
fails while opening closes what was opened and releases the lock.  ``Pool``
(``league.pool.core``) puts the public API and its validation on top.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from league.errors import PoolError, PoolExistsError, PoolReadOnlyError
from league.pool import lock, recovery, store
from league.pool.reader import Reader
from league.pool.view import IndexView
from league.pool.writer import Writer

__all__ = ["Session"]


class Session:
    """One open pool directory; build one with ``Session.create`` or ``Session.open``."""

    def __init__(self, path: Path, mode: Literal["r", "a"], *, fsync: bool = False) -> None:
        self.path = path
        self.mode = mode
        self.closed = False
        self.lock_fd: int | None = None
        self.view = IndexView(path)
        self.reader = Reader(path, self.view) if mode == "r" else None
        self.writer = Writer(path, self.view, fsync=fsync) if mode == "a" else None

    @classmethod
    def create(cls, root: Path, header: store.Header, *, fsync: bool) -> Session:
        """A new pool in ``root`` (checked to hold none), opened for writing."""
        root.mkdir(parents=True, exist_ok=True)
        s = cls(root, "a", fsync=fsync)
        with s._released_on_error():
            s.lock_fd = lock.acquire(root)
            if (root / store.INDEX_FILE).exists():  # another process created it while we took the lock
                raise PoolExistsError(f"{root} already holds a pool; open it with Pool.open")
            s.writable().create(header)
        return s

    @classmethod
    def open(cls, root: Path, mode: Literal["r", "a"], *, fsync: bool) -> Session:
        """The existing pool in ``root``, to read or (one writer, recovering) to write."""
        s = cls(root, mode, fsync=fsync)
        with s._released_on_error():
            if s.reader is not None:
                s.reader.open()
            else:
                s.lock_fd = lock.acquire(root)
                recovery.open_for_writing(root, s.writable())
        return s

    def close(self) -> None:
        """Commit anything pending, close the index and release the writer lock."""
        if self.closed:
            return
        try:
            if self.writer is not None:
                self.writer.finish()
        finally:
            self.release()

    def release(self) -> None:
        """Close the index and release the lock, committing nothing."""
        self.closed = True
        if self.writer is not None:
            self.writer.close()
        if self.reader is not None:
            self.reader.close()
        if self.lock_fd is not None:
            lock.release(self.lock_fd)
            self.lock_fd = None

    def sync(self) -> None:
        """Before a query: readers pick up the writer's latest commit."""
        if self.closed:
            raise PoolError(f"pool {self.path} is closed; open it again with Pool.open")
        if self.reader is not None:
            self.reader.sync()

    def writable(self) -> Writer:
        """The writer, when writing is allowed now."""
        if self.closed:
            raise PoolError(f"pool {self.path} is closed; open it again with Pool.open(..., mode='a')")
        if self.writer is None:
            raise PoolReadOnlyError(f"pool {self.path} was opened read-only; open it with mode='a' to write "
                                    "(one writer at a time)")
        if self.writer.broken is not None:
            raise PoolError(f"an earlier write to pool {self.path} failed ({self.writer.broken}); "
                            "close it and open it again to recover")
        return self.writer

    @contextmanager
    def _released_on_error(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self.release()
            raise
