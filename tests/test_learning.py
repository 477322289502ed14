"""PPO learns against fixed reference opponents on the real self-play env, within a step budget.

Each test trains the first player against the uniform-random reference with a fixed seed,
then measures the returned (best) weights on 1000 fresh evaluation episodes, independent of
the evaluations that picked them, and asserts the wall time stays under 3 minutes.
"""

from __future__ import annotations

import time

import pytest

import envs
from envs import ReferenceOpponents
from league.training.callbacks import EvalCallback
from league.models import load_network
from league.training.ppo import PPOConfig
from league.training.trainer import StopRules, selfplay_env, train


@pytest.mark.slow
@pytest.mark.parametrize("game_name, max_steps, target, min_win, max_loss", [
    ("tictactoe", 100_000, 0.95, 0.80, 0.05),
    ("connect_four", 200_000, 0.97, 0.90, 1.0),
])
def test_ppo_beats_uniform_random_as_first_player(game_name, max_steps, target, min_win, max_loss, record_property):
    start = time.perf_counter()
    game = envs.make(game_name)
    seat = game.seats[0]
    config = PPOConfig(seed=0)
    env = selfplay_env(game, seat, ReferenceOpponents(game, "random"), config)
    evaluation = EvalCallback.vs_reference(game, seat, "random", episodes=200, every=10 * config.batch_size // 2,
                                           seed=1)
    result = train(env, config, stop=StopRules(win_rate=target, max_steps=max_steps), evaluation=evaluation,
                   progress=False)
    assert result.steps <= max_steps

    check = EvalCallback.vs_reference(game, seat, "random", episodes=1000, n_envs=20, seed=2)
    final = check.evaluate(load_network(result.spec, result.best_weights))
    elapsed = time.perf_counter() - start
    record_property("wall_s", round(elapsed, 1))
    print(f"\n{game_name}: stopped by {result.stop_detail}; {result.steps} steps in {result.wall_time:.1f} s "
          f"training, {elapsed:.1f} s total; independent check: win {final.win_rate:.3f} "
          f"draw {final.draw_rate:.3f} loss {final.loss_rate:.3f}")
    assert final.win_rate >= min_win
    assert final.loss_rate <= max_loss
    assert elapsed < 180
