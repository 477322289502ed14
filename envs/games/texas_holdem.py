"""Limit Texas hold'em (PettingZoo classic ``texas_holdem_v4``, RLCard), 4 players by default."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
from pettingzoo.classic.rlcard_envs import texas_holdem
from rlcard.utils import seeding

from envs.errors import GameConfigError
from envs.game import Game
from envs.games._common import random_reference, seat_roles

_ACTIONS = {"call": 0, "raise": 1, "fold": 2, "check": 3}
"""RLCard's action names -> PettingZoo's action indices (``LimitholdemEnv.actions``' order)."""


def _no_state(player: int) -> None:
    return None


@functools.lru_cache(maxsize=4096)
def _rlcard_key(seed: int) -> tuple[int, ...]:
    """RLCard's ``seeding.np_random(seed)`` key for ``RandomState.seed``; cached because a
    rating block deals each of its seeds once per seat rotation (the hash is a SHA-512)."""
    return tuple(seeding._int_list_from_bigint(seeding.hash_seed(seeding.create_seed(seed))))


class RawEnv(texas_holdem.raw_env):
    """PettingZoo's raw hold'em env, seeded in place and stepped without unread observations.

    PettingZoo seeds a reset by rebuilding the RLCard env (``rlcard.make``: a new game, a JSON
    read, a fresh ``RandomState`` from OS entropy), ~0.5 ms; evaluation seeds every match.
    Reseeding the env's generator with RLCard's own seed derivation deals the same cards
    (``tests/test_match_engine.py`` compares them with the stock env) in ~0.06 ms.

    A stock step builds three observations nobody reads (RLCard's ``Env.step`` encodes the
    next player's state, RLCard's ``Game.step`` builds a state dict to return, PettingZoo
    encodes the mover's into ``_last_obs``) and a stock reset two. Here ``reset`` and ``step``
    play the same transitions on RLCard's game directly (the same deal, action decoding,
    action record and legal moves; the same rewards, flags and agent order), so the one
    observation the engine needs (``observe`` or ``read_hand``) is the only one built.
    The same tests compare every hand's observations, flags and rewards with the stock env's.
    """

    def _seed(self, seed: int | None = None) -> None:
        if seed is None or not (isinstance(seed, int) and seed >= 0):
            super()._seed(seed)  # RLCard's own checks and entropy
            return
        rng = self.env.np_random
        rng.seed(_rlcard_key(seed))
        self.env.game.np_random = rng

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        if seed is not None:
            self._seed(seed=seed)
        rl = self.env
        game = rl.game
        game.get_state = _no_state  # init_game builds the first state only to return it
        try:
            player_id = game.init_game()[1]
        finally:
            del game.get_state
        rl.action_recorder = []
        agents = self.possible_agents
        # Hole cards are dealt once a hand: read_hand takes their feature indices from here.
        card = rl.card2index
        self.hole = {a: [card[c.suit + c.rank] for c in p.hand] for a, p in zip(agents, game.players)}
        self.agents = agents[:]
        self.agent_selection = agents[player_id]
        self.rewards = dict.fromkeys(agents, 0)
        self._cumulative_rewards = dict.fromkeys(agents, 0)
        self.terminations = dict.fromkeys(agents, False)
        self.truncations = dict.fromkeys(agents, False)
        self.infos = {a: {} for a in agents}
        self.next_legal_moves = sorted(_ACTIONS[a] for a in game.get_legal_actions())
        self._last_obs = None  # the stock env's copy of the first observation; nothing reads it

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            return self._was_dead_step(action)
        rl = self.env
        game = rl.game
        # RLCard's _decode_action: an illegal action becomes check, else fold (next_legal_moves
        # are the mover's legal actions, what RLCard would ask the game for again).
        name = rl.actions[action]
        legal = self.next_legal_moves
        if _ACTIONS[name] not in legal:
            name = "check" if _ACTIONS["check"] in legal else "fold"
        rl.timestep += 1
        rl.action_recorder.append((game.game_pointer, name))
        game.get_state = _no_state  # Game.step builds the next state only to return it
        try:
            player_id = game.step(name)[1]
        finally:
            del game.get_state
        agents = self.possible_agents
        if game.is_over():
            self.rewards = dict(zip(agents, game.get_payoffs()))
            self.next_legal_moves = []
            self.terminations = dict.fromkeys(agents, True)
            self.truncations = dict.fromkeys(agents, False)
            self._cumulative_rewards[agent] = 0
            self.agent_selection = agents[player_id]
            self._accumulate_rewards()
            self._deads_step_first()
        else:
            # Mid-hand every reward is 0 and nobody is out, so PettingZoo's reward accumulation
            # and dead-agent ordering would change nothing.
            self.next_legal_moves = [_ACTIONS[a] for a in game.get_legal_actions()]
            self.agent_selection = agents[player_id]
        if self.render_mode == "human":
            self.render()


def read_hand(env: RawEnv, seat: str) -> tuple[list[int], list[int]]:
    """The one-hot features of ``seat`` (the board and its cards, each betting round's raise
    count) and the legal actions of the seat to move: what ``env.observe`` encodes, read off
    RLCard's game without building its state dicts (the hole cards' indices come from
    ``RawEnv.hole``, set at each reset)."""
    rl = env.env
    game = rl.game
    card = rl.card2index
    hot = [card[c.suit + c.rank] for c in game.public_cards]
    hot += env.hole[seat]
    hot += [52 + 5 * i + n for i, n in enumerate(game.history_raise_nums)]
    return hot, env.next_legal_moves


class HandEncoder:
    """``read_hand`` output as PettingZoo's 72 observation features and the 4-action mask:
    one row (``encoder(raw, obs_row, mask_row)``, the ``Game.encoder`` contract) or a whole
    batch at once (``rows``, which ``envs.engine.npc`` uses: one scatter per batch)."""

    def __call__(self, raw: tuple[list[int], list[int]], obs_row: np.ndarray, mask_row: np.ndarray) -> None:
        hot, legal = raw
        obs_row[:] = 0.0
        obs_row[hot] = 1.0
        mask_row[:] = False
        mask_row[legal] = True

    def rows(self, raws: Sequence[tuple[list[int], list[int]]], obs: np.ndarray, mask: np.ndarray) -> None:
        """Encode ``raws`` into the first ``len(raws)`` rows of ``obs`` and ``mask``."""
        rows: list[int] = []
        cols: list[int] = []
        mask_rows: list[int] = []
        mask_cols: list[int] = []
        for b, (hot, legal) in enumerate(raws):
            rows += [b] * len(hot)
            cols += hot
            mask_rows += [b] * len(legal)
            mask_cols += legal
        n = len(raws)
        obs[:n] = 0.0
        obs[rows, cols] = 1.0
        mask[:n] = False
        mask[mask_rows, mask_cols] = True


encode_hand = HandEncoder()


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
        encoder=encode_hand, observe=read_hand, references={"random": random_reference},
        config={"num_players": num_players, "roles": roles},
        # One hand is mostly the cards: a rating match is a block of 8 shared deals, what the
        # default run's 5-minute budget affords; raise evaluation.episodes_per_match for longer runs.
        match_episodes=8)
