"""Predator-prey tag (``mpe2`` ``simple_tag_v3``): 3 adversaries chase 1 agent, parallel API.

Returns of the two sides are not comparable (an adversary earns +10 per tag, the agent loses
10 per tag and more for leaving the arena), so the outcome is decided by team: the adversaries
win (all adversary seats rank 1, the agent 2) if they tagged the agent at least once during the
episode, otherwise the agent wins (rank 1, adversaries 2). A tag shows as a positive adversary
return, since adversary rewards (unshaped) come only from tags.
"""

from __future__ import annotations

from collections.abc import Mapping

from mpe2.simple_tag import simple_tag
from pettingzoo.utils.conversions import aec_to_parallel

from envs.errors import GameConfigError
from envs.game import Game, box_encoder
from envs.games._common import random_reference, seat_roles

ADVERSARY, AGENT = "adversary", "agent"


def tag_outcome(returns: Mapping[str, float]) -> dict[str, int]:
    """Team ranks: adversaries first if any adversary return is positive (a tag), else the agent."""
    tagged = any(r > 0 for s, r in returns.items() if s.startswith("adversary"))
    return {s: (1 if s.startswith("adversary") == tagged else 2) for s in returns}


def game(max_cycles: int = 25, num_obstacles: int = 2, roles: dict[str, str] | None = None) -> Game:
    """4 seats (``adversary_0..2``, ``agent_0``) in 2 roles, ``"adversary"`` and ``"agent"``
    (the adversary role is a team: one member plays all three adversary seats);
    5 discrete unmasked actions; 16 (adversary) / 14 (agent) observation features; episodes are
    truncated after ``max_cycles`` steps."""
    if not isinstance(max_cycles, int) or max_cycles < 1:
        raise GameConfigError(f"simple_tag max_cycles must be a positive integer, got {max_cycles!r}")
    if not isinstance(num_obstacles, int) or num_obstacles < 0:
        raise GameConfigError(f"simple_tag num_obstacles must be a non-negative integer, "
                              f"got {num_obstacles!r}")

    def new_env():
        return aec_to_parallel(simple_tag.raw_env(num_good=1, num_adversaries=3, num_obstacles=num_obstacles,
                                                  max_cycles=max_cycles, continuous_actions=False))

    probe = new_env()
    seats = tuple(probe.possible_agents)
    dims = {s: int(probe.observation_space(s).shape[0]) for s in seats}
    acts = {s: int(probe.action_space(s).n) for s in seats}
    default = {s: (ADVERSARY if s.startswith("adversary") else AGENT) for s in seats}
    return Game(
        name="simple_tag", seats=seats, roles=seat_roles(seats, roles, default), api="parallel",
        symmetric=False, masked=False, env_fn=new_env, obs_dims=dims, action_counts=acts,
        encoder=box_encoder, references={"random": random_reference}, outcome_rule=tag_outcome,
        teams=default,  # the sides, whatever roles the seats are bound to
        obs_bounds=(-float("inf"), float("inf")),
        config={"max_cycles": max_cycles, "num_obstacles": num_obstacles, "roles": roles})
