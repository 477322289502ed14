"""Action distributions of a network's head, one per action kind (``envs.spaces``).

``distribution(action, head, mask, log_std)`` wraps a network's actor output:

``discrete`` -- ``Categorical``: a masked softmax over ``head`` ``[B, n]``.
``multi_discrete`` -- ``MultiCategorical``: one independent masked softmax per component over
    the slices of ``head`` ``[B, sum(nvec)]``; log-probabilities and entropies add up.
``box`` -- ``SquashedGaussian``: a diagonal Gaussian ``N(head, exp(log_std))`` on a
    pre-squash variable ``u``, played as ``low + (tanh(u) + 1) / 2 * (high - low)``. Squashing
    (not clipping) keeps every sampled action inside the bounds *and* its log-probability
    exact: ``log p(a) = log N(u) - sum log |da/du|`` with
    ``da/du = (high - low) / 2 * (1 - tanh(u)^2)``. Rollouts store ``u`` (the *raw* action),
    never ``a``: inverting ``tanh`` near the bounds loses all precision. The entropy bonus is
    the Gaussian's (the squashed one has no closed form); it is what keeps ``log_std`` from
    collapsing, as in the usual tanh-Gaussian PPO.

Each distribution samples with one ``torch.rand``/``torch.randn`` call on a given generator, so
rollouts repeat for a seed; ``env_action(raw)`` turns a raw action into what the env takes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch.nn import functional as F

__all__ = ["MASKED_LOGIT", "masked_logits", "Categorical", "MultiCategorical", "SquashedGaussian",
           "distribution", "sample_actions", "raw_action_shape", "raw_action_dtype"]

MASKED_LOGIT = -1e9  # finite so that log-softmax stays finite; exp() of it is exactly 0 in float32


def masked_logits(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Logits with illegal actions pushed to a huge negative value (probability exactly 0)."""
    if mask is None:
        return logits
    return torch.where(mask.bool(), logits, torch.full_like(logits, MASKED_LOGIT))


def _gumbel_argmax(logp: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    # argmax(logp + Gumbel noise) is a sample from softmax(logp); masked logits (-1e9) sit far
    # beyond any noise, so a masked action is never drawn.
    u = torch.rand(logp.shape, generator=generator, device=logp.device)
    return torch.argmax(logp - torch.log(-torch.log(u)), dim=-1)


class Categorical:
    """A masked softmax over ``logits [B, n]``; actions are ``int64 [B]``."""

    def __init__(self, logits: torch.Tensor, mask: torch.Tensor | None = None):
        self.logp = torch.log_softmax(masked_logits(logits, mask), dim=-1)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return _gumbel_argmax(self.logp, generator)

    def mode(self) -> torch.Tensor:
        return self.logp.argmax(-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return self.logp.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        # Masked actions have probability exactly 0, so they add nothing.
        return -(self.logp.exp() * self.logp).sum(-1)

    def env_action(self, raw: torch.Tensor) -> torch.Tensor:
        return raw


class MultiCategorical:
    """Independent masked softmaxes, one per component; actions are ``int64 [B, k]``."""

    def __init__(self, logits: torch.Tensor, nvec: list[int], mask: torch.Tensor | None = None):
        logits = masked_logits(logits, mask)
        self.parts = [Categorical(chunk) for chunk in torch.split(logits, list(nvec), dim=-1)]

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.stack([p.sample(generator) for p in self.parts], dim=-1)

    def mode(self) -> torch.Tensor:
        return torch.stack([p.mode() for p in self.parts], dim=-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return sum(p.log_prob(actions[..., k]) for k, p in enumerate(self.parts))  # type: ignore[return-value]

    def entropy(self) -> torch.Tensor:
        return sum(p.entropy() for p in self.parts)  # type: ignore[return-value]

    def env_action(self, raw: torch.Tensor) -> torch.Tensor:
        return raw


class SquashedGaussian:
    """``a = low + (tanh(u) + 1) / 2 * (high - low)``, ``u ~ N(mean, exp(log_std))``; raw
    actions are ``u`` (float32 ``[B, d]``)."""

    def __init__(self, mean: torch.Tensor, log_std: torch.Tensor, low: torch.Tensor, high: torch.Tensor):
        self.mean = mean
        self.log_std = log_std.expand_as(mean)
        self.std = self.log_std.exp()
        self.low, self.high = low.to(mean), high.to(mean)
        self.half = (self.high - self.low) / 2

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn(self.mean.shape, generator=generator, device=self.mean.device)
        return self.mean + self.std * noise

    def mode(self) -> torch.Tensor:
        return self.mean

    def log_prob(self, raw: torch.Tensor) -> torch.Tensor:
        z = (raw - self.mean) / self.std
        gauss = -0.5 * z * z - self.log_std - 0.5 * math.log(2 * math.pi)
        # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)): exact, and finite for any u.
        log_dtanh = 2.0 * (math.log(2.0) - raw - F.softplus(-2.0 * raw))
        return (gauss - log_dtanh - torch.log(self.half)).sum(-1)

    def entropy(self) -> torch.Tensor:
        return (self.log_std + 0.5 * (1.0 + math.log(2 * math.pi))).sum(-1)

    def env_action(self, raw: torch.Tensor) -> torch.Tensor:
        return self.low + (torch.tanh(raw) + 1.0) * self.half


Distribution = Categorical | MultiCategorical | SquashedGaussian


def distribution(action: Mapping[str, Any] | None, head: torch.Tensor, mask: torch.Tensor | None = None,
                 log_std: torch.Tensor | None = None) -> Distribution:
    """The distribution of an actor output ``head`` for the action spec ``action`` (``None``:
    discrete); ``log_std`` is the network's parameter for Box actions."""
    kind = "discrete" if action is None else action["type"]
    if kind == "discrete":
        return Categorical(head, mask)
    if kind == "multi_discrete":
        return MultiCategorical(head, list(action["nvec"]), mask)
    if log_std is None:
        raise ValueError("a Box action distribution needs the network's log_std")
    low = torch.as_tensor(action["low"], dtype=head.dtype, device=head.device)
    high = torch.as_tensor(action["high"], dtype=head.dtype, device=head.device)
    return SquashedGaussian(head, log_std, low, high)


def sample_actions(logits: torch.Tensor, mask: torch.Tensor | None,
                   generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample one discrete action per row from the masked softmax; returns ``(actions, log_probs)``.

    Gumbel-max: one ``rand`` call driven by ``generator`` (so rollouts are repeatable), and a
    masked action (its logit at -1e9, far beyond any noise) is never picked.
    """
    dist = Categorical(logits, mask)
    actions = dist.sample(generator)
    return actions, dist.log_prob(actions)


def raw_action_shape(action: Mapping[str, Any] | None) -> tuple[int, ...]:
    """The shape of one stored raw action: ``()`` discrete, ``(k,)`` components or Box length."""
    if action is None or action["type"] == "discrete":
        return ()
    return (len(action["nvec"]),) if action["type"] == "multi_discrete" else (len(action["low"]),)


def raw_action_dtype(action: Mapping[str, Any] | None) -> torch.dtype:
    """``float32`` for Box raw actions, ``int64`` for the discrete kinds."""
    return torch.float32 if action is not None and action["type"] == "box" else torch.int64
