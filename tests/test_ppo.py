"""Unit tests of the PPO pieces: config validation, GAE, rollout storage, sampling, the update.

A tiny vector env of our own (``GuessVecEnv``) follows the ``SelfPlayVecEnv`` contract
(same-step autoreset, ``infos["action_mask"]``, ``infos["outcomes"]``) so these tests need
neither PettingZoo nor the real self-play env; the learning tests use the real one.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from league.errors import ConfigError, WeightsShapeError
from league.models import build_network, mlp_spec
from league.training.ppo import (PPO, PPOConfig, compute_gae, learner_result, make_network, new_rollout, resolve_device,
                        sample_actions)


class ToyOutcome(NamedTuple):
    seating: dict[str, Any]
    ranks: dict[str, int]
    returns: dict[str, float]
    learner_seat: str
    length: int


class GuessVecEnv:
    """Guess the hidden target: obs is the target one-hot (plus a step counter), reward 1 for a hit.

    Each episode lasts ``length`` steps; it *terminates* unless ``truncate`` is set, in which
    case it is *truncated* and, with ``final_obs``, the env hands back the last observation.
    The mask always allows the target and hides a random other action.
    """

    n_actions = 4
    obs_dim = 5

    def __init__(self, num_envs: int, *, length: int = 3, truncate: bool = False, final_obs: bool = True):
        self.num_envs, self.length, self.truncate, self.final_obs = num_envs, length, truncate, final_obs
        self.rng = np.random.default_rng(0)
        self.log: list[dict[str, Any]] = []

    def _new(self, i: int) -> None:
        self.target[i] = self.rng.integers(self.n_actions)
        self.t[i] = 0
        self.ret[i] = 0.0

    def _obs(self) -> tuple[np.ndarray, np.ndarray]:
        obs = np.zeros((self.num_envs, self.obs_dim), dtype=np.float32)
        obs[np.arange(self.num_envs), self.target] = 1.0
        obs[:, -1] = self.t / self.length
        mask = np.ones((self.num_envs, self.n_actions), dtype=bool)
        hidden = (self.target + 1 + self.rng.integers(self.n_actions - 1, size=self.num_envs)) % self.n_actions
        mask[np.arange(self.num_envs), hidden] = False
        return obs, mask

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        n = self.num_envs
        self.target, self.t, self.ret = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n)
        for i in range(n):
            self._new(i)
        obs, self.mask = self._obs()
        return obs, {"action_mask": self.mask}

    def step(self, actions: np.ndarray):
        actions = np.asarray(actions)
        if not self.mask[np.arange(self.num_envs), actions].all():
            raise AssertionError("a masked action was played")
        reward = (actions == self.target).astype(np.float32)
        self.ret += reward
        self.t += 1
        ended = self.t >= self.length
        before, _ = self._obs()
        outcomes = []
        for i in np.flatnonzero(ended):
            win = self.ret[i] >= self.length - 1
            outcomes.append((int(i), ToyOutcome({"p0": "learner", "p1": "npc"}, {"p0": 1 if win else 2,
                                                 "p1": 2 if win else 1}, {"p0": float(self.ret[i])}, "p0",
                                                self.length)))
            self._new(i)
        obs, self.mask = self._obs()
        infos: dict[str, Any] = {"action_mask": self.mask, "outcomes": outcomes}
        terminated = ended & (not self.truncate)
        truncated = ended & self.truncate
        if self.truncate and self.final_obs:
            infos["final_obs"] = before
        self.log.append({"reward": reward.copy(), "ended": ended.copy(), "final": before.copy()})
        return obs, reward, terminated, truncated, infos


@pytest.fixture(autouse=True)
def one_torch_thread():
    """These tests drive PPO directly (``train`` would set this): on shared cores, torch's
    intra-op threads spin against other processes and slow tiny updates down a hundredfold."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def small_config(**changes: Any) -> PPOConfig:
    base = PPOConfig(n_envs=4, n_steps=16, epochs=2, minibatches=2, hidden=(16,), lr=3e-3)
    return base.replace(**changes)


