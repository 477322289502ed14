"""``PPOConfig``: the PPO learner's hyperparameters, validated (re-exported by ``league.training.ppo``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from league.checks import INVALID, bad_value, check_range
from league.errors import ConfigError
from league.models import _ACTIVATIONS

__all__ = ["PPOConfig"]


@dataclass(frozen=True)
class PPOConfig:
    """Hyperparameters of the PPO learner (the defaults are tuned for tictactoe / connect_four)."""

    lr: float = 1e-3
    """Adam learning rate at the start of training."""
    anneal_lr: bool = True
    """Anneal the learning rate linearly to 0 over ``StopRules.max_steps`` (constant if that is unset)."""
    n_envs: int = 16
    """Number of self-play env copies stepped together."""
    n_steps: int = 128
    """Steps collected from each copy per update (rollout length)."""
    epochs: int = 4
    """Passes over each rollout."""
    minibatches: int = 4
    """Minibatches per epoch; ``n_envs * n_steps`` must be divisible by it."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda (0: one-step TD advantages, 1: Monte Carlo)."""
    clip_coef: float = 0.2
    """PPO ratio clip range epsilon."""
    clip_vloss: bool = True
    """Clip the value update to ``clip_coef`` around the rollout values, as in the PPO paper's code."""
    norm_adv: bool = True
    """Normalise advantages within each minibatch."""
    ent_coef: float = 0.01
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient."""
    max_grad_norm: float = 0.5
    """Global gradient norm clip."""
    target_kl: float | None = None
    """Stop the epochs of an update early once the approximate KL exceeds this (None: never)."""
    hidden: tuple[int, ...] = (128, 128)
    """Hidden layer widths of the actor and of the critic MLP."""
    activation: str = "tanh"
    """Hidden activation: one of 'tanh', 'relu', 'elu'."""
    device: str = "cpu"
    """Torch device: 'cpu', 'cuda', 'cuda:N' or 'auto' (CUDA when available, else CPU)."""
    seed: int = 0
    """Seeds the network init, action sampling, minibatch order and the env."""
    torch_threads: int | None = 1
    """Torch CPU threads while training (restored afterwards); None leaves torch's setting alone."""

    def __post_init__(self) -> None:
        # Accept lists (from TOML / JSON) but store a tuple so the config stays hashable.
        if isinstance(self.hidden, list):
            object.__setattr__(self, "hidden", tuple(self.hidden))
        check_range("PPOConfig.lr", self.lr, low=0.0, low_open=True, accepted="a positive finite float", form=INVALID)
        for name in ("n_envs", "n_steps", "epochs", "minibatches"):
            check_range(f"PPOConfig.{name}", getattr(self, name), low=1, integer=True,
                        accepted="a positive integer", form=INVALID)
        for name in ("gamma", "gae_lambda"):
            check_range(f"PPOConfig.{name}", getattr(self, name), low=0.0, high=1.0,
                        accepted="a float in [0, 1]", form=INVALID)
        # An infinite clip range or gradient norm means no clipping, so those stay allowed.
        check_range("PPOConfig.clip_coef", self.clip_coef, low=0.0, low_open=True, finite=False,
                    accepted="a positive float", form=INVALID)
        for name in ("ent_coef", "vf_coef"):
            check_range(f"PPOConfig.{name}", getattr(self, name), low=0.0,
                        accepted="a non-negative finite float", form=INVALID)
        check_range("PPOConfig.max_grad_norm", self.max_grad_norm, low=0.0, low_open=True, finite=False,
                    accepted="a positive float", form=INVALID)
        check_range("PPOConfig.target_kl", self.target_kl, low=0.0, low_open=True, finite=False, optional=True,
                    accepted="None or a positive float", form=INVALID)
        if not (isinstance(self.hidden, tuple) and len(self.hidden) >= 1
                and all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in self.hidden)):
            raise bad_value("PPOConfig.hidden", self.hidden, "a non-empty list of positive integers", form=INVALID)
        if self.activation not in _ACTIVATIONS:
            raise bad_value("PPOConfig.activation", self.activation, f"one of {sorted(_ACTIVATIONS)}", form=INVALID)
        if not (isinstance(self.device, str)
                and (self.device in ("cpu", "auto") or self.device.split(":")[0] == "cuda")):
            raise bad_value("PPOConfig.device", self.device, "'cpu', 'cuda', 'cuda:N' or 'auto'", form=INVALID)
        check_range("PPOConfig.seed", self.seed, integer=True, accepted="an integer", form=INVALID)
        check_range("PPOConfig.torch_threads", self.torch_threads, low=1, integer=True, optional=True,
                    accepted="None or a positive integer", form=INVALID)
        if self.batch_size % self.minibatches != 0:
            raise bad_value("PPOConfig.minibatches", self.minibatches,
                            f"a divisor of n_envs * n_steps = {self.batch_size}", form=INVALID)

    @property
    def batch_size(self) -> int:
        """Learner steps per update: ``n_envs * n_steps``."""
        return self.n_envs * self.n_steps

    @property
    def minibatch_size(self) -> int:
        """Samples per gradient step."""
        return self.batch_size // self.minibatches

    def replace(self, **changes: Any) -> PPOConfig:
        """A copy with some fields changed (validated again); unknown names raise ``ConfigError``."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ConfigError(f"unknown PPOConfig field(s) {unknown}; valid fields: {sorted(names)}")
        return dataclasses.replace(self, **changes)
