"""How the evaluator chooses and plays matches: ``EvaluationConfig`` (the ``[evaluation]`` section)."""

from __future__ import annotations

from dataclasses import dataclass

from league.checks import check_range
from league.errors import ConfigError
from league.evaluation.blocks import OUTCOMES
from league.evaluation.selection import SELECTION_RULES, rule_names

__all__ = ["EvaluationConfig"]


@dataclass
class EvaluationConfig:
    """How the evaluator chooses and plays matches."""

    rule: str = "info"
    """Match-selection rule: info, uniform or round_robin."""
    budget: int = 256
    """Matches played per evaluation (one call of Evaluator.run)."""
    uniform_share: float = 0.05
    """info: share of uniformly drawn seatings, so that no member or pair is starved."""
    closeness: float = 2.0
    """info: power on TrueSkill match quality; higher pits closer ratings against each other."""
    balance: float = 2.0
    """No member is seated once it has more than balance x the least-played member's games."""
    batch: int = 8
    """Seatings chosen before their results are applied (a parallel backend plays them at once)."""
    seed: int | None = None
    """Seed of the generator that picks seatings and match seeds (None: fresh entropy)."""
    episodes_per_match: int = 0
    """Deals per match, each played in every rotation of the seated members through the seats
    they share (a duplicate block, ``league.evaluation.blocks``); 0: the game's default
    (``Game.match_episodes``: many hands for poker, one game for board games)."""
    outcome: str = "returns"
    """How a block ranks its members: by summed returns ("returns") or by summed per-episode
    placings ("episode_ranks")."""
    placement: bool = True
    """Count each member's rated games so far (``Member.games``) when choosing the focal member and
    applying the balance cap: a member added late is then the focal of its matches until its
    games catch up with the others' (placement matches), so its sigma, and with it its
    conservative rating ``mu - 3 sigma``, is not held back by having arrived last.  False: count
    only this evaluator's games, so every member gets the same number of games per evaluation."""

    def __post_init__(self) -> None:
        if not isinstance(self.rule, str) or self.rule not in SELECTION_RULES:
            raise ConfigError(f"evaluation.rule = {self.rule!r}: expected one of {rule_names()}")
        check_range("evaluation.budget", self.budget, low=0, integer=True)
        check_range("evaluation.uniform_share", self.uniform_share, low=0.0, high=1.0)
        check_range("evaluation.closeness", self.closeness, low=0.0)
        check_range("evaluation.balance", self.balance, low=1.0)
        check_range("evaluation.batch", self.batch, low=1, integer=True)
        check_range("evaluation.seed", self.seed, integer=True, optional=True, accepted="an integer or none")
        check_range("evaluation.episodes_per_match", self.episodes_per_match, low=0, integer=True)
        if not isinstance(self.outcome, str) or self.outcome not in OUTCOMES:
            raise ConfigError(f"evaluation.outcome = {self.outcome!r}: expected one of {list(OUTCOMES)}")


# --------------------------------------------------------------------------------------------
# The evaluator.
# --------------------------------------------------------------------------------------------