# -- config -------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("lr", -1.0), ("lr", float("nan")), ("n_envs", 0), ("n_steps", 2.5), ("epochs", True), ("gamma", 1.5),
    ("gae_lambda", -0.1), ("clip_coef", 0.0), ("ent_coef", -0.01), ("max_grad_norm", 0.0), ("hidden", ()),
    ("hidden", (64, 0)), ("activation", "gelu"), ("device", "tpu"), ("target_kl", 0.0), ("torch_threads", 0),
])
def test_bad_config_values_name_the_field_and_value(field, value):
    with pytest.raises(ConfigError, match=rf"PPOConfig\.{field} = {re.escape(repr(value))} is invalid; expected"):
        PPOConfig(**{field: value})


def test_minibatches_must_divide_the_batch():
    with pytest.raises(ConfigError, match=r"minibatches = 3.*divisor of n_envs \* n_steps = 64"):
        PPOConfig(n_envs=4, n_steps=16, minibatches=3)


def test_replace_rejects_unknown_fields_and_lists_become_tuples():
    with pytest.raises(ConfigError, match="unknown PPOConfig field.*'learning_rate'"):
        PPOConfig().replace(learning_rate=1e-3)
    assert PPOConfig(hidden=[32, 32]).hidden == (32, 32)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_without_cuda_is_a_config_error_and_auto_falls_back():
    with pytest.raises(ConfigError, match="device = 'cuda'"):
        resolve_device("cuda")
    assert resolve_device("auto") == torch.device("cpu")


# -- GAE ----------------------------------------------------------------------------------------

def _gae(rewards, values, dones, last_values, gamma=0.9, lam=0.8):
    t = lambda x: torch.tensor(x, dtype=torch.float32)  # noqa: E731
    return compute_gae(t(rewards), t(values), t(dones), t(last_values), gamma, lam)


def test_gae_matches_a_hand_computed_reference():
    # gamma 0.9, lambda 0.8: delta_2 = 2 + .9*.2 - .3 = 1.88; delta_1 = .9*.3 - .4 = -.13;
    # delta_0 = 1 + .9*.4 - .5 = .86; A_1 = -.13 + .72*1.88 = 1.2236; A_0 = .86 + .72*1.2236 = 1.740992.
    adv, ret = _gae([[1.0], [0.0], [2.0]], [[0.5], [0.4], [0.3]], [[0], [0], [0]], [0.2])
    assert adv[:, 0].tolist() == pytest.approx([1.740992, 1.2236, 1.88], abs=1e-6)
    assert ret[:, 0].tolist() == pytest.approx([2.240992, 1.6236, 2.18], abs=1e-6)


def test_gae_does_not_bootstrap_across_an_episode_boundary():
    # The episode ends at step 1; step 2 is the first step of the next episode (same-step autoreset).
    # A_1 = 0 - .4 (no V(s_2)); A_0 = .86 + .72 * (-.4) = .572; A_2 unchanged = 1.88.
    adv, _ = _gae([[1.0], [0.0], [2.0]], [[0.5], [0.4], [0.3]], [[0], [1], [0]], [0.2])
    assert adv[:, 0].tolist() == pytest.approx([0.572, -0.4, 1.88], abs=1e-6)
    # Nothing after the boundary, however large, leaks into it.
    adv2, _ = _gae([[1.0], [0.0], [2.0]], [[0.5], [0.4], [1e6]], [[0], [1], [0]], [1e6])
    assert adv2[:2, 0].tolist() == pytest.approx([0.572, -0.4], abs=1e-6)


def test_gae_at_gamma_lambda_one_gives_monte_carlo_returns_per_episode():
    rewards = [[1.0, 0.0], [2.0, 1.0], [3.0, 1.0], [4.0, 0.0]]
    dones = [[0, 0], [1, 0], [0, 1], [0, 0]]
    _, ret = _gae(rewards, [[0.3, 0.1]] * 4, dones, [10.0, 5.0], gamma=1.0, lam=1.0)
    # column 0: episode [1, 2] ends at step 1 -> returns 3, 2; then [3, 4] + bootstrap 10 -> 17, 14.
    # column 1: episode [0, 1, 1] ends at step 2 -> 2, 2, 1; then [0] + bootstrap 5 -> 5.
    assert ret.T.tolist() == [pytest.approx([3, 2, 17, 14]), pytest.approx([2, 2, 1, 5])]


