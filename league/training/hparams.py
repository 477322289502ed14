"""Random hyperparameters per role: ranges in a typed config, one seeded draw per role.

``sample_hparams(ranges, rng)`` returns a flat JSON-able dict whose keys are
``PPOConfig`` field names, so the same dict is recorded as the member's
``hparams``, turned into its training config with :func:`config_from_hparams`,
and into its network spec with :func:`spec_from_hparams`.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from league.checks import INVALID, bad_value
from league.models import _ACTIVATIONS, network_spec
from league.training.ppo import PPOConfig

__all__ = ["HParamRanges", "sample_hparams", "role_rng", "config_from_hparams", "spec_from_hparams"]


@dataclass(frozen=True)
class HParamRanges:
    """Where each sampled hyperparameter may fall; pairs are inclusive ``(low, high)``."""

    lr: tuple[float, float] = (3e-4, 3e-3)
    """Learning rate, log-uniform."""
    ent_coef: tuple[float, float] = (1e-3, 3e-2)
    """Entropy coefficient, log-uniform."""
    clip_coef: tuple[float, float] = (0.1, 0.3)
    """PPO clip range, uniform."""
    gamma: tuple[float, float] = (0.95, 0.995)
    """Discount; ``1 - gamma`` (the inverse horizon) is log-uniform."""
    gae_lambda: tuple[float, float] = (0.9, 0.98)
    """GAE lambda, uniform."""
    width: tuple[int, ...] = (64, 128, 256)
    """Hidden layer width, one of these (every layer of a network gets the same width)."""
    depth: tuple[int, int] = (1, 3)
    """Number of hidden layers, a uniform integer."""
    n_steps: tuple[int, ...] = (64, 128, 256)
    """Rollout length per env copy, one of these."""
    epochs: tuple[int, int] = (2, 8)
    """Epochs per update, a uniform integer."""
    activation: tuple[str, ...] = ("tanh",)
    """Hidden activation, one of these."""

    def __post_init__(self) -> None:
        for name in ("lr", "ent_coef", "clip_coef", "gamma", "gae_lambda", "depth", "epochs"):
            self._pair(name)
        self._positive("lr", "ent_coef", "clip_coef", "depth", "epochs")
        for name in ("gamma", "gae_lambda"):
            low, high = getattr(self, name)
            if not 0.0 <= low <= high <= 1.0 or (name == "gamma" and high >= 1.0):
                raise self._bad(name, "a pair inside [0, 1]" + (" with high < 1" if name == "gamma" else ""))
        for name in ("depth", "epochs"):
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in getattr(self, name)):
                raise self._bad(name, "a pair of integers")
        for name in ("width", "n_steps"):
            values = getattr(self, name)
            if (not isinstance(values, (tuple, list)) or not values
                    or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values)):
                raise self._bad(name, "a non-empty list of positive integers")
        if not self.activation or any(a not in _ACTIVATIONS for a in self.activation):
            raise self._bad("activation", f"a non-empty list of {sorted(_ACTIVATIONS)}")

    def _bad(self, name: str, accepted: str) -> Exception:
        return bad_value(f"HParamRanges.{name}", getattr(self, name), accepted, form=INVALID)

    def _pair(self, name: str) -> None:
        value = getattr(self, name)
        if (not isinstance(value, (tuple, list)) or len(value) != 2
                or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in value) or value[0] > value[1]):
            raise self._bad(name, "a (low, high) pair of finite numbers with low <= high")

    def _positive(self, *names: str) -> None:
        for name in names:
            if getattr(self, name)[0] <= 0:
                raise self._bad(name, "a pair of positive numbers")


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def role_rng(seed: int, role: str) -> np.random.Generator:
    """A generator for one role's draw: stable across runs and processes (no ``hash()``), and
    independent between roles, so adding a role does not change the others' hyperparameters."""
    return np.random.default_rng([int(seed), zlib.crc32(role.encode("utf-8"))])


def sample_hparams(ranges: HParamRanges, rng: np.random.Generator | int) -> dict[str, Any]:
    """One draw of hyperparameters (keys are ``PPOConfig`` fields; ``hidden`` is a list)."""
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    # Draw every value in a fixed order so a seed always yields the same dict.
    lr = _log_uniform(rng, *ranges.lr)
    ent_coef = _log_uniform(rng, *ranges.ent_coef)
    clip_coef = float(rng.uniform(*ranges.clip_coef))
    one_minus_gamma = _log_uniform(rng, 1.0 - ranges.gamma[1], 1.0 - ranges.gamma[0])
    gae_lambda = float(rng.uniform(*ranges.gae_lambda))
    width = int(rng.choice(ranges.width))
    depth = int(rng.integers(ranges.depth[0], ranges.depth[1] + 1))
    n_steps = int(rng.choice(ranges.n_steps))
    epochs = int(rng.integers(ranges.epochs[0], ranges.epochs[1] + 1))
    activation = str(rng.choice(ranges.activation))
    # Clamp: float rounding of exp(log(x)) or 1 - (1 - g) may land a hair outside the range.
    return {
        "lr": min(max(lr, ranges.lr[0]), ranges.lr[1]),
        "ent_coef": min(max(ent_coef, ranges.ent_coef[0]), ranges.ent_coef[1]),
        "clip_coef": clip_coef,
        "gamma": min(max(1.0 - one_minus_gamma, ranges.gamma[0]), ranges.gamma[1]),
        "gae_lambda": gae_lambda,
        "hidden": [width] * depth,
        "activation": activation,
        "n_steps": n_steps,
        "epochs": epochs,
    }


def config_from_hparams(hparams: dict[str, Any], base: PPOConfig | None = None) -> PPOConfig:
    """``base`` (default ``PPOConfig()``) with the sampled fields replaced; validated."""
    changes = dict(hparams)
    if "hidden" in changes:
        changes["hidden"] = tuple(changes["hidden"])
    return (base or PPOConfig()).replace(**changes)


def spec_from_hparams(hparams: dict[str, Any], obs_dim: int, n_actions: int, **space: Any) -> dict[str, Any]:
    """The network spec those hyperparameters describe (what the trainer will build); ``space``:
    ``models.network_spec``'s ``obs_shape``, ``action`` and ``obs_high``."""
    return network_spec(obs_dim, n_actions, hparams["hidden"], hparams.get("activation", "tanh"), **space)
