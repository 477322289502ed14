"""Actor-critic networks built from a member's spec, used by NPCs and the trainer alike.

A *spec* is a small JSON-able dict that says everything needed to rebuild a
member's network; it is stored with the member in the pool.  Two kinds exist:

``{"kind": "mlp", "obs_dim": 18, "n_actions": 9, "hidden": [64, 64], "activation": "tanh"}``
    separate actor and critic MLPs (as in CleanRL's PPO), orthogonal init.
``{"kind": "random", "n_actions": 9}``
    the uniform-random policy over legal actions; it has no weights.  Anchors use it.

NPC policies follow the ``envs`` policy protocol: ``act(obs, mask, rng)`` takes a
batch of observations ``[B, obs_dim]`` and legal-action masks ``[B, n_actions]``
(or ``None``) and returns ``[B]`` integer actions, never a masked one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from envs.reference import UniformRandomPolicy, sample_from_probs  # re-exported: NPCs live in envs
from league.errors import SpecError, WeightsShapeError

__all__ = [
    "ActorCritic",
    "NetworkPolicy",
    "UniformRandomPolicy",
    "mlp_spec",
    "build_network",
    "expected_shapes",
    "check_weights",
    "load_network",
    "build_policy",
    "is_weightless",
    "masked_logits",
    "sample_from_probs",
]

_ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU}
_MASKED = -1e9  # finite so that log-softmax stays finite; exp() of it is exactly 0 in float32


def mlp_spec(obs_dim: int, n_actions: int, hidden: tuple[int, ...] | list[int] = (64, 64),
             activation: str = "tanh") -> dict[str, Any]:
    """The spec of an MLP actor-critic."""
    return {"kind": "mlp", "obs_dim": int(obs_dim), "n_actions": int(n_actions),
            "hidden": [int(h) for h in hidden], "activation": str(activation)}


def is_weightless(spec: Mapping[str, Any]) -> bool:
    """True for a spec whose policy has no weights (the uniform-random anchors)."""
    return isinstance(spec, Mapping) and spec.get("kind") == "random"


def _check_spec(spec: Mapping[str, Any]) -> str:
    kind = spec.get("kind") if isinstance(spec, Mapping) else None
    if kind == "random":
        if not isinstance(spec.get("n_actions"), int) or spec["n_actions"] < 1:
            raise SpecError(f"random spec needs a positive integer 'n_actions', got {dict(spec)!r}")
        return kind
    if kind != "mlp":
        raise SpecError(f"unknown network kind {kind!r} in spec {spec!r}; valid kinds: 'mlp', 'random'")
    for key in ("obs_dim", "n_actions"):
        if not isinstance(spec.get(key), int) or spec[key] < 1:
            raise SpecError(f"mlp spec needs a positive integer {key!r}, got {spec.get(key)!r}")
    hidden = spec.get("hidden", [64, 64])
    if not isinstance(hidden, (list, tuple)) or not all(isinstance(h, int) and h > 0 for h in hidden):
        raise SpecError(f"mlp spec 'hidden' must be a list of positive integers, got {hidden!r}")
    if spec.get("activation", "tanh") not in _ACTIVATIONS:
        raise SpecError(f"unknown activation {spec.get('activation')!r}; valid: {sorted(_ACTIVATIONS)}")
    return kind


def _layer(n_in: int, n_out: int, gain: float, init: bool) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    if init:
        nn.init.orthogonal_(layer.weight, gain)
        nn.init.zeros_(layer.bias)
    return layer


def _mlp(sizes: list[int], activation: type[nn.Module], out_gain: float, init: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
        layers += [_layer(n_in, n_out, float(np.sqrt(2)), init), activation()]
    layers.append(_layer(sizes[-2], sizes[-1], out_gain, init))
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    """Separate actor and critic MLPs; ``forward`` returns ``(logits, value)``."""

    def __init__(self, spec: Mapping[str, Any], *, init: bool = True):
        super().__init__()
        if _check_spec(spec) != "mlp":
            raise SpecError(f"ActorCritic needs an 'mlp' spec, got {spec!r}")
        self.spec = dict(spec)
        act = _ACTIVATIONS[spec.get("activation", "tanh")]
        sizes = [spec["obs_dim"], *spec.get("hidden", [64, 64])]
        # Small final gains (CleanRL): a near-uniform initial policy and a near-zero value.
        # init=False skips the orthogonal init (a QR per layer): loading a member's
        # weights overwrites it anyway, and it dominated the cost of seating an opponent.
        self.actor = _mlp([*sizes, spec["n_actions"]], act, 0.01, init)
        self.critic = _mlp([*sizes, 1], act, 1.0, init)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.actor(obs), self.critic(obs).squeeze(-1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)


def masked_logits(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Logits with illegal actions pushed to a huge negative value (probability exactly 0)."""
    if mask is None:
        return logits
    return torch.where(mask.bool(), logits, torch.full_like(logits, _MASKED))


