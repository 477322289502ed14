"""The league pool: members, ratings, weights and the match log in one crash-safe directory.

Modules: ``core`` (``Pool``: the public API), ``validation`` (its argument checks and the
injected weights check), ``session`` (an open pool directory: lock, reader or writer),
``view`` (the in-memory copy of the committed index), ``writer`` (the commit protocol and the
match write-ahead log), ``reader`` (following the writer's commits, with retries),
``recovery`` (opening after a dead writer: rebuilding its index), ``lock`` (the writer lock),
``members`` (``Member``, ``MatchRecord`` and the lazy rows they load from), ``store`` (the HDF5
index's schema and low-level I/O), ``weights`` (safetensors weight files).  Importing the pool
does not import torch.
"""

from league.pool.core import Pool
from league.pool.members import MatchRecord, Member

__all__ = ["Pool", "Member", "MatchRecord"]