@settings(max_examples=50, deadline=None)
@given(data=st.data(), steps=st.integers(1, 8), gamma=st.floats(0, 1), lam=st.floats(0, 1))
def test_gae_equals_the_discounted_sum_of_td_errors(data, steps, gamma, lam):
    floats = st.floats(-5, 5, allow_nan=False)
    rewards = data.draw(st.lists(floats, min_size=steps, max_size=steps))
    values = data.draw(st.lists(floats, min_size=steps, max_size=steps))
    dones = data.draw(st.lists(st.booleans(), min_size=steps, max_size=steps))
    last = data.draw(floats)
    adv, _ = _gae([[r] for r in rewards], [[v] for v in values], [[float(d)] for d in dones], [last], gamma, lam)
    # Definition: A_t = sum_l (gamma lambda)^l delta_{t+l}, the sum stopping after the episode's last step.
    nxt = values[1:] + [last]
    delta = [r + gamma * nv * (1 - d) - v for r, nv, d, v in zip(rewards, nxt, dones, values)]
    for t in range(steps):
        total, weight = 0.0, 1.0
        for k in range(t, steps):
            total += weight * delta[k]
            if dones[k]:
                break
            weight *= gamma * lam
        assert adv[t, 0].item() == pytest.approx(total, abs=1e-4)


def test_rollout_storage_has_the_documented_shapes_and_types():
    buf = new_rollout(5, 3, 7, 4)
    assert buf.obs.shape == (5, 3, 7) and buf.obs.dtype == torch.float32
    assert buf.masks.shape == (5, 3, 4) and buf.masks.dtype == torch.bool and bool(buf.masks.all())
    assert buf.actions.dtype == torch.int64
    assert {getattr(buf, f).shape for f in ("actions", "logprobs", "values", "rewards", "dones")} == {(5, 3)}


# -- sampling -------------------------------------------------------------------------------------

def test_sampling_follows_the_masked_softmax_and_never_picks_a_masked_action():
    logits = torch.tensor([[0.0, 1.0, 2.0, 3.0]]).repeat(20000, 1)
    mask = torch.tensor([[True, True, False, True]]).repeat(20000, 1)
    actions, logp = sample_actions(logits, mask, torch.Generator().manual_seed(0))
    assert not (actions == 2).any()
    want = torch.softmax(torch.tensor([0.0, 1.0, 3.0]), 0)
    freq = torch.bincount(actions, minlength=4).float()[[0, 1, 3]] / 20000
    assert torch.allclose(freq, want, atol=0.015)
    assert torch.allclose(logp, torch.log(want)[torch.tensor([0, 1, -1, 2])[actions]], atol=1e-5)


def test_sampling_is_repeatable_from_the_generator():
    logits = torch.randn(64, 9)
    a1, _ = sample_actions(logits, None, torch.Generator().manual_seed(3))
    a2, _ = sample_actions(logits, None, torch.Generator().manual_seed(3))
    assert torch.equal(a1, a2)


def test_learner_result_reads_ranks_from_the_learner_seat():
    def outcome(ranks):
        return ToyOutcome({}, ranks, {}, "b", 1)
    assert learner_result(outcome({"a": 2, "b": 1})) == 1
    assert learner_result(outcome({"a": 1, "b": 2})) == -1
    assert learner_result(outcome({"a": 1, "b": 1, "c": 3})) == 0


# -- the learner -------------------------------------------------------------------------------------

def test_init_weights_are_the_starting_point_and_must_fit_the_spec():
    cfg = small_config()
    donor = build_network(mlp_spec(5, 4, cfg.hidden))
    ppo = PPO(GuessVecEnv(4), cfg, init_weights=donor.state_dict())
    assert all(torch.equal(ppo.net.state_dict()[k], v) for k, v in donor.state_dict().items())
    with pytest.raises(WeightsShapeError):
        PPO(GuessVecEnv(4), cfg, init_weights=build_network(mlp_spec(5, 4, (8,))).state_dict())


