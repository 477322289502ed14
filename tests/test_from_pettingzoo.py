"""Games derived from the env alone (``envs.from_pettingzoo``) and named by import path."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from pettingzoo.classic import connect_four_v3, rps_v2, tictactoe_v3
from pettingzoo.utils.conversions import aec_to_parallel

import envs
from envs.games import kuhn_poker, simple_tag, texas_holdem
from mpe2 import simple_tag_v3

RAW = {
    "tictactoe": tictactoe_v3.raw_env,
    "connect_four": connect_four_v3.raw_env,
    "rps": lambda: aec_to_parallel(rps_v2.raw_env(num_actions=3, max_cycles=15)),
    "texas_holdem": lambda: texas_holdem.RawEnv(num_players=4),
    "kuhn_poker": lambda: kuhn_poker.raw_env(num_players=2),
    "simple_tag": lambda: aec_to_parallel(simple_tag_v3.raw_env(num_good=1, num_adversaries=3, num_obstacles=2,
                                                                max_cycles=25, continuous_actions=False)),
}


@pytest.mark.parametrize("name", sorted(RAW))
def test_derived_description_equals_the_hand_written_one(name):
    hand = envs.make(name)
    derived = envs.from_pettingzoo(RAW[name], name=name)
    assert derived.seats == hand.seats and derived.api == hand.api and derived.masked == hand.masked
    assert dict(derived.obs_dims) == dict(hand.obs_dims)
    assert dict(derived.action_counts) == dict(hand.action_counts)
    if hand.api == "aec":  # the first mover's observation and mask encode alike
        env = RAW[name]()
        env.reset(seed=3)
        seat = env.agent_selection
        rows = {}
        for g in (hand, derived):
            obs, mask = np.zeros(g.obs_dim(seat), np.float32), np.ones(g.n_actions(seat), bool)
            raw = (g.observe or (lambda e, s: e.observe(s)))(env, seat)
            g.encoder(raw, obs, mask)
            rows[g is hand] = (obs, mask)
        np.testing.assert_array_equal(rows[True][1], rows[False][1])
        np.testing.assert_array_equal(rows[True][0], rows[False][0])


def test_continuous_actions_are_derived_as_a_box():
    # Unsupported spaces (Tuple, unbounded Box) and their one-line error: tests/test_spaces.py.
    cont = lambda: aec_to_parallel(simple_tag_v3.raw_env(continuous_actions=True))  # noqa: E731
    game = envs.from_pettingzoo(cont)
    assert game.action_spec("agent_0") == {"type": "box", "low": [0.0] * 5, "high": [1.0] * 5, "shape": [5]}
    assert game.n_actions("agent_0") == 5 and not game.masked


TINY = ["rotations=1", "bootstrap.max_steps=256", "training.max_steps=256", "bootstrap.eval_every=256",
        "training.eval_every=256", "bootstrap.eval_episodes=8", "training.eval_episodes=8", "evaluation.budget=4",
        "report.anchor_episodes=8", "ppo.n_envs=4", "population.episodes=4"]


def run_cli(tmp_path, *args, env=None):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "league.run", "--out", str(out), *args, *TINY],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "leaderboard.md").stat().st_size > 0


def test_leduc_holdem_by_module_path_through_the_cli(tmp_path):
    run_cli(tmp_path, "game.name=pettingzoo.classic.leduc_holdem_v4")


def test_a_user_env_factory_through_the_cli(tmp_path):
    (tmp_path / "mymodule.py").write_text(textwrap.dedent('''
        from pettingzoo.classic import tictactoe_v3

        def make_env():
            return tictactoe_v3.raw_env()
    '''))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    run_cli(tmp_path, "game.name=mymodule:make_env", env=env)
