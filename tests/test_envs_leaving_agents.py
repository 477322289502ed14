"""Agents that die mid-episode (butterfly's knights_archers_zombies): the learner's transitions
end when its agent dies, flagged terminated, and the env never steps a finished episode."""

import numpy as np
import pytest

import envs
from envs.game import Game, box_encoder
from envs.games._common import random_reference

kaz = pytest.importorskip("pettingzoo.butterfly.knights_archers_zombies_v11")


def kaz_game(api):
    def make():
        kw = dict(spawn_delay=4, max_cycles=120, line_death=True)
        return kaz.parallel_env(**kw) if api == "parallel" else kaz.raw_env(**kw)

    probe = make()
    seats = tuple(probe.possible_agents)
    return Game(name="kaz", seats=seats, roles={s: s for s in seats}, api=api, symmetric=False, masked=False,
                env_fn=make, obs_dims={s: 27 * 5 for s in seats}, action_counts={s: 6 for s in seats},
                encoder=box_encoder, references={"random": random_reference},
                obs_bounds=(-float("inf"), float("inf")))


@pytest.mark.parametrize("api", ["parallel", "aec"])
def test_a_learner_whose_agent_dies_is_flagged_terminated(api):
    game = kaz_game(api)
    env = envs.SelfPlayVecEnv(game, "knight_0", envs.ReferenceOpponents(game), 4, seed=0)
    rng = np.random.default_rng(0)
    env.reset()
    flagged = np.zeros(4, bool)
    early = 0
    for _ in range(600):
        _, _, term, trunc, infos = env.step(rng.integers(6, size=4))
        flagged |= term | trunc
        for i, outcome in infos["outcomes"]:
            assert flagged[i], "an episode ended without the learner being flagged"
            flagged[i] = False
            early += outcome.length < 120
    assert early > 0  # the knight did die before the end in some episodes
    single = envs.SelfPlayEnv(game, "knight_0", envs.ReferenceOpponents(game))
    single.reset(seed=1)
    for _ in range(300):  # never "step() after the episode ended"
        _, _, term, trunc, _ = single.step(int(rng.integers(6)))
        if term or trunc:
            single.reset()
