"""Network specs: building them (``mlp_spec``, ``network_spec``, ``random_spec``, ``reference_spec``), choosing a CNN
from an observation's shape (``image_layout``) and checking them (``check_spec``).

The spec format is described in ``league.models``, which builds networks from specs and
re-exports these functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from league.errors import SpecError

__all__ = ["ACTIVATIONS", "mlp_spec", "random_spec", "reference_spec", "network_spec", "image_layout",
           "is_weightless", "is_reference", "check_spec"]

ACTIVATIONS = ("tanh", "relu", "elu")
_ACTION_TYPES = ("discrete", "multi_discrete", "box")
_MIN_IMAGE_SIDE = 16  # smaller "images" (board planes) stay with the MLP


def mlp_spec(obs_dim: int, n_actions: int, hidden: tuple[int, ...] | list[int] = (64, 64),
             activation: str = "tanh", action: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The spec of an MLP actor-critic (``action``: a non-discrete action spec, see the module doc)."""
    spec = {"kind": "mlp", "obs_dim": int(obs_dim), "n_actions": int(n_actions),
            "hidden": [int(h) for h in hidden], "activation": str(activation)}
    return _with_action(spec, action)


def random_spec(n_actions: int, action: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The spec of a uniform-random anchor over ``n_actions`` actions (or over ``action``'s space)."""
    return _with_action({"kind": "random", "n_actions": int(n_actions)}, action)


def reference_spec(name: str, game: str, game_kwargs: Mapping[str, Any], n_actions: int) -> dict[str, Any]:
    """The spec of a game's reference opponent (``"minimax"``, ...) seated as an anchor.

    It names the game and its ``envs.make`` keyword arguments (a reference such as connect
    four's minimax depends on them), so any process, a Ray worker included, builds the same
    policy from the spec alone.
    """
    return {"kind": "reference", "name": str(name), "game": str(game), "game_kwargs": dict(game_kwargs),
            "n_actions": int(n_actions)}


def _with_action(spec: dict[str, Any], action: Mapping[str, Any] | None) -> dict[str, Any]:
    # A discrete spec stays exactly as before, so old and new members compare equal.
    if action is not None and action.get("type") != "discrete":
        spec["action"] = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in action.items()}
    return spec


def image_layout(obs_shape: tuple[int, ...] | list[int] | None) -> tuple[tuple[int, int, int], bool] | None:
    """``((C, H, W), channels_last)`` for an image observation shape, else ``None``.

    An image has three dimensions, one of them a channel axis of at most 4 (first or last)
    and sides of at least 16: ``(H, W, C)`` is tried first (PettingZoo's butterfly frames).
    """
    if obs_shape is None or len(obs_shape) != 3:
        return None
    a, b, c = (int(d) for d in obs_shape)
    if c <= 4 and min(a, b) >= _MIN_IMAGE_SIDE:
        return (c, a, b), True
    if a <= 4 and min(b, c) >= _MIN_IMAGE_SIDE:
        return (a, b, c), False
    return None


def network_spec(obs_dim: int, n_actions: int, hidden: tuple[int, ...] | list[int] = (64, 64),
                 activation: str = "tanh", *, obs_shape: tuple[int, ...] | list[int] | None = None,
                 action: Mapping[str, Any] | None = None, obs_high: float = 1.0) -> dict[str, Any]:
    """The learner's spec for a seat: a CNN for image observations (``image_layout``), else an MLP.

    A CNN gets two conv layers (8x8 stride 4 then 4x4 stride 2 when both sides are >= 36
    pixels, 3x3 stride 2 twice below that), then ``hidden``; ``obs_high`` > 1 (a uint8 frame's
    255) scales the inputs into [0, 1].
    """
    layout = image_layout(obs_shape)
    if layout is None:
        return mlp_spec(obs_dim, n_actions, hidden, activation, action)
    (c, h, w), channels_last = layout
    conv = [[16, 8, 4], [32, 4, 2]] if min(h, w) >= 36 else [[16, 3, 2], [32, 3, 2]]
    scale = 1.0 / float(obs_high) if obs_high > 1.0 else 1.0
    spec = {"kind": "cnn", "obs_dim": int(obs_dim), "obs_shape": [int(d) for d in obs_shape],
            "channels_last": channels_last, "scale": scale, "conv": conv,
            "hidden": [int(x) for x in hidden], "activation": str(activation), "n_actions": int(n_actions)}
    return _with_action(spec, action)


def is_weightless(spec: Mapping[str, Any]) -> bool:
    """True for a spec whose policy has no weights (the uniform-random and reference anchors)."""
    return isinstance(spec, Mapping) and spec.get("kind") in ("random", "reference")


def is_reference(spec: Mapping[str, Any]) -> bool:
    """True for a game's reference opponent seated as an anchor (``reference_spec``): a yardstick
    the league trains and rates against, never one of its own players."""
    return isinstance(spec, Mapping) and spec.get("kind") == "reference"


def _check_action(spec: Mapping[str, Any]) -> None:
    action = spec.get("action")
    if action is None:
        return
    kind = action.get("type") if isinstance(action, Mapping) else None
    if kind not in _ACTION_TYPES:
        raise SpecError(f"spec action {action!r}: unknown type {kind!r}; supported: {list(_ACTION_TYPES)}")
    if kind == "box":
        low, high = action.get("low"), action.get("high")
        if not (isinstance(low, list) and isinstance(high, list) and len(low) == len(high) == spec["n_actions"]
                and all(np.isfinite(lo) and np.isfinite(hi) and hi > lo for lo, hi in zip(low, high))):
            raise SpecError(f"box action {action!r} needs finite 'low' < 'high' lists of length n_actions "
                            f"= {spec['n_actions']}")
    if kind == "multi_discrete":
        nvec = action.get("nvec")
        if not (isinstance(nvec, list) and nvec and all(isinstance(n, int) and n >= 1 for n in nvec)
                and sum(nvec) == spec["n_actions"]):
            raise SpecError(f"multi_discrete action {action!r} needs positive integer 'nvec' summing to "
                            f"n_actions = {spec['n_actions']}")


def check_spec(spec: Mapping[str, Any]) -> str:
    kind = spec.get("kind") if isinstance(spec, Mapping) else None
    if kind == "random":
        if not isinstance(spec.get("n_actions"), int) or spec["n_actions"] < 1:
            raise SpecError(f"random spec needs a positive integer 'n_actions', got {dict(spec)!r}")
        _check_action(spec)
        return kind
    if kind == "reference":
        if not (isinstance(spec.get("name"), str) and isinstance(spec.get("game"), str)
                and isinstance(spec.get("game_kwargs", {}), Mapping)
                and isinstance(spec.get("n_actions"), int) and spec["n_actions"] >= 1):
            raise SpecError(f"reference spec needs strings 'name' and 'game', a mapping 'game_kwargs' and a "
                            f"positive integer 'n_actions', got {dict(spec)!r}")
        return kind
    if kind not in ("mlp", "cnn"):
        raise SpecError(f"unknown network kind {kind!r} in spec {spec!r}; valid kinds: 'mlp', 'cnn', 'random', "
                        "'reference'")
    for key in ("obs_dim", "n_actions"):
        if not isinstance(spec.get(key), int) or spec[key] < 1:
            raise SpecError(f"{kind} spec needs a positive integer {key!r}, got {spec.get(key)!r}")
    _check_action(spec)
    if kind == "cnn":
        layout = image_layout(spec.get("obs_shape"))
        if layout is None or int(np.prod(spec["obs_shape"])) != spec["obs_dim"]:
            raise SpecError(f"cnn spec needs an image 'obs_shape' ((H, W, C) or (C, H, W), sides >= "
                            f"{_MIN_IMAGE_SIDE}, C <= 4) with obs_dim elements, got {spec.get('obs_shape')!r}")
        conv = spec.get("conv")
        if not (isinstance(conv, list) and conv and all(isinstance(c, list) and len(c) == 3
                                                         and all(isinstance(x, int) and x >= 1 for x in c)
                                                         for c in conv)):
            raise SpecError(f"cnn spec 'conv' must be a list of [channels, kernel, stride], got {conv!r}")
    hidden = spec.get("hidden", [64, 64])
    if not isinstance(hidden, (list, tuple)) or not all(isinstance(h, int) and h > 0 for h in hidden):
        raise SpecError(f"mlp spec 'hidden' must be a list of positive integers, got {hidden!r}")
    if spec.get("activation", "tanh") not in ACTIVATIONS:
        raise SpecError(f"unknown activation {spec.get('activation')!r}; valid: {sorted(ACTIVATIONS)}")
    return kind


