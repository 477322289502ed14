"""Action and observation spaces as the engine and the networks see them.

A seat's actions are described by a small JSON-able dict, its *action spec*, which the game
holds per seat and a member's network spec carries (``league.models``):

``{"type": "discrete", "n": 5}``
    one integer in ``0..n-1``; a mask (when the game has one) is ``[n]`` bools.
``{"type": "multi_discrete", "nvec": [3, 2]}``
    one integer per component, component ``k`` in ``0..nvec[k]-1``; a mask is the components'
    masks concatenated (``[sum(nvec)]`` bools).
``{"type": "box", "low": [...], "high": [...]}``
    a float vector with finite bounds, flattened to one dimension; never masked.

``width(spec)`` is what the game calls a seat's ``n_actions``: the number of actions (discrete),
the summed component sizes (multi-discrete, the mask's length) or the vector's length (box).
An image observation keeps its raw shape in ``Game.obs_shapes`` so a network can put the
flattened row back into ``(H, W, C)`` or ``(C, H, W)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.errors import UnsupportedSpaceError

__all__ = ["SUPPORTED_ACTIONS", "action_spec", "discrete_spec", "width", "action_shape", "check_action",
           "flat_mask", "gym_action_space", "gym_spaces"]

SUPPORTED_ACTIONS = "Discrete, MultiDiscrete, or Box with finite bounds"


def discrete_spec(n: int) -> dict[str, Any]:
    """The spec of ``n`` discrete actions (every hand-written game's)."""
    return {"type": "discrete", "n": int(n)}


def action_spec(space: spaces.Space, where: str = "an action space") -> dict[str, Any]:
    """The action spec of a gymnasium space, or an ``UnsupportedSpaceError`` naming it."""
    if isinstance(space, spaces.Discrete):
        if int(space.start) != 0:
            raise UnsupportedSpaceError(f"{where} is {space} (start {int(space.start)}); supported: "
                                        f"{SUPPORTED_ACTIONS}, with Discrete starting at 0")
        return discrete_spec(int(space.n))
    if isinstance(space, spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec).reshape(-1)
        if np.asarray(space.start).any() or np.asarray(space.nvec).ndim != 1:
            raise UnsupportedSpaceError(f"{where} is {space}; supported: {SUPPORTED_ACTIONS}, with "
                                        "MultiDiscrete one-dimensional and starting at 0")
        return {"type": "multi_discrete", "nvec": [int(n) for n in nvec]}
    if isinstance(space, spaces.Box) and np.issubdtype(space.dtype, np.floating):
        low = np.asarray(space.low, np.float64).reshape(-1)
        high = np.asarray(space.high, np.float64).reshape(-1)
        if not (np.isfinite(low).all() and np.isfinite(high).all() and (high > low).all()):
            raise UnsupportedSpaceError(f"{where} is {space}, which is unbounded; supported: {SUPPORTED_ACTIONS} "
                                        "(a bounded Box is played through a tanh-squashed Gaussian)")
        return {"type": "box", "low": low.tolist(), "high": high.tolist(), "shape": list(space.shape)}
    raise UnsupportedSpaceError(f"{where} is {space}; supported: {SUPPORTED_ACTIONS}")


def width(spec: Mapping[str, Any]) -> int:
    """The seat's ``n_actions``: actions, summed component sizes, or the Box vector's length."""
    kind = spec["type"]
    if kind == "discrete":
        return int(spec["n"])
    if kind == "multi_discrete":
        return int(sum(spec["nvec"]))
    return len(spec["low"])


def action_shape(spec: Mapping[str, Any]) -> tuple[int, ...]:
    """The shape of one copy's action: ``()`` for discrete, ``(k,)`` for k components or a Box."""
    kind = spec["type"]
    if kind == "discrete":
        return ()
    return (len(spec["nvec"]),) if kind == "multi_discrete" else (len(spec["low"]),)


def check_action(spec: Mapping[str, Any], action: Any, mask: np.ndarray | None) -> Any:
    """The action as the env takes it, or ``None`` when it is illegal (out of range or masked).

    Box actions are clipped into their bounds (a policy's squashing may round onto them) and
    only a non-finite one is illegal.
    """
    kind = spec["type"]
    if kind == "discrete":
        a = int(np.asarray(action).reshape(-1)[0]) if np.ndim(action) else int(action)
        if not 0 <= a < spec["n"] or (mask is not None and not mask[a]):
            return None
        return a
    a = np.asarray(action).reshape(-1)
    if kind == "multi_discrete":
        nvec = spec["nvec"]
        if a.shape != (len(nvec),) or not np.all(a == np.round(a)):
            return None
        a = a.astype(np.int64)
        if (a < 0).any() or (a >= np.asarray(nvec)).any():
            return None
        if mask is not None:
            offsets = np.cumsum([0, *nvec[:-1]])
            if not mask[offsets + a].all():
                return None
        return a
    low, high = spec["low"], spec["high"]
    if a.shape != (len(low),) or not np.isfinite(a).all():
        return None
    shape = tuple(spec.get("shape") or (len(low),))
    return np.clip(a, low, high).astype(np.float32).reshape(shape)


def flat_mask(raw_mask: Any) -> np.ndarray:
    """An env's action mask as one bool row: a tuple of per-component masks is concatenated."""
    if isinstance(raw_mask, (tuple, list)) and raw_mask and np.ndim(raw_mask[0]) >= 1:
        return np.concatenate([np.asarray(m, bool).reshape(-1) for m in raw_mask])
    return np.asarray(raw_mask).astype(bool).reshape(-1)


def gym_action_space(spec: Mapping[str, Any]) -> gym.Space:
    """The gymnasium space of actions the self-play env takes for ``spec``."""
    kind = spec["type"]
    if kind == "discrete":
        return spaces.Discrete(int(spec["n"]))
    if kind == "multi_discrete":
        return spaces.MultiDiscrete(np.asarray(spec["nvec"], np.int64))
    return spaces.Box(np.asarray(spec["low"], np.float32), np.asarray(spec["high"], np.float32), dtype=np.float32)


def gym_spaces(game: Any, seat: str) -> tuple[spaces.Box, gym.Space]:
    """The self-play env's observation space (a flat float32 Box) and action space for ``seat``."""
    low, high = game.obs_bounds
    obs_space = spaces.Box(low=low, high=high, shape=(game.obs_dim(seat),), dtype=np.float32)
    return obs_space, gym_action_space(game.action_spec(seat))
