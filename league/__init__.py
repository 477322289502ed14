"""league: population-based self-play for PettingZoo games.

Public names are re-exported here; ``tests/test_public_api.py`` keeps ``__all__`` honest.
"""

from league.errors import *  # noqa: F401,F403
from league.errors import __all__ as _errors_all
from league.policies import ActorCritic, NetworkPolicy, build_network, build_policy, load_network, mlp_spec

__version__ = "0.1.0"

__all__ = [
    *_errors_all,
    "ActorCritic",
    "NetworkPolicy",
    "build_network",
    "build_policy",
    "load_network",
    "mlp_spec",
]
