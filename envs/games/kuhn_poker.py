"""Kuhn poker for N players as a PettingZoo AEC env (the project's own implementation).

Rules (the (N+1)-card generalisation OpenSpiel's ``kuhn_poker`` uses): a deck of N+1 cards
ranked 0..N, one private card per player, everyone antes 1. Players act once in seat order,
``pass`` (0) or ``bet`` (1, one chip). If nobody bets, the highest card wins the pot. After
the first bet, every later player (wrapping around) answers once: ``bet`` calls, ``pass``
folds; the highest card among the bettor and the callers wins the pot. Payoff = chips won
minus chips put in.

Observation (OpenSpiel's information-state tensor layout, float32): one-hot own seat (N),
one-hot own card (N+1), then for each of the at most 2N-1 actions so far a (pass, bet) pair;
``action_mask`` is ``[1, 1]`` for the player to move, zeros otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers

from envs.errors import GameConfigError
from envs.game import Game, dict_obs_encoder
from envs.games._common import random_reference, seat_roles

PASS, BET = 0, 1


def obs_size(num_players: int) -> int:
    """Length of the observation vector for ``num_players``."""
    return num_players + (num_players + 1) + 2 * (2 * num_players - 1)


class raw_env(AECEnv):  # noqa: N801 -- PettingZoo's naming convention for the unwrapped env
    """N-player Kuhn poker; see the module docstring for the rules and the observation."""

    metadata = {"render_modes": ["human"], "name": "kuhn_poker_v0", "is_parallelizable": False}

    def __init__(self, num_players: int = 2, render_mode: str | None = None):
        super().__init__()
        if not isinstance(num_players, int) or not 2 <= num_players <= 10:
            raise GameConfigError(f"kuhn_poker num_players must be an integer in 2..10, got {num_players!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise GameConfigError(f"kuhn_poker render_mode must be None or 'human', got {render_mode!r}")
        self.num_players = num_players
        self.render_mode = render_mode
        self.possible_agents = [f"player_{i}" for i in range(num_players)]
        self.agents = self.possible_agents[:]
        size = obs_size(num_players)
        self._obs_space = spaces.Dict({
            "observation": spaces.Box(0.0, 1.0, (size,), np.float32),
            "action_mask": spaces.Box(0, 1, (2,), np.int8),
        })
        self._act_space = spaces.Discrete(2)
        self._rng = np.random.default_rng()
        self._cards = np.zeros(num_players, dtype=np.int64)
        self._history: list[int] = []
        self._first_bettor: int | None = None
        self._put_in = np.ones(num_players, dtype=np.int64)
        self._player = 0

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_space

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        n = self.num_players
        self._cards = self._rng.permutation(n + 1)[:n]
        self._history = []
        self._first_bettor = None
        self._put_in = np.ones(n, dtype=np.int64)  # the antes
        self._player = 0
        self.agents = self.possible_agents[:]
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {a: {} for a in self.agents}
        self.agent_selection = self.agents[0]

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        n = self.num_players
        i = self.possible_agents.index(agent)
        obs = np.zeros(obs_size(n), np.float32)
        obs[i] = 1.0
        obs[n + int(self._cards[i])] = 1.0
        base = n + n + 1
        for k, action in enumerate(self._history):
            obs[base + 2 * k + action] = 1.0
        mask = np.zeros(2, np.int8)
        if agent == self.agent_selection and not self.terminations[agent]:
            mask[:] = 1
        return {"observation": obs, "action_mask": mask}

    def _over(self) -> bool:
        if self._first_bettor is None:
            return len(self._history) == self.num_players
        return len(self._history) == self._first_bettor + self.num_players

    def _payoffs(self) -> np.ndarray:
        contenders = (np.arange(self.num_players) if self._first_bettor is None
                      else np.flatnonzero(self._put_in == 2))
        winner = contenders[np.argmax(self._cards[contenders])]
        payoff = -self._put_in.astype(np.float64)
        payoff[winner] += self._put_in.sum()
        return payoff

    def step(self, action: int | None) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        if action not in (PASS, BET):
            raise GameConfigError(f"kuhn_poker actions are 0 (pass) and 1 (bet), got {action!r}")
        action = int(action)
        self._cumulative_rewards[agent] = 0.0
        player = self._player
        self._history.append(action)
        if action == BET:
            if self._first_bettor is None:
                self._first_bettor = player
            self._put_in[player] += 1
        if self._over():
            self.rewards = dict(zip(self.agents, self._payoffs().tolist()))
            self.terminations = dict.fromkeys(self.agents, True)
        else:
            self.rewards = dict.fromkeys(self.agents, 0.0)
        self._player = (player + 1) % self.num_players
        self.agent_selection = self.possible_agents[self._player]
        self._accumulate_rewards()
        if self.render_mode == "human":
            self.render()

    def render(self) -> str | None:
        if self.render_mode is None:
            return None
        words = ["pass" if a == PASS else "bet" for a in self._history]
        text = f"cards {self._cards.tolist()} actions {words}"
        print(text)
        return text

    def close(self) -> None:
        pass


def env(num_players: int = 2, render_mode: str | None = None) -> AECEnv:
    """The wrapped env for direct PettingZoo use (order enforcing, out-of-bounds assertions)."""
    wrapped: AECEnv = raw_env(num_players=num_players, render_mode=render_mode)
    wrapped = wrappers.AssertOutOfBoundsWrapper(wrapped)
    return wrappers.OrderEnforcingWrapper(wrapped)


def game(num_players: int = 2, roles: dict[str, str] | None = None) -> Game:
    """``num_players`` symmetric seats (rotated in evaluation: positions differ), 2 actions
    (pass, bet); ranks come from the chips won."""
    raw_env(num_players)  # validates num_players
    seats = tuple(f"player_{i}" for i in range(num_players))
    return Game(
        name="kuhn_poker", seats=seats, roles=seat_roles(seats, roles), api="aec", symmetric=True,
        masked=True, env_fn=lambda: raw_env(num_players=num_players),
        obs_dims=dict.fromkeys(seats, obs_size(num_players)), action_counts=dict.fromkeys(seats, 2),
        encoder=dict_obs_encoder, references={"random": random_reference},
        config={"num_players": num_players, "roles": roles},
        # One hand is mostly the cards: a rating match is a block of 32 shared deals.
        match_episodes=32)
