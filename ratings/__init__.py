"""ratings: rating systems (TrueSkill, Elo), win-probability prediction, leaderboard rendering.

Imports nothing from ``league`` or ``envs``.
"""

from ratings.elo import Elo
from ratings.rating import Rating, conservative
from ratings.trueskill_system import TrueSkillSystem
from ratings.winprob import first_place_probability, win_probability

__all__ = [
    "Elo",
    "Rating",
    "TrueSkillSystem",
    "conservative",
    "first_place_probability",
    "win_probability",
]
