"""The pool's single-writer lock: an exclusive ``flock`` on ``<pool>/writer.lock``.

A pool has one writer.  The lock is a kernel ``flock``, so the OS drops it the moment the
writer dies however it dies; the next writer can then trust that nobody else is writing (which
is what lets ``league.pool.recovery`` rebuild an index a dead writer left open).  The file holds
the holder's pid, only so that the error a second writer gets can name it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from league.errors import PoolLockedError, PoolNotFoundError

__all__ = ["LOCK_FILE", "acquire", "release"]

LOCK_FILE = "writer.lock"


def acquire(root: Path) -> int:
    """Take the writer lock of the pool at ``root`` without waiting; returns its file descriptor.

    Raises ``PoolLockedError`` (naming the holder's pid) when another process holds it.
    """
    try:
        fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
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
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError:  # a full disk: the note only names the holder in errors, the flock is the lock
        pass
    return fd


def release(fd: int) -> None:
    """Release the lock (closing the descriptor drops the flock)."""
    os.close(fd)
