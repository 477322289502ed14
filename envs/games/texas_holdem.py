"""Limit Texas hold'em (PettingZoo classic ``texas_holdem_v4``, RLCard), 4 players by default."""

from __future__ import annotations

from pettingzoo.classic.rlcard_envs import texas_holdem

from envs.errors import GameConfigError
from envs.game import Game, dict_obs_encoder
from envs.games._common import random_reference, seat_roles


def game(num_players: int = 4, roles: dict[str, str] | None = None) -> Game:
    """``num_players`` symmetric seats (rotated in evaluation: positions differ), 72 observation
    features (cards and raise counts, as RLCard encodes them), 4 masked actions
    (call, raise, fold, check). Ranks come from the chips won."""
    if not isinstance(num_players, int) or not 2 <= num_players <= 10:
        raise GameConfigError(f"texas_holdem num_players must be an integer in 2..10, got {num_players!r}")
    seats = tuple(f"player_{i}" for i in range(num_players))
    return Game(
        name="texas_holdem", seats=seats, roles=seat_roles(seats, roles), api="aec", symmetric=True,
        masked=True, env_fn=lambda: texas_holdem.raw_env(num_players=num_players),
        obs_dims=dict.fromkeys(seats, 72), action_counts=dict.fromkeys(seats, 4),
        encoder=dict_obs_encoder, references={"random": random_reference},
        config={"num_players": num_players, "roles": roles})
