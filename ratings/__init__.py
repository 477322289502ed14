"""ratings: rating systems (TrueSkill, Elo), win-probability prediction, leaderboard rendering.

Imports nothing from ``league`` or ``envs``.
"""

__all__: list[str] = []
