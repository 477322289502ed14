"""Limit Texas hold'em (PettingZoo classic ``texas_holdem_v4``, RLCard), 4 players by default."""

from __future__ import annotations

from pettingzoo.classic.rlcard_envs import texas_holdem
from rlcard.utils import seeding

from envs.errors import GameConfigError
from envs.game import Game, dict_obs_encoder
from envs.games._common import random_reference, seat_roles


class RawEnv(texas_holdem.raw_env):
    """PettingZoo's raw hold'em env, seeded in place.

    PettingZoo seeds a reset by rebuilding the RLCard env (``rlcard.make``: a new game, a JSON
    read, a fresh ``RandomState`` from OS entropy), ~0.5 ms; evaluation seeds every match.
    Reseeding the env's generator with RLCard's own seed derivation deals the same cards
    (``tests/test_match_engine.py`` compares them with the stock env) in ~0.06 ms.
    """

    def _seed(self, seed: int | None = None) -> None:
        if seed is None or not (isinstance(seed, int) and seed >= 0):
            super()._seed(seed)  # RLCard's own checks and entropy
            return
        rng = self.env.np_random
        rng.seed(seeding._int_list_from_bigint(seeding.hash_seed(seeding.create_seed(seed))))
        self.env.game.np_random = rng


def game(num_players: int = 4, roles: dict[str, str] | None = None) -> Game:
    """``num_players`` symmetric seats (rotated in evaluation: positions differ), 72 observation
    features (cards and raise counts, as RLCard encodes them), 4 masked actions
    (call, raise, fold, check). Ranks come from the chips won."""
    if not isinstance(num_players, int) or not 2 <= num_players <= 10:
        raise GameConfigError(f"texas_holdem num_players must be an integer in 2..10, got {num_players!r}")
    seats = tuple(f"player_{i}" for i in range(num_players))
    return Game(
        name="texas_holdem", seats=seats, roles=seat_roles(seats, roles), api="aec", symmetric=True,
        masked=True, env_fn=lambda: RawEnv(num_players=num_players),
        obs_dims=dict.fromkeys(seats, 72), action_counts=dict.fromkeys(seats, 4),
        encoder=dict_obs_encoder, references={"random": random_reference},
        config={"num_players": num_players, "roles": roles},
        # One hand is mostly the cards: a rating match is a block of 8 shared deals, what the
        # default run's 5-minute budget affords; raise evaluation.episodes_per_match for longer runs.
        match_episodes=8)
