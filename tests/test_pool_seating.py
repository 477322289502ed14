"""A member seated in a game whose sizes differ from its spec (a tic-tac-toe member in connect
four): ``WeightsShapeError`` naming its spec and the seat's sizes, not a raw torch error."""

from __future__ import annotations

import numpy as np
import pytest

import envs
from envs import SelfPlayEnv
from league.errors import WeightsShapeError
from league.models import build_network, build_policy, mlp_spec
from league.pool import Pool
from league.population.opponents import PoolOpponents

TTT = mlp_spec(18, 9, [16])


def test_a_tictactoe_member_seated_in_connect_four_raises_weights_shape_error(tmp_path):
    with Pool.create(tmp_path / "pool", game="tictactoe", roles=["player_1"]) as pool:
        pool.add("player_1", build_network(TTT).state_dict(), spec=TTT, hparams={}, step=0)
        game = envs.make("connect_four")
        source = PoolOpponents(pool, {"player_1": "player_1"}, lambda ms: np.full(len(ms), 1.0 / len(ms)))
        env = SelfPlayEnv(game, "player_0", source)
        with pytest.raises(WeightsShapeError) as info:
            env.reset(seed=0)
            for _ in range(50):
                mask = env.action_mask() if hasattr(env, "action_mask") else None
                action = int(np.flatnonzero(mask)[0]) if mask is not None else 3
                _, _, done, trunc, _ = env.step(action)
                if done or trunc:
                    env.reset()
    msg = str(info.value)
    assert "\n" not in msg and "'obs_dim': 18" in msg and "observations of size 84" in msg
    assert "7 actions" in msg


def test_a_named_policy_names_the_member():
    policy = build_policy(TTT, build_network(TTT).state_dict(), name="member 7")
    with pytest.raises(WeightsShapeError, match=r"^member 7 with spec .* observations of size 84 and 7 actions"):
        policy.act(np.zeros((1, 84), np.float32), np.ones((1, 7), bool), np.random.default_rng(0))
    assert policy.act(np.zeros((2, 18), np.float32), np.ones((2, 9), bool), np.random.default_rng(0)).shape == (2,)
