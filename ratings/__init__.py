"""ratings: rating systems (TrueSkill, Elo), win-probability prediction, the empirical payoff table,
leaderboard rendering.

Imports nothing from ``league`` or ``envs``.
"""

from ratings.elo import Elo
from ratings.export import LeaderboardRow, leaderboard_rows
from ratings.export import render as render_leaderboard
from ratings.fit import TrueSkillFit, fit_trueskill, predictive_log_likelihood
from ratings.payoff import PayoffTable
from ratings.rating import Rating, conservative
from ratings.replay import replay_elo, replay_trueskill
from ratings.trueskill_system import TrueSkillSystem
from ratings.winprob import first_place_probability, win_probability

__all__ = [
    "Elo",
    "LeaderboardRow",
    "PayoffTable",
    "Rating",
    "TrueSkillFit",
    "TrueSkillSystem",
    "conservative",
    "first_place_probability",
    "fit_trueskill",
    "leaderboard_rows",
    "predictive_log_likelihood",
    "render_leaderboard",
    "replay_elo",
    "replay_trueskill",
    "win_probability",
]
