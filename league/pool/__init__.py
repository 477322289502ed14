"""The league pool: members, ratings, weights and the match log in one crash-safe directory.

Modules: ``core`` (``Pool``, the public API), ``members`` (``Member``, ``MatchRecord`` and the
lazy rows they load from), ``store`` (the HDF5 index's schema and low-level I/O), ``weights``
(safetensors weight files).
"""

from league.pool.core import Pool
from league.pool.members import MatchRecord, Member

__all__ = ["Pool", "Member", "MatchRecord"]
