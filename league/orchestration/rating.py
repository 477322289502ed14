"""A turn's rating stage: the evaluator over the active members and the block player it plays with.

``turn_evaluator`` builds both; with ``before`` (the ratings and game counts the run state kept
when the turn's evaluation started) it rebuilds the evaluator exactly as that evaluation began,
so a resumed run can replay the logged matches and play only the rest (``Evaluator.run(replay=)``).
"""

from __future__ import annotations

import dataclasses

from envs import Game
from league.evaluation.blocks import BlockPlayer
from league.evaluation.evaluator import EvaluationConfig, Evaluator, RatingSystem
from league.evaluation.matches import MatchBackend
from league.pool import Pool
from ratings import PayoffTable

__all__ = ["turn_evaluator"]


def turn_evaluator(pool: Pool, game: Game, backend: MatchBackend, system: RatingSystem, cfg: EvaluationConfig, *,
                   seed: int, before: dict[str, list[float]] | None = None,
                   matches_before: int = 0) -> tuple[Evaluator, BlockPlayer]:
    """An evaluator over the active members, rated as in ``before`` (member id -> ``[mu, sigma,
    games]``; None: as the pool has them), seeded with ``seed``, and the block player its matches
    go to (``evaluation.episodes_per_match`` deals, or the game's default)."""
    members = pool.active()
    matches = pool.matches()
    if before is not None:
        init = [pool.initial_mu, pool.initial_sigma, 0]  # a member the turn added
        members = [dataclasses.replace(m, mu=float(r[0]), sigma=float(r[1]), games=int(r[2]))
                   for m in members for r in [before.get(str(m.id), init)]]
        matches = matches[:matches_before]
    seat_roles = {s: game.roles[s] for s in game.seats}
    symmetric = game.symmetric and len(set(seat_roles.values())) == 1
    evaluator = Evaluator(game.seats, members, symmetric=symmetric, seat_roles=None if symmetric else seat_roles,
                          config=dataclasses.replace(cfg, seed=seed), system=system, pool=pool,
                          payoff=PayoffTable.from_matches(matches))
    blocks = BlockPlayer(backend, game.seats, episodes=cfg.episodes_per_match or game.match_episodes,
                         outcome=cfg.outcome, seat_groups=evaluator.seat_groups, outcome_rule=game.outcome)
    return evaluator, blocks
