"""Legal-action masks given in ``infos[agent]["action_mask"]`` (not in the observation) are read
by ``envs.from_pettingzoo``: the learner's mask, the NPCs' sampling and illegal-move handling
all follow them, for an AEC env (OpenSpiel through Shimmy) and a parallel one."""

import functools

import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo.utils.env import ParallelEnv

import envs

openspiel = pytest.importorskip("shimmy.openspiel_compatibility", reason="needs shimmy and open_spiel")


def openspiel_tictactoe():
    return openspiel.OpenSpielCompatibilityV0(game_name="tic_tac_toe")


class NoRepeat(ParallelEnv):
    """Two players pick 0..2 each step; the action a player picked last is illegal for it next
    (so only ``infos`` say what is legal) and an illegal pick raises, as a strict env would."""

    metadata = {"name": "no_repeat_v0"}

    def __init__(self, steps: int = 6):
        self.possible_agents = ["a", "b"]
        self.steps = steps

    @functools.lru_cache(None)
    def observation_space(self, agent):
        return spaces.Box(0.0, 1.0, (3,), np.float32)

    @functools.lru_cache(None)
    def action_space(self, agent):
        return spaces.Discrete(3)

    def _obs_infos(self):
        obs = {a: np.eye(3, dtype=np.float32)[self.last[a]] if self.last[a] >= 0 else np.zeros(3, np.float32)
               for a in self.agents}
        infos = {a: {"action_mask": (np.arange(3) != self.last[a]).astype(np.int8)} for a in self.agents}
        return obs, infos

    def reset(self, seed=None, options=None):
        self.agents = list(self.possible_agents)
        self.last = {a: -1 for a in self.agents}
        self.t = 0
        return self._obs_infos()

    def step(self, actions):
        for a, act in actions.items():
            if act == self.last[a]:
                raise ValueError(f"{a} repeated action {act}")
        self.last = dict(actions)
        self.t += 1
        done = self.t >= self.steps
        win = 1.0 if actions["a"] > actions["b"] else -1.0 if actions["a"] < actions["b"] else 0.0
        rewards = {"a": win, "b": -win}
        terms = {a: done for a in self.agents}
        truncs = {a: False for a in self.agents}
        obs, infos = self._obs_infos()
        if done:
            self.agents = []
        return obs, rewards, terms, truncs, infos


def play_random_learner(game, seat, steps, seed=0):
    """Step a vectorized self-play env against random NPCs with a learner that picks uniformly
    among the actions its mask allows; returns every (obs, mask) it saw and every outcome."""
    vec = envs.SelfPlayVecEnv(game, seat, envs.ReferenceOpponents(game), 4, seed=seed)
    rng = np.random.default_rng(seed)
    obs, info = vec.reset()
    seen, outcomes = [], []
    for _ in range(steps):
        mask = info["action_mask"]
        seen.extend(zip(obs.copy(), mask.copy()))
        actions = [rng.choice(np.flatnonzero(m)) for m in mask]
        obs, _, _, _, info = vec.step(actions)
        outcomes.extend(o for _, o in info["outcomes"])
    vec.close()
    return seen, outcomes


def test_an_aec_env_with_masks_in_infos_is_masked():
    game = envs.from_pettingzoo(openspiel_tictactoe)
    assert game.masked and game.api == "aec"
    assert dict(game.action_counts) == {"player_0": 9, "player_1": 9}
    seen, outcomes = play_random_learner(game, "player_1", 60)
    # OpenSpiel's first plane marks the empty cells: exactly the legal moves.
    for obs, mask in seen:
        np.testing.assert_array_equal(mask, obs[:9] == 1)
    assert any(not m.all() for _, m in seen)
    # Random NPCs sampled only legal moves (an illegal one would raise in OpenSpiel) and the
    # learner, following its mask, never lost by an illegal move.
    assert len(outcomes) >= 4 and all(o.illegal is None for o in outcomes)


def test_an_illegal_learner_move_under_an_infos_mask_loses_the_episode():
    game = envs.from_pettingzoo(openspiel_tictactoe)
    env = envs.SelfPlayEnv(game, "player_1", envs.ReferenceOpponents(game))
    _, info = env.reset(seed=3)
    taken = int(np.flatnonzero(~info["action_mask"])[0])  # player_0 has moved: its cell is taken
    _, reward, terminated, _, info = env.step(taken)
    assert terminated and reward == game.illegal_reward and info["outcome"].illegal == "player_1"


def test_a_parallel_env_with_masks_in_infos_is_masked():
    game = envs.from_pettingzoo(NoRepeat)
    assert game.masked and game.api == "parallel"
    seen, outcomes = play_random_learner(game, "a", 60)
    for obs, mask in seen:  # the one-hot last action is the one illegal action
        np.testing.assert_array_equal(mask, obs != 1)
    assert any(not m.all() for _, m in seen)
    assert len(outcomes) >= 8 and all(o.illegal is None for o in outcomes)
    # Matches between two random policies: the NPC path alone, no learner seat.
    results = envs.MatchEngine(game).play([({"a": "random", "b": "random"}, s) for s in range(20)])
    assert len(results) == 20


def test_a_game_without_masks_stays_unmasked():
    from mpe2 import simple_push_v3

    assert not envs.from_pettingzoo(lambda: simple_push_v3.raw_env(max_cycles=5)).masked
