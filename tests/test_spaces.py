"""Box, MultiDiscrete and image spaces: distributions, specs, the engine, errors, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import distributions as D

import envs
from envs import UnsupportedSpaceError
from envs.reference import UniformBoxPolicy, UniformMultiDiscretePolicy
from league.errors import SpecError
from league.models import (CnnActorCritic, build_network, build_policy, expected_shapes, image_layout,
                           load_network, mlp_spec, network_spec, random_spec)
from league.training.distributions import MultiCategorical, SquashedGaussian, distribution
from league.training.ppo import PPO, PPOConfig

TESTS = Path(__file__).parent  # on sys.path (pytest's rootdir conftest): "spaces_envs:<factory>" imports


# ---- distributions -----------------------------------------------------------------------------

def test_squashed_gaussian_log_prob_matches_torch_transformed_distribution():
    gen = torch.Generator().manual_seed(0)
    mean = torch.randn(64, 3, generator=gen, dtype=torch.float64)
    log_std = torch.randn(3, generator=gen, dtype=torch.float64) * 0.5
    low = torch.tensor([0.0, -1.0, -5.0], dtype=torch.float64)
    high = torch.tensor([1.0, 1.0, 3.0], dtype=torch.float64)
    ours = SquashedGaussian(mean, log_std, low, high)
    raw = ours.sample(gen)
    ref = D.TransformedDistribution(D.Independent(D.Normal(mean, log_std.exp().expand_as(mean)), 1),
                                    [D.TanhTransform(), D.AffineTransform((low + high) / 2, (high - low) / 2)])
    action = ours.env_action(raw)
    torch.testing.assert_close(action, torch.tanh(raw) * (high - low) / 2 + (low + high) / 2)
    torch.testing.assert_close(ours.log_prob(raw), ref.log_prob(action), rtol=1e-9, atol=1e-9)


def test_squashed_gaussian_log_prob_stays_finite_where_tanh_saturates():
    dist = SquashedGaussian(torch.zeros(1, 2), torch.zeros(2), torch.zeros(2), torch.ones(2))
    raw = torch.tensor([[30.0, -30.0]])
    assert dist.env_action(raw).tolist() == [[1.0, 0.0]]
    logp = dist.log_prob(raw)
    assert torch.isfinite(logp).all()
    # log N(30) - log|da/du| with log(1 - tanh^2(30)) = 2 (log 2 - 30 - softplus(-60)): ~ -900 + 118.6
    expected = 2 * (-0.5 * 900 - 0.5 * np.log(2 * np.pi) - 2 * (np.log(2) - 30) - np.log(0.5))
    assert float(logp) == pytest.approx(expected, rel=1e-5)


def test_squashed_actions_stay_inside_the_bounds():
    mean = torch.tensor([[50.0, -50.0, 0.0]])
    dist = SquashedGaussian(mean.expand(1000, 3), torch.tensor([2.0, 2.0, 2.0]),
                            torch.tensor([-2.0, 0.0, 10.0]), torch.tensor([2.0, 1.0, 11.0]))
    a = dist.env_action(dist.sample(torch.Generator().manual_seed(1)))
    assert (a >= torch.tensor([-2.0, 0.0, 10.0])).all() and (a <= torch.tensor([2.0, 1.0, 11.0])).all()
    rng = np.random.default_rng(0)
    u = UniformBoxPolicy([-2, 0, 10], [2, 1, 11]).act(np.zeros((1000, 4), np.float32), None, rng)
    assert u.shape == (1000, 3) and (u >= [-2, 0, 10]).all() and (u <= [2, 1, 11]).all()
    assert u[:, 2].std() > 0.25  # uniform on a width-1 interval: std 0.289


def test_multi_categorical_matches_independent_torch_categoricals_and_respects_masks():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(200, 5, generator=gen)
    mask = torch.tensor([[True, True, False, False, True]]).expand(200, 5)
    dist = MultiCategorical(logits, [3, 2], mask)
    actions = dist.sample(gen)
    assert actions.shape == (200, 2)
    assert (actions[:, 0] != 2).all() and (actions[:, 1] == 1).all()
    c0 = D.Categorical(logits=logits[:, :3].masked_fill(~mask[:, :3], -1e9))
    c1 = D.Categorical(logits=logits[:, 3:].masked_fill(~mask[:, 3:], -1e9))
    torch.testing.assert_close(dist.log_prob(actions), c0.log_prob(actions[:, 0]) + c1.log_prob(actions[:, 1]))
    torch.testing.assert_close(dist.entropy(), c0.entropy() + c1.entropy(), atol=1e-5, rtol=1e-5)
    rng = np.random.default_rng(0)
    u = UniformMultiDiscretePolicy([3, 2]).act(np.zeros((300, 1)), mask[:1].numpy().repeat(300, 0), rng)
    assert set(u[:, 0].tolist()) == {0, 1} and set(u[:, 1].tolist()) == {1}


# ---- specs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, expected", [
    ((35, 60, 3), ((3, 35, 60), True)), ((3, 64, 48), ((3, 64, 48), False)), ((84, 84, 1), ((1, 84, 84), True)),
    ((6, 7, 2), None), ((19, 19, 17), None), ((18,), None), ((8, 8, 3), None), (None, None)])
def test_cnn_is_chosen_only_for_image_shapes(shape, expected):
    assert image_layout(shape) == expected
    obs_dim = int(np.prod(shape)) if shape else 18
    spec = network_spec(obs_dim, 3, (32,), obs_shape=shape, obs_high=255.0)
    assert spec["kind"] == ("cnn" if expected else "mlp")
    if expected is None:
        assert spec == mlp_spec(obs_dim, 3, (32,))  # the MLP default, exactly as before


def test_cnn_reads_channels_last_rows_in_their_own_layout():
    spec = network_spec(20 * 24 * 3, 4, (16,), obs_shape=(20, 24, 3), obs_high=255.0)
    assert spec["conv"] == [[16, 3, 2], [32, 3, 2]] and spec["scale"] == pytest.approx(1 / 255)
    net = build_network(spec)
    assert isinstance(net, CnnActorCritic)
    frames = torch.rand(5, 20, 24, 3) * 255
    chw = frames.permute(0, 3, 1, 2) / 255
    torch.testing.assert_close(net.features(frames.reshape(5, -1)), net.trunk(chw))
    logits, value = net(frames.reshape(5, -1))
    assert logits.shape == (5, 4) and value.shape == (5,)
    again = load_network(spec, {k: v.clone() for k, v in net.state_dict().items()})
    torch.testing.assert_close(again.actor(frames.reshape(5, -1)), logits)


def test_old_discrete_specs_still_build_and_new_heads_validate():
    old = {"kind": "mlp", "obs_dim": 6, "n_actions": 4, "hidden": [8], "activation": "tanh"}
    assert mlp_spec(6, 4, (8,)) == old and random_spec(4) == {"kind": "random", "n_actions": 4}
    assert type(build_policy(old, build_network(old).state_dict())).__name__ == "NetworkPolicy"
    box = {"type": "box", "low": [0.0, 0.0], "high": [1.0, 1.0]}
    spec = mlp_spec(6, 2, (8,), action=box)
    assert expected_shapes(spec)["log_std"] == (2,)
    with pytest.raises(SpecError, match="box action"):
        expected_shapes(mlp_spec(6, 3, (8,), action=box))
    with pytest.raises(SpecError, match="multi_discrete"):
        expected_shapes(mlp_spec(6, 4, (8,), action={"type": "multi_discrete", "nvec": [3, 2]}))
    with pytest.raises(SpecError, match="unknown type"):
        expected_shapes(mlp_spec(6, 2, (8,), action={"type": "tuple"}))
    policy = build_policy(spec, build_network(spec).state_dict())
    acts = policy.act(np.random.default_rng(0).standard_normal((50, 6)).astype(np.float32), None,
                      np.random.default_rng(1))
    assert acts.shape == (50, 2) and (acts >= 0).all() and (acts <= 1).all()


def test_network_box_distribution_uses_its_log_std():
    spec = mlp_spec(3, 2, (8,), action={"type": "box", "low": [-1.0, -1.0], "high": [1.0, 1.0]})
    net = build_network(spec)
    with torch.no_grad():
        net.log_std.fill_(-1.0)
    dist = net.dist(net.actor(torch.zeros(4, 3)))
    assert isinstance(dist, SquashedGaussian)
    torch.testing.assert_close(dist.std, torch.full((4, 2), float(np.exp(-1.0))))
    assert isinstance(distribution({"type": "multi_discrete", "nvec": [1, 1]}, torch.zeros(2, 2)), MultiCategorical)


# ---- games: derived spaces, the engine, references --------------------------------------------------

def test_multi_discrete_game_plays_with_masks_and_random_reference():
    game = envs.make("spaces_envs:multi_discrete_env", masked=True)
    assert game.action_spec("p0") == {"type": "multi_discrete", "nvec": [3, 2]}
    assert game.n_actions("p0") == 5 and game.masked
    env = envs.SelfPlayVecEnv(game, "p0", envs.ReferenceOpponents(game), 4, seed=0)
    obs, infos = env.reset()
    assert infos["action_mask"].shape == (4, 5) and not infos["action_mask"][:, 2].any()
    ends = 0
    for _ in range(12):  # the env asserts no masked action reaches it: the NPCs respect masks
        obs, _, term, _, infos = env.step(np.tile([1, 1], (4, 1)))
        ends += int(term.sum())
    assert ends == 12
    # A masked learner action ends the episode as a loss, like a masked discrete action.
    _, reward, term, _, infos = env.step(np.tile([2, 1], (4, 1)))
    assert term.all() and all(o.illegal == "p0" for _, o in infos["outcomes"])


def test_box_game_ppo_stores_the_log_probs_it_sampled_and_plays_in_bounds():
    game = envs.make("spaces_envs:box_env")
    spec = game.action_spec("p0")
    assert spec["type"] == "box" and spec["low"] == [-2.0, -2.0] and game.n_actions("p0") == 2
    env = envs.SelfPlayVecEnv(game, "p0", envs.ReferenceOpponents(game), 4, seed=0)
    ppo = PPO(env, PPOConfig(n_envs=4, n_steps=16, minibatches=2, epochs=1, hidden=(16,)))
    assert ppo.spec["action"]["type"] == "box" and "log_std" in ppo.weights()
    ppo.iteration()
    buf = ppo.rollout
    assert buf.actions.dtype == torch.float32 and buf.actions.shape == (16, 4, 2)
    with torch.no_grad():
        # The update moved the weights: rebuild the rollout's network from a fresh PPO with the same seed.
        fresh = PPO(env, PPOConfig(n_envs=4, n_steps=16, minibatches=2, epochs=1, hidden=(16,)))
        head, _ = fresh.net(buf.obs.reshape(64, -1))
        logp = fresh.net.dist(head).log_prob(buf.actions.reshape(64, 2))
    torch.testing.assert_close(logp, buf.logprobs.reshape(64))
    played = fresh.net.dist(head).env_action(buf.actions.reshape(64, 2))
    assert (played.abs() <= 2.0).all()


@pytest.mark.parametrize("factory, named", [("tuple_action_env", "Tuple"), ("unbounded_box_env", "inf")])
def test_unsupported_action_space_is_a_one_line_error_naming_it(factory, named):
    with pytest.raises(UnsupportedSpaceError) as info:
        envs.make(f"spaces_envs:{factory}")
    message = str(info.value)
    assert "\n" not in message and named in message and "supported: Discrete, MultiDiscrete" in message


def test_unsupported_space_through_the_cli_is_one_line_without_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "league.run", "--out", str(tmp_path / "run"),
                           "game.name=spaces_envs:tuple_action_env"], capture_output=True, text=True, env=env,
                          timeout=120, cwd=TESTS.parent)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Tuple" in lines[0] and "supported" in lines[0], proc.stderr


# ---- the CLI on a real continuous-action game and a real image game ------------------------------

def _tiny_run(tmp_path: Path, *overrides: str) -> str:
    cmd = [sys.executable, "-m", "league.run", "--quiet", "--out", str(tmp_path / "run"), "rotations=1",
           "bootstrap.max_steps=256", "training.max_steps=256", "bootstrap.eval_every=256",
           "training.eval_every=256", "evaluation.budget=2", "report.anchor_episodes=4",
           "ppo.n_envs=4", "ppo.n_steps=64", "ppo.minibatches=2", *overrides]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=TESTS.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return (tmp_path / "run" / "leaderboard.md").read_text()


@pytest.mark.slow
def test_cli_runs_a_continuous_action_game(tmp_path):
    board = _tiny_run(tmp_path, "game.name=mpe2.simple_push_v3", "game.kwargs={continuous_actions=true}")
    assert "## agent_0" in board and "## adversary_0" in board
    from league.pool import Pool
    with Pool.open(tmp_path / "run" / "pool", "r") as pool:
        specs = [m.spec for m in pool.members()]
    assert all(s["action"]["type"] == "box" for s in specs)
    assert {s["kind"] for s in specs} == {"random", "mlp"}


@pytest.mark.slow
def test_cli_runs_an_image_observation_game(tmp_path):
    board = _tiny_run(tmp_path, "game.name=pettingzoo.butterfly.cooperative_pong_v6",
                      "game.kwargs={render_ratio=16,max_cycles=40,render_mode='rgb_array'}")
    assert "## paddle_0" in board
    from league.pool import Pool
    with Pool.open(tmp_path / "run" / "pool", "r") as pool:
        kinds = {m.spec["kind"] for m in pool.members()}
    assert kinds == {"random", "cnn"}