def test_fresh_weights_depend_on_the_seed_only_and_leave_global_rng_alone():
    state = torch.random.get_rng_state()
    a = make_network(5, 4, small_config(seed=1))
    assert torch.equal(torch.random.get_rng_state(), state)
    b = make_network(5, 4, small_config(seed=1))
    c = make_network(5, 4, small_config(seed=2))
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(x, y) for x, y in zip(a.parameters(), c.parameters()))


def test_env_copies_must_match_n_envs():
    with pytest.raises(ConfigError, match="n_envs = 4 but the env has 3"):
        PPO(GuessVecEnv(3), small_config())


def test_an_iteration_fills_the_rollout_and_reports_metrics():
    env = GuessVecEnv(4, length=3)
    ppo = PPO(env, small_config())
    before = {k: v.clone() for k, v in ppo.net.state_dict().items()}
    metrics = ppo.iteration()
    assert ppo.steps == 64 and ppo.updates == 1
    # Episodes last 3 steps: dones mark exactly the steps where the env said an episode ended.
    ended = torch.tensor(np.array([e["ended"] for e in env.log]), dtype=torch.float32)
    assert torch.equal(ppo.rollout.dones, ended)
    assert torch.equal(ppo.rollout.rewards, torch.tensor(np.array([e["reward"] for e in env.log])))
    assert metrics["episodes"] == 4 * (16 // 3)
    for key in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac", "lr", "train_win_rate"):
        assert np.isfinite(metrics[key]), key
    assert any(not torch.equal(before[k], v) for k, v in ppo.net.state_dict().items())


def test_truncation_bootstraps_from_the_final_observation_when_given():
    cfg = small_config(gamma=0.5)
    env = GuessVecEnv(4, length=5, truncate=True, final_obs=True)
    ppo = PPO(env, cfg)
    critic = {k: v.clone() for k, v in ppo.net.state_dict().items()}  # the rollout's (pre-update) critic
    ppo.iteration()
    net = build_network(ppo.spec)
    net.load_state_dict(critic)
    for t, entry in enumerate(env.log):
        raw = torch.tensor(entry["reward"])
        ended = torch.tensor(entry["ended"])
        with torch.no_grad():
            boot = 0.5 * net.value(torch.tensor(entry["final"]))
        want = torch.where(ended, raw + boot, raw)
        assert torch.allclose(ppo.rollout.rewards[t], want, atol=1e-6)
        assert torch.equal(ppo.rollout.dones[t], ended.float())


def test_truncation_without_final_observation_counts_as_terminal():
    env = GuessVecEnv(4, length=5, truncate=True, final_obs=False)
    ppo = PPO(env, small_config())
    ppo.iteration()
    assert torch.equal(ppo.rollout.rewards, torch.tensor(np.array([e["reward"] for e in env.log])))
    assert torch.equal(ppo.rollout.dones, torch.tensor(np.array([e["ended"] for e in env.log]), dtype=torch.float32))


def test_learning_rate_anneals_linearly_over_the_step_budget():
    ppo = PPO(GuessVecEnv(4), small_config(lr=1e-3), total_steps=256)
    lrs = [ppo.iteration()["lr"] for _ in range(4)]
    assert lrs == pytest.approx([1e-3, 0.75e-3, 0.5e-3, 0.25e-3])
    const = PPO(GuessVecEnv(4), small_config(lr=1e-3, anneal_lr=False), total_steps=256)
    assert [const.iteration()["lr"] for _ in range(2)] == [1e-3, 1e-3]


def test_same_seed_gives_identical_weights_and_another_seed_does_not():
    def run(seed):
        ppo = PPO(GuessVecEnv(4), small_config(seed=seed))
        for _ in range(3):
            ppo.iteration()
        return ppo.weights()
    a, b, c = run(7), run(7), run(8)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_ppo_learns_the_toy_task():
    ppo = PPO(GuessVecEnv(8), PPOConfig(n_envs=8, n_steps=32, epochs=4, minibatches=4, hidden=(32,), lr=3e-3))
    for _ in range(25):
        metrics = ppo.iteration()
    # Random play hits the target 1/3 of the time (3 legal actions); a learned policy nearly always.
    assert metrics["episode_return"] / 3 > 0.9
