"""A ``Game`` derived from any PettingZoo env: ``envs.from_pettingzoo(env_fn)``.

Everything is read from the env, as RLlib's and PufferLib's wrappers do: the API (AEC or
parallel), the seats (``possible_agents``), each seat's flattened observation size
(gymnasium's ``flatten_space``), its ``Discrete`` action count, and the legal-action mask when
observations are PettingZoo classic's ``{"observation", "action_mask"}`` dicts.  Every game gets
a uniform-random reference.  A hand-written ``Game`` stays the fast path for shipped games.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.spaces.utils import flatten, flatten_space
from pettingzoo.utils.env import AECEnv, ParallelEnv

from envs.errors import GameConfigError
from envs.game import Game, ranks_from_returns
from envs.games._common import random_reference, seat_roles

__all__ = ["from_pettingzoo", "from_module"]


def _is_masked_dict(space: spaces.Space) -> bool:
    return isinstance(space, spaces.Dict) and set(space.spaces) >= {"observation", "action_mask"}


def _encoder(space: spaces.Space) -> Callable[[Any, np.ndarray, np.ndarray], None]:
    """``encode(raw, obs_row, mask_row)`` for one observation space (shared by seats that have it)."""
    if _is_masked_dict(space):
        inner = space["observation"]

        def encode_masked(raw: Any, obs_row: np.ndarray, mask_row: np.ndarray) -> None:
            obs_row[:] = flatten(inner, raw["observation"])
            mask_row[:] = np.asarray(raw["action_mask"]).astype(bool)
        return encode_masked
    if isinstance(space, spaces.Box):
        def encode_box(raw: Any, obs_row: np.ndarray, mask_row: np.ndarray) -> None:
            obs_row[:] = np.asarray(raw).reshape(-1)
        return encode_box

    def encode_any(raw: Any, obs_row: np.ndarray, mask_row: np.ndarray) -> None:
        obs_row[:] = flatten(space, raw)
    return encode_any


def from_pettingzoo(env_fn: Callable[[], Any], *, name: str | None = None,
                    roles: Mapping[str, str] | None = None, symmetric: bool | None = None,
                    outcome: Callable[[Mapping[str, float]], dict[str, int]] | None = None,
                    references: Mapping[str, Callable[[Game], Any]] | None = None,
                    config: Mapping[str, Any] | None = None) -> Game:
    """A ``Game`` for the PettingZoo env ``env_fn()`` returns (AEC or parallel).

    ``roles`` binds seats to roles (default: each seat its own); ``symmetric`` (default: every
    seat has the same spaces) lets evaluation rotate members through the seats; ``outcome``
    turns returns into ranks (default: by team returns); ``references`` adds opponents beside
    ``"random"``.  Actions must be ``Discrete``; any observation space gymnasium can flatten
    works, and a ``{"observation", "action_mask"}`` dict gives the legal-action mask.
    """
    probe = env_fn()
    if isinstance(probe, ParallelEnv):
        api = "parallel"
    elif isinstance(probe, AECEnv):
        api = "aec"
    else:
        raise GameConfigError(f"from_pettingzoo: env_fn returned {type(probe).__name__}, not a PettingZoo "
                              "AECEnv or ParallelEnv")
    seats = tuple(probe.possible_agents)
    obs_spaces = {s: probe.observation_space(s) for s in seats}
    act_spaces = {s: probe.action_space(s) for s in seats}
    for s, a in act_spaces.items():
        if not isinstance(a, spaces.Discrete):
            raise GameConfigError(f"seat {s!r} has action space {a}; supported: Discrete")
    masked = [_is_masked_dict(sp) for sp in obs_spaces.values()]
    if any(masked) and not all(masked):
        raise GameConfigError("from_pettingzoo: some seats have action masks and others not")
    flat = {s: flatten_space(sp["observation"] if _is_masked_dict(sp) else sp) for s, sp in obs_spaces.items()}
    kinds = {type(sp) for sp in obs_spaces.values()}
    first = obs_spaces[seats[0]]
    same = all(sp == first for sp in obs_spaces.values())
    if not same and kinds != {spaces.Box}:
        raise GameConfigError("from_pettingzoo: seats with different observation spaces are supported "
                              f"only for Box observations; got {sorted(k.__name__ for k in kinds)}")
    lows = np.concatenate([np.asarray(f.low, np.float64).reshape(-1) for f in flat.values()])
    highs = np.concatenate([np.asarray(f.high, np.float64).reshape(-1) for f in flat.values()])
    if symmetric is None:
        symmetric = same and len({a.n for a in act_spaces.values()}) == 1
    probe.close()
    refs = {"random": random_reference, **dict(references or {})}
    return Game(
        name=name or getattr(probe, "metadata", {}).get("name", type(probe).__name__),
        seats=seats, roles=seat_roles(seats, None if roles is None else dict(roles)), api=api,
        symmetric=bool(symmetric), masked=all(masked), env_fn=env_fn,
        obs_dims={s: int(f.shape[0]) for s, f in flat.items()},
        action_counts={s: int(a.n) for s, a in act_spaces.items()}, encoder=_encoder(first),
        references=refs, outcome_rule=outcome or ranks_from_returns,
        obs_bounds=(float(lows.min()), float(highs.max())), config=dict(config or {}))


def from_module(path: str, **kwargs: Any) -> Game:
    """The game of a PettingZoo module named by import path (``"pettingzoo.classic.leduc_holdem_v4"``):
    its ``raw_env`` (no wrappers: the self-play env checks legality), else ``parallel_env``,
    else ``env``, called with ``kwargs``."""
    try:
        module = importlib.import_module(path)
    except ImportError as exc:
        raise GameConfigError(f"game {path!r}: cannot import it ({exc}); is it installed / on PYTHONPATH?") from None
    for attr in ("raw_env", "parallel_env", "env"):
        make = getattr(module, attr, None)
        if callable(make):
            break
    else:
        raise GameConfigError(f"game {path!r}: the module has no raw_env, parallel_env or env")
    try:
        make(**kwargs).close()
    except TypeError as exc:
        raise GameConfigError(f"game {path!r}: {exc}") from None
    return from_pettingzoo(lambda: make(**kwargs), name=path, config=kwargs)
