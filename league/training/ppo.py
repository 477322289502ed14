"""PPO for the self-play vector env: config, rollout storage, GAE, and one update.

The learner collects ``n_steps`` steps from each of ``n_envs`` copies of a
``SelfPlayVecEnv`` (see ``docs/interfaces.md``), computes advantages with GAE and
runs ``epochs`` passes of clipped-objective minibatch SGD.  ``PPO.iteration`` is
the whole algorithm, top to bottom, in the order it happens (CleanRL style); the
pieces with a meaning of their own -- :class:`Rollout` storage and
:func:`compute_gae` (``rollout``), the action distributions and
:func:`sample_actions` (``distributions``) -- are small functions that tests
call directly.  The actions may be discrete, multi-discrete or a Box (a
tanh-squashed Gaussian; see ``league.training.distributions``), whatever the
env's ``action_spec`` says.

Episode boundaries.  The vector env resets a finished copy in the same step, so
the observation returned after a final step already belongs to the *next*
episode.  ``dones[t]`` therefore means "the transition at step t ended its
episode", and GAE never bootstraps through it.  A *truncated* episode (time
limit, not a real end) is bootstrapped from the value of its final observation
when the env hands that observation back in ``infos["final_obs"]`` (an
``[n, obs_dim]`` array whose rows for truncated copies hold the last observation
of the old episode): ``gamma * V(final_obs)`` is added to that step's reward
before the step is treated as done.  When the env does not expose it, a
truncation is treated like a termination (value 0 after it); the board games
this library ships end only by termination, so this costs nothing there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from league.errors import ConfigError
from league.models import Network, build_network, load_network, network_spec
from league.training.distributions import raw_action_dtype, raw_action_shape, sample_actions
from league.training.ppo_config import PPOConfig
from league.training.rollout import Rollout, compute_gae, explained_variance, new_rollout

__all__ = [
    "PPOConfig",
    "VecEnv",
    "Rollout",
    "new_rollout",
    "compute_gae",
    "sample_actions",
    "explained_variance",
    "learner_result",
    "resolve_device",
    "make_network",
    "PPO",
]


class VecEnv(Protocol):
    """The part of ``envs.SelfPlayVecEnv`` the learner uses (see ``docs/interfaces.md``).

    Optional: ``action_spec`` (``envs.spaces``; discrete when absent), ``obs_shape`` (the raw
    observation shape: images get a CNN) and ``observation_space`` (its bound scales images).
    """

    num_envs: int
    obs_dim: int
    n_actions: int

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]: ...

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]: ...


def resolve_device(name: str) -> torch.device:
    """The torch device for ``PPOConfig.device``; asking for CUDA without CUDA is a ``ConfigError``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"PPOConfig.device = {name!r} but CUDA is not available here; use 'cpu' or 'auto'")
    return torch.device(name)


def make_network(obs_dim: int, n_actions: int, config: PPOConfig,
                 init_weights: Mapping[str, Any] | None = None, *, obs_shape: tuple[int, ...] | None = None,
                 action: Mapping[str, Any] | None = None, obs_high: float = 1.0) -> Network:
    """The learner's network: ``init_weights`` loaded into the config's spec, else a fresh one
    initialised from ``config.seed`` (without touching torch's global random state).

    The spec is ``models.network_spec``'s: a CNN for image ``obs_shape``s, else the MLP, with
    the heads of ``action`` (an ``envs.spaces`` action spec; ``None``: discrete)."""
    spec = network_spec(obs_dim, n_actions, config.hidden, config.activation, obs_shape=obs_shape,
                        action=action, obs_high=obs_high)
    if init_weights is not None:
        net = load_network(spec, init_weights)  # WeightsShapeError names the parameter that misfits
        net.train()
        return net
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return build_network(spec)


def learner_result(outcome: Any) -> int:
    """+1 win, 0 draw, -1 loss for the learner seat of an ``envs`` ``Outcome``.

    A win ranks the learner strictly above every seat of the other teams (every other seat
    when the game has no teams); a loss ranks one of them strictly above it; anything else
    (sharing the best rank) is a draw.  Teammates share the learner's rank, so a team's win
    is the learner's win.
    """
    seat = outcome.learner_seat
    mine = outcome.ranks[seat]
    teams = getattr(outcome, "teams", None) or {}
    team = teams.get(seat, seat)
    best_other = min((r for s, r in outcome.ranks.items() if s != seat and teams.get(s, s) != team),
                     default=mine + 1)
    return 1 if mine < best_other else -1 if mine > best_other else 0


# --------------------------------------------------------------------------------------------
# The learner
# --------------------------------------------------------------------------------------------