def build_network(spec: Mapping[str, Any]) -> ActorCritic:
    """A freshly initialised network for an 'mlp' spec."""
    return ActorCritic(spec)


def expected_shapes(spec: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes a spec implies ({} for weightless kinds)."""
    if _check_spec(spec) == "random":
        return {}
    with torch.device("meta"):
        net = ActorCritic(spec, init=False)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def check_weights(spec: Mapping[str, Any], weights: Mapping[str, Any]) -> None:
    """Raise ``WeightsShapeError`` unless ``weights`` (name -> array or tensor) have exactly the
    names and shapes of the network ``spec`` builds (``SpecError`` for a bad spec).

    The pool's default ``check_weights`` (``league.pool.Pool.open``).
    """
    want = expected_shapes(spec)
    got = {k: tuple(np.shape(v)) for k, v in weights.items()}
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    if missing or extra:
        raise WeightsShapeError(
            f"weights do not match spec {dict(spec)!r}: missing {missing[:4]}, unexpected {extra[:4]}")
    for name, shape in want.items():
        if got[name] != shape:
            raise WeightsShapeError(
                f"weight {name!r} has shape {got[name]} but spec {dict(spec)!r} needs {shape}; "
                "rebuild the spec from the network that produced these weights")


def load_network(spec: Mapping[str, Any], weights: Mapping[str, Any]) -> ActorCritic:
    """Rebuild a member's network; raises ``WeightsShapeError`` when weights don't fit the spec."""
    check_weights(spec, weights)
    net = ActorCritic(spec, init=False)
    net.load_state_dict({k: torch.as_tensor(np.asarray(v)) if not isinstance(v, torch.Tensor) else v
                         for k, v in weights.items()})
    net.eval()
    return net


class NetworkPolicy:
    """An NPC policy around an ``ActorCritic``: samples from the masked softmax.

    ``name`` (e.g. ``"member 7"``) is what a size mismatch error calls the policy.
    """

    def __init__(self, net: ActorCritic, *, greedy: bool = False, name: str | None = None):
        self.net = net
        self.greedy = greedy
        self.name = name

    def _check_sizes(self, obs: np.ndarray, mask: np.ndarray | None) -> None:
        """A seat whose sizes differ from the spec's: ``WeightsShapeError`` (not torch's
        ``mat1 and mat2 shapes cannot be multiplied``), naming the policy, its spec and the seat's sizes."""
        spec = self.net.spec
        obs_dim = int(np.shape(obs)[-1]) if np.ndim(obs) else 0
        n_actions = None if mask is None else int(np.shape(mask)[-1])
        if obs_dim != spec["obs_dim"] or (n_actions is not None and n_actions != spec["n_actions"]):
            seat = f"observations of size {obs_dim}" + ("" if n_actions is None else f" and {n_actions} actions")
            raise WeightsShapeError(
                f"{self.name or 'a network policy'} with spec {dict(spec)!r} (obs_dim {spec['obs_dim']}, "
                f"n_actions {spec['n_actions']}) was seated where the seat has {seat}; it was trained "
                "for another game or seat: seat it only in seats of its own game")

    @torch.no_grad()
    def probs(self, obs: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Action probabilities ``[B, n_actions]``; exactly 0 on masked actions.

        Offering this lets the self-play env sample each env copy with that copy's
        own generator, so a vectorized env replays the single env step for step.
        A greedy policy puts all mass on its most likely legal action.
        """
        self._check_sizes(obs, mask)
        logits = self.net.actor(torch.as_tensor(obs, dtype=torch.float32))
        m = None if mask is None else torch.as_tensor(mask, dtype=torch.bool)
        logits = masked_logits(logits, m)
        if self.greedy:
            out = np.zeros(tuple(logits.shape), dtype=np.float64)
            out[np.arange(out.shape[0]), logits.argmax(dim=1).numpy()] = 1.0
            return out
        return torch.softmax(logits, dim=1).numpy().astype(np.float64)

    def act(self, obs: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        return sample_from_probs(self.probs(obs, mask), rng)


def build_policy(spec: Mapping[str, Any], weights: Mapping[str, Any] | None = None, *,
                 name: str | None = None) -> UniformRandomPolicy | NetworkPolicy:
    """An NPC policy for a member: its spec plus its weights (``name``: what errors call it)."""
    if _check_spec(spec) == "random":
        return UniformRandomPolicy(spec["n_actions"])
    if weights is None:
        raise WeightsShapeError(f"spec {dict(spec)!r} needs weights, got none")
    return NetworkPolicy(load_network(spec, weights), name=name)
