"""Actor-critic networks built from a member's spec, used by NPCs and the trainer alike.

A *spec* is a small JSON-able dict that says everything needed to rebuild a
member's network; it is stored with the member in the pool.  Three kinds exist:

``{"kind": "mlp", "obs_dim": 18, "n_actions": 9, "hidden": [64, 64], "activation": "tanh"}``
    separate actor and critic MLPs (as in CleanRL's PPO), orthogonal init.
``{"kind": "cnn", "obs_dim": 6300, "obs_shape": [35, 60, 3], "channels_last": true, "scale": 1/255,
"conv": [[16, 3, 2], [32, 3, 2]], "hidden": [128], "n_actions": 3, ...}``
    a small conv trunk shared by the actor and critic heads, for image observations; the
    flat observation row is put back into its shape, moved to channels-first and scaled.
    ``network_spec`` picks it from the observation shape (``image_layout``).
``{"kind": "random", "n_actions": 9}``
    the uniform-random policy over legal actions; it has no weights.  Anchors use it.
``{"kind": "reference", "name": "minimax", "game": "connect_four", "game_kwargs": {"depth": 2}, "n_actions": 7}``
    a game's reference opponent (``envs.Game.reference``) seated as an anchor; no weights.

Any kind may carry ``"action"``, an ``envs.spaces`` action spec, for actions that are not
discrete: ``{"type": "box", "low": [...], "high": [...]}`` (a tanh-squashed diagonal Gaussian,
``n_actions`` = the vector's length, a ``log_std`` parameter) or ``{"type": "multi_discrete",
"nvec": [...]}`` (a softmax per component, ``n_actions`` = ``sum(nvec)``); see
``league.training.distributions``.  Specs without it (every pool written before) are discrete.

NPC policies follow the ``envs`` policy protocol: ``act(obs, mask, rng)`` takes a
batch of observations ``[B, obs_dim]`` and legal-action masks ``[B, n_actions]``
(or ``None``) and returns ``[B]`` integer actions, never a masked one (``[B, k]`` rows for
multi-discrete and Box actions; only discrete policies offer ``probs``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

import envs
from envs.reference import UniformRandomPolicy, sample_from_probs, uniform_policy  # NPCs live in envs
from league.errors import SpecError, WeightsShapeError
from league.specs import check_spec as _check_spec
from league.specs import (image_layout, is_reference, is_weightless, mlp_spec, network_spec,  # re-exported
                          random_spec, reference_spec)
from league.training.distributions import distribution, masked_logits

__all__ = [
    "ActorCritic",
    "CnnActorCritic",
    "NetworkPolicy",
    "SampledNetworkPolicy",
    "network_spec",
    "random_spec",
    "reference_spec",
    "is_reference",
    "image_layout",
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


class _Heads:
    """What both network kinds share: the action spec and the distribution of an actor output."""

    spec: dict[str, Any]

    @property
    def action(self) -> dict[str, Any] | None:
        """The non-discrete action spec (``None``: discrete)."""
        return self.spec.get("action")

    def dist(self, head: torch.Tensor, mask: torch.Tensor | None = None) -> Any:
        """The action distribution (``league.training.distributions``) of an actor output."""
        return distribution(self.action, head, mask, getattr(self, "log_std", None))


def _log_std(spec: Mapping[str, Any]) -> nn.Parameter | None:
    # State-independent, as in CleanRL's continuous PPO; std 1 at the start: pre-squash
    # samples cover most of tanh's range, so early actions explore the whole Box.
    action = spec.get("action")
    if action is None or action["type"] != "box":
        return None
    return nn.Parameter(torch.zeros(spec["n_actions"]))


class ActorCritic(_Heads, nn.Module):
    """Separate actor and critic MLPs; ``forward`` returns ``(logits, value)`` (for Box actions
    the "logits" are the Gaussian's mean, beside a ``log_std`` parameter)."""

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
        log_std = _log_std(spec)
        if log_std is not None:
            self.log_std = log_std

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.actor(obs), self.critic(obs).squeeze(-1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)


class CnnActorCritic(_Heads, nn.Module):
    """A conv trunk shared by an actor and a critic head (CleanRL's Atari PPO, smaller).

    ``actor(obs)`` and ``value(obs)`` each run the trunk; ``forward`` runs it once for both.
    """

    def __init__(self, spec: Mapping[str, Any], *, init: bool = True):
        super().__init__()
        if _check_spec(spec) != "cnn":
            raise SpecError(f"CnnActorCritic needs a 'cnn' spec, got {spec!r}")
        self.spec = dict(spec)
        (c, h, w), self.channels_last = image_layout(spec["obs_shape"])  # type: ignore[misc]
        self.shape = tuple(int(d) for d in spec["obs_shape"])
        self.scale = float(spec.get("scale", 1.0))
        layers: list[nn.Module] = []
        for out_c, kernel, stride in spec["conv"]:
            conv = nn.Conv2d(c, out_c, kernel, stride)
            if init:
                nn.init.orthogonal_(conv.weight, float(np.sqrt(2)))
                nn.init.zeros_(conv.bias)
            layers += [conv, nn.ReLU()]
            c, h, w = out_c, (h - kernel) // stride + 1, (w - kernel) // stride + 1
            if min(h, w) < 1:
                raise SpecError(f"cnn spec conv {spec['conv']!r} shrinks obs_shape {spec['obs_shape']} to nothing")
        layers.append(nn.Flatten())
        act = _ACTIVATIONS[spec.get("activation", "tanh")]
        hidden = [c * h * w, *spec.get("hidden", [128])]
        for n_in, n_out in zip(hidden[:-1], hidden[1:]):
            layers += [_layer(n_in, n_out, float(np.sqrt(2)), init), act()]
        self.trunk = nn.Sequential(*layers)
        self.pi = _layer(hidden[-1], spec["n_actions"], 0.01, init)
        self.v = _layer(hidden[-1], 1, 1.0, init)
        log_std = _log_std(spec)
        if log_std is not None:
            self.log_std = log_std

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.reshape(obs.shape[0], *self.shape) * self.scale
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)
        return self.trunk(x)

    def actor(self, obs: torch.Tensor) -> torch.Tensor:
        return self.pi(self.features(obs))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.features(obs)
        return self.pi(z), self.v(z).squeeze(-1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.v(self.features(obs)).squeeze(-1)


Network = ActorCritic | CnnActorCritic


def _network(spec: Mapping[str, Any], init: bool) -> Network:
    return CnnActorCritic(spec, init=init) if _check_spec(spec) == "cnn" else ActorCritic(spec, init=init)


def build_network(spec: Mapping[str, Any]) -> Network:
    """A freshly initialised network for an 'mlp' or 'cnn' spec."""
    return _network(spec, True)


def expected_shapes(spec: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes a spec implies ({} for weightless kinds)."""
    if is_weightless(spec):
        _check_spec(spec)
        return {}
    with torch.device("meta"):
        net = _network(spec, False)
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


def load_network(spec: Mapping[str, Any], weights: Mapping[str, Any]) -> Network:
    """Rebuild a member's network; raises ``WeightsShapeError`` when weights don't fit the spec."""
    check_weights(spec, weights)
    net = _network(spec, False)
    net.load_state_dict({k: torch.as_tensor(np.asarray(v)) if not isinstance(v, torch.Tensor) else v
                         for k, v in weights.items()})
    net.eval()
    return net


class NetworkPolicy:
    """An NPC policy around an ``ActorCritic``: samples from the masked softmax.

    ``name`` (e.g. ``"member 7"``) is what a size mismatch error calls the policy.
    """

    def __init__(self, net: Network, *, greedy: bool = False, name: str | None = None):
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


class SampledNetworkPolicy(NetworkPolicy):
    """An NPC policy for multi-discrete or Box actions: ``act`` only (no ``probs``), drawing with
    the given numpy generator; ``greedy`` plays each component's most likely value (Box: the
    squashed mean)."""

    probs = None  # type: ignore[assignment]  # the engine then calls act()

    @torch.no_grad()
    def act(self, obs: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        self._check_sizes(obs, mask)
        head = self.net.actor(torch.as_tensor(obs, dtype=torch.float32))
        m = None if mask is None else torch.as_tensor(mask, dtype=torch.bool)
        dist = self.net.dist(head, m)
        action = self.net.action
        if action["type"] == "box":
            raw = dist.mode()
            if not self.greedy:
                raw = raw + dist.std * torch.as_tensor(rng.standard_normal(tuple(raw.shape)), dtype=raw.dtype)
            return dist.env_action(raw).numpy().astype(np.float32)
        out = np.empty((head.shape[0], len(action["nvec"])), np.int64)
        for k, part in enumerate(dist.parts):
            p = part.logp.exp().numpy().astype(np.float64)
            out[:, k] = p.argmax(1) if self.greedy else sample_from_probs(p / p.sum(1, keepdims=True), rng)
        return out


def build_policy(spec: Mapping[str, Any], weights: Mapping[str, Any] | None = None, *,
                 name: str | None = None) -> Any:
    """An NPC policy for a member: its spec plus its weights (``name``: what errors call it)."""
    action = spec.get("action") if isinstance(spec, Mapping) else None
    kind = _check_spec(spec)
    if kind == "random":
        return UniformRandomPolicy(spec["n_actions"]) if action is None else uniform_policy(action)
    if kind == "reference":
        return envs.make(spec["game"], **dict(spec.get("game_kwargs") or {})).reference(spec["name"])
    if weights is None:
        raise WeightsShapeError(f"spec {dict(spec)!r} needs weights, got none")
    net = load_network(spec, weights)
    if action is not None and action["type"] != "discrete":
        return SampledNetworkPolicy(net, name=name)
    return NetworkPolicy(net, name=name)
