"""envs: PettingZoo games as single-agent self-play Gymnasium envs, batched matches, the registry.

Imports nothing from ``league``; opponents arrive through the protocol in ``envs.opponents``.
"""

from envs.errors import GameConfigError, GameError, IllegalActionError, UnknownGameError, UnsupportedSpaceError
from envs.game import Game, Outcome, ranks_from_returns
from envs.match import Match, MatchEngine, MatchResult
from envs.opponents import (FixedOpponents, MemberId, OpponentSource, Policy, PolicyCache,
                            ReferenceOpponents)
from envs.reference import UniformRandomPolicy, sample_from_probs
from envs.derive import from_pettingzoo
from envs.registry import games, make, register
from envs.selfplay import SelfPlayEnv, SelfPlayVecEnv

__all__ = [
    "make", "games", "register", "from_pettingzoo", "Game", "Outcome", "ranks_from_returns",
    "SelfPlayEnv", "SelfPlayVecEnv", "Match", "MatchEngine", "MatchResult",
    "Policy", "OpponentSource", "MemberId", "PolicyCache", "FixedOpponents", "ReferenceOpponents",
    "UniformRandomPolicy", "sample_from_probs",
    "GameError", "UnknownGameError", "GameConfigError", "UnsupportedSpaceError", "IllegalActionError",
]
