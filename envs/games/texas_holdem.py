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
from envs.games.holdem_rules import CARD_NAMES, CHECK, FOLD, LimitHand


@functools.lru_cache(maxsize=4096)
def _rlcard_key(seed: int) -> tuple[int, ...]:
    """RLCard's ``seeding.np_random(seed)`` key for ``RandomState.seed``; cached because a
    rating block deals each of its seeds once per seat rotation (the hash is a SHA-512)."""
    return tuple(seeding._int_list_from_bigint(seeding.hash_seed(seeding.create_seed(seed))))


class RawEnv(texas_holdem.raw_env):
    """PettingZoo's raw hold'em env, its hands played by ``LimitHand`` and seeded in place.

    The stock env's hands are RLCard's ``LimitHoldemGame``; here ``envs.games.holdem_rules``
    plays them on integers under the same rules and the same generator (RLCard's env keeps the
    generator and the card indices; the stock env's seeding rebuilds that env, ~0.5 ms, where
    reseeding its generator with RLCard's own seed derivation deals the same cards in ~0.06 ms).
    A stock step also builds three observations nobody reads; here the one observation the
    engine needs (``observe``, or ``read_hand`` without the dict) is the only one built.
    ``tests/test_match_engine.py`` compares every hand's deal, observations, flags, rewards and
    agent order with the stock env's, illegal actions (decoded to check or fold) included.
    """

    def _seed(self, seed: int | None = None) -> None:
        if seed is None or not (isinstance(seed, int) and seed >= 0):
            super()._seed(seed)  # RLCard's own checks and entropy (a new RLCard env)
            return
        self.env.np_random.seed(_rlcard_key(seed))

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        if seed is not None:
            self._seed(seed=seed)
        hand = getattr(self, "hand", None)
        if hand is None or hand.rng is not self.env.np_random:
            self.hand = hand = LimitHand(self.num_players, self.env.np_random)
        hand.deal()
        agents = self.possible_agents
        # Hole cards are dealt once a hand: read_hand takes them from here.
        self.hole = dict(zip(agents, hand.hole))
        self.agents = agents[:]
        self.agent_selection = agents[hand.pointer]
        self.rewards = dict.fromkeys(agents, 0)
        self._cumulative_rewards = dict.fromkeys(agents, 0)
        self.terminations = dict.fromkeys(agents, False)
        self.truncations = dict.fromkeys(agents, False)
        self.infos = {a: {} for a in agents}
        self.next_legal_moves = hand.legal()
        self._last_obs = None  # the stock env's copy of the first observation; nothing reads it

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            return self._was_dead_step(action)
        hand = self.hand
        # RLCard's _decode_action: an illegal action becomes check, else fold; one that names
        # no action at all fails (RLCard indexes its action names with it).
        legal = self.next_legal_moves
        if action not in legal:
            if not 0 <= action < 4:
                raise IndexError(f"texas_holdem action {action!r} is not one of 0..3")
            action = CHECK if CHECK in legal else FOLD
        hand.act(action)
        agents = self.possible_agents
        if hand.over:
            self.rewards = dict(zip(agents, hand.payoffs()))
            self.next_legal_moves = []
            self.terminations = dict.fromkeys(agents, True)
            self.truncations = dict.fromkeys(agents, False)
            self._cumulative_rewards[agent] = 0
            self.agent_selection = agents[hand.pointer]
            self._accumulate_rewards()
            self._deads_step_first()
        else:
            # Mid-hand every reward is 0 and nobody is out, so PettingZoo's reward accumulation
            # and dead-agent ordering would change nothing.
            self.next_legal_moves = hand.legal()
            self.agent_selection = agents[hand.pointer]
        if self.render_mode == "human":
            self.render()

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        """The stock observation: 72 float32 features and an int8 mask of the legal actions."""
        obs, mask = np.empty(72, np.float32), np.empty(4, bool)
        encode_hand(read_hand(self, agent), obs, mask)
        return {"observation": obs, "action_mask": mask.astype(np.int8)}

    def render(self) -> Any:
        """PettingZoo's drawing, which reads each seat's cards and chips from RLCard's game."""
        hand = self.hand
        rl_game = self.env.game

        def state(i: int) -> dict[str, Any]:
            return {"hand": [CARD_NAMES[c] for c in hand.hole[i]],
                    "public_cards": [CARD_NAMES[c] for c in hand.public], "my_chips": hand.in_chips[i]}

        rl_game.get_state = state
        try:
            return super().render()
        finally:
            del rl_game.get_state


def read_hand(env: RawEnv, seat: str) -> tuple[list[int], list[int]]:
    """The one-hot features of ``seat`` (the board and its cards, each betting round's raise
    count) and the legal actions of the seat to move: what ``env.observe`` encodes, read off
    the hand without building the observation dict (card numbers are the feature indices)."""
    hand = env.hand
    return hand.public + env.hole[seat] + hand.raise_hot, env.next_legal_moves


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
