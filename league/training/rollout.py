"""Rollout storage and generalised advantage estimation (GAE) for the PPO learner."""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["Rollout", "new_rollout", "compute_gae", "explained_variance"]


class Rollout(NamedTuple):
    """Preallocated storage for one rollout, ``[n_steps, n_envs, ...]``, on the CPU.

    ``dones[t]`` is 1 where the transition at step ``t`` ended its episode (the
    observation after it belongs to a new episode).
    """

    obs: torch.Tensor        # float32 [T, n, obs_dim]
    masks: torch.Tensor      # bool    [T, n, n_actions]
    actions: torch.Tensor    # int64 [T, n]; raw actions [T, n, k] for other kinds (distributions)
    logprobs: torch.Tensor   # float32 [T, n]
    values: torch.Tensor     # float32 [T, n]
    rewards: torch.Tensor    # float32 [T, n]
    dones: torch.Tensor      # float32 [T, n]


def new_rollout(n_steps: int, n_envs: int, obs_dim: int, n_actions: int, action_shape: tuple[int, ...] = (),
                action_dtype: torch.dtype = torch.int64) -> Rollout:
    """Empty rollout storage; reused across updates so the loop allocates nothing.

    ``action_shape``/``action_dtype``: one raw action's (``distributions.raw_action_shape``).
    """
    t, n = n_steps, n_envs
    return Rollout(
        obs=torch.zeros((t, n, obs_dim), dtype=torch.float32),
        masks=torch.ones((t, n, n_actions), dtype=torch.bool),
        actions=torch.zeros((t, n, *action_shape), dtype=action_dtype),
        logprobs=torch.zeros((t, n), dtype=torch.float32),
        values=torch.zeros((t, n), dtype=torch.float32),
        rewards=torch.zeros((t, n), dtype=torch.float32),
        dones=torch.zeros((t, n), dtype=torch.float32),
    )


def compute_gae(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor, last_values: torch.Tensor,
                gamma: float, gae_lambda: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and value targets for a ``[T, n]`` rollout.

    ``values[t]`` is V(s_t); ``last_values`` is V(s_T) for the observation after the
    last step; ``dones[t]`` = 1 cuts both the one-step bootstrap and the lambda
    recursion at the end of step t, so no value crosses an episode boundary.
    Returns ``(advantages, returns)`` with ``returns = advantages + values``.
    """
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    next_adv = torch.zeros_like(last_values)
    next_values = last_values
    for t in reversed(range(steps)):
        alive = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_values * alive - values[t]
        next_adv = delta + gamma * gae_lambda * alive * next_adv
        advantages[t] = next_adv
        next_values = values[t]
    return advantages, advantages + values


def explained_variance(pred: torch.Tensor, target: torch.Tensor) -> float:
    """1 - Var(target - pred) / Var(target): 1 is a perfect critic, 0 no better than a constant."""
    var = float(target.var())
    return float("nan") if var == 0 else 1.0 - float((target - pred).var()) / var