def _adam(net: nn.Module, lr: float) -> torch.optim.Adam:
    """Adam with eps 1e-5 (as in the PPO paper's code), fused where torch offers it.

    With small networks each minibatch step is dominated by per-tensor overhead, and the
    fused kernel updates all parameters in one call (about 15 % of an update on CPU).
    """
    try:
        return torch.optim.Adam(net.parameters(), lr=lr, eps=1e-5, fused=True)
    except (RuntimeError, TypeError, ValueError):  # older torch, or a device without the kernel
        return torch.optim.Adam(net.parameters(), lr=lr, eps=1e-5, foreach=True)


@dataclass
class _EpisodeStats:
    """Episodes that ended during the current rollout, from the env's outcomes."""

    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    wins: int = 0
    draws: int = 0
    losses: int = 0

    def add(self, outcome: Any) -> None:
        result = learner_result(outcome)
        self.returns.append(float(outcome.returns[outcome.learner_seat]))
        self.lengths.append(int(outcome.length))
        self.wins += result > 0
        self.losses += result < 0
        self.draws += result == 0


class PPO:
    """A PPO learner bound to one vector env: ``iteration()`` collects a rollout and updates.

    Owns the network, the Adam optimiser, the rollout storage and the random
    generators; ``steps`` counts learner steps (one action of one env copy).
    """

    def __init__(self, env: VecEnv, config: PPOConfig, *, init_weights: Mapping[str, Any] | None = None,
                 total_steps: int | None = None, on_outcome: Callable[[Any], None] | None = None):
        if env.num_envs != config.n_envs:
            raise ConfigError(f"PPOConfig.n_envs = {config.n_envs} but the env has {env.num_envs} copies")
        self.env, self.config = env, config
        self.device = resolve_device(config.device)
        action = getattr(env, "action_spec", None)
        self.action = None if action is None or action["type"] == "discrete" else dict(action)
        space = getattr(env, "observation_space", None)
        high = float(np.max(space.high)) if space is not None and np.isfinite(np.max(space.high)) else 1.0
        self.net = make_network(env.obs_dim, env.n_actions, config, init_weights,
                                obs_shape=getattr(env, "obs_shape", None), action=self.action,
                                obs_high=high).to(self.device)
        self.spec = dict(self.net.spec)
        self.optimizer = _adam(self.net, config.lr)
        # One generator per use, all from the seed: the env's own randomness then cannot shift ours.
        self.gen = torch.Generator(device=self.device).manual_seed(config.seed)
        self.cpu_gen = torch.Generator().manual_seed(config.seed + 1)
        self.total_steps = total_steps  # the horizon of the learning-rate anneal
        # Told every finished episode's outcome: e.g. an opponent source whose weights follow
        # the learner's current results.
        self.on_outcome = on_outcome
        self.rollout = new_rollout(config.n_steps, config.n_envs, env.obs_dim, env.n_actions,
                                   raw_action_shape(self.action), raw_action_dtype(self.action))
        self.steps = 0
        self.updates = 0
        obs, infos = env.reset(seed=config.seed)
        self.obs = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        self.mask = self._mask(infos)

    def _mask(self, infos: Mapping[str, Any]) -> torch.Tensor:
        mask = infos.get("action_mask")
        if mask is None:  # an env without masks: every action is legal
            return torch.ones((self.config.n_envs, self.env.n_actions), dtype=torch.bool)
        return torch.as_tensor(np.asarray(mask, dtype=bool))

    def weights(self) -> dict[str, torch.Tensor]:
        """A detached CPU copy of the current weights (safe to keep while training goes on)."""
        return {k: v.detach().to("cpu", copy=True) for k, v in self.net.state_dict().items()}

    def iteration(self) -> dict[str, float]:
        """Collect ``n_steps`` from every env copy, then run the PPO update; returns metrics."""
        cfg, net, buf, dev = self.config, self.net, self.rollout, self.device
        started = time.perf_counter()

        # -- learning rate: linear anneal over the step budget -------------------------------
        lr = cfg.lr
        if cfg.anneal_lr and self.total_steps:
            lr = cfg.lr * max(0.0, 1.0 - self.steps / self.total_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

        # -- rollout ------------------------------------------------------------------------
        stats = _EpisodeStats()
        new_rollout_hook = getattr(self.env, "new_rollout", None)
        if new_rollout_hook is not None:
            new_rollout_hook()  # the redraw point of envs built with redraw="rollout"
        net.eval()
        with torch.inference_mode():
            for t in range(cfg.n_steps):
                buf.obs[t] = self.obs
                buf.masks[t] = self.mask
                head, value = net(self.obs.to(dev))
                dist = net.dist(head, self.mask.to(dev))
                action = dist.sample(self.gen)  # raw: a Box's pre-squash sample, see distributions
                buf.actions[t], buf.logprobs[t], buf.values[t] = action, dist.log_prob(action), value
                obs, reward, terminated, truncated, infos = self.env.step(dist.env_action(action).cpu().numpy())
                buf.rewards[t] = torch.as_tensor(np.asarray(reward, dtype=np.float32))
                truncated = np.asarray(truncated, dtype=bool) & ~np.asarray(terminated, dtype=bool)
                if truncated.any() and "final_obs" in infos:
                    # A time limit is not an end: bootstrap from the last observation's value.
                    idx = torch.as_tensor(np.flatnonzero(truncated))
                    final = torch.as_tensor(np.asarray(infos["final_obs"], dtype=np.float32))[idx]
                    buf.rewards[t, idx] += cfg.gamma * net.value(final.to(dev)).cpu()
                buf.dones[t] = torch.as_tensor(np.asarray(terminated) | truncated, dtype=torch.float32)
                for _, outcome in infos.get("outcomes", ()):
                    stats.add(outcome)
                    if self.on_outcome is not None:
                        self.on_outcome(outcome)
                self.obs = torch.as_tensor(np.asarray(obs, dtype=np.float32))
                self.mask = self._mask(infos)
            last_values = net.value(self.obs.to(dev)).cpu()
        self.steps += cfg.batch_size
        rollout_s = time.perf_counter() - started

        # -- advantages ---------------------------------------------------------------------
        advantages, returns = compute_gae(buf.rewards, buf.values, buf.dones, last_values,
                                          cfg.gamma, cfg.gae_lambda)

        # -- flatten the batch and move it to the device once -----------------------------------
        b_obs = buf.obs.reshape(cfg.batch_size, -1).to(dev)
        b_masks = buf.masks.reshape(cfg.batch_size, -1).to(dev)
        b_actions = buf.actions.reshape(cfg.batch_size, *buf.actions.shape[2:]).to(dev)
        b_logprobs = buf.logprobs.reshape(-1).to(dev)
        b_values = buf.values.reshape(-1).to(dev)
        b_adv = advantages.reshape(-1).to(dev)
        b_returns = returns.reshape(-1).to(dev)

        # -- PPO update: epochs x minibatches of clipped-objective SGD ------------------------
        net.train()
        clip_fracs: list[float] = []
        approx_kl = pg_loss = v_loss = entropy = torch.zeros(())
        for _epoch in range(cfg.epochs):
            order = torch.randperm(cfg.batch_size, generator=self.cpu_gen).to(dev)
            for start in range(0, cfg.batch_size, cfg.minibatch_size):
                mb = order[start:start + cfg.minibatch_size]
                head, new_values = net(b_obs[mb])
                dist = net.dist(head, b_masks[mb])
                new_logp = dist.log_prob(b_actions[mb])
                entropy = dist.entropy().mean()
                log_ratio = new_logp - b_logprobs[mb]
                ratio = log_ratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - log_ratio).mean()  # the low-variance k3 estimator
                    clip_fracs.append(float(((ratio - 1).abs() > cfg.clip_coef).float().mean()))

                adv = b_adv[mb]
                if cfg.norm_adv and adv.numel() > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                # Clipped surrogate: the pessimistic bound of the unclipped and clipped ratio.
                pg_loss = torch.max(-adv * ratio,
                                    -adv * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef)).mean()

                if cfg.clip_vloss:
                    v_clipped = b_values[mb] + (new_values - b_values[mb]).clamp(-cfg.clip_coef, cfg.clip_coef)
                    v_loss = 0.5 * torch.max((new_values - b_returns[mb]) ** 2,
                                             (v_clipped - b_returns[mb]) ** 2).mean()
                else:
                    v_loss = 0.5 * ((new_values - b_returns[mb]) ** 2).mean()

                loss = pg_loss - cfg.ent_coef * entropy + cfg.vf_coef * v_loss
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), cfg.max_grad_norm, foreach=True)
                self.optimizer.step()
            if cfg.target_kl is not None and float(approx_kl) > cfg.target_kl:
                break
        self.updates += 1

        # -- metrics ------------------------------------------------------------------------
        n_episodes = len(stats.returns)
        elapsed = time.perf_counter() - started
        metrics = {
            "lr": lr,
            "policy_loss": pg_loss.item(),
            "value_loss": v_loss.item(),
            "entropy": entropy.item(),
            "approx_kl": float(approx_kl),
            "clip_frac": float(np.mean(clip_fracs)) if clip_fracs else 0.0,
            "explained_variance": explained_variance(b_values.cpu(), b_returns.cpu()),
            "episodes": float(n_episodes),
            "steps_per_s": cfg.batch_size / elapsed,
            "rollout_s": rollout_s,
            "update_s": elapsed - rollout_s,
        }
        if n_episodes:
            metrics.update({
                "episode_return": float(np.mean(stats.returns)),
                "episode_length": float(np.mean(stats.lengths)),
                "train_win_rate": stats.wins / n_episodes,
                "train_draw_rate": stats.draws / n_episodes,
                "train_loss_rate": stats.losses / n_episodes,
            })
        return metrics
