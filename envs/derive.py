"""A ``Game`` derived from any PettingZoo env: ``envs.from_pettingzoo(env_fn)``.

Everything is read from the env, as RLlib's and PufferLib's wrappers do: the API (AEC or
parallel), the seats (``possible_agents``), each seat's flattened observation size
(gymnasium's ``flatten_space``) and raw ``Box`` shape (a CNN is picked for images), its action
spec (``envs.spaces``: Discrete, MultiDiscrete or a bounded Box), and the legal-action mask when
observations are PettingZoo classic's ``{"observation", "action_mask"}`` dicts or when the infos
carry an ``"action_mask"`` (Shimmy's OpenSpiel envs).  Every game gets a uniform-random
reference.  A hand-written ``Game`` stays the fast path for shipped games.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.spaces.utils import flatten, flatten_space
from pettingzoo.utils.env import AECEnv, ParallelEnv
from pettingzoo.utils.wrappers import BaseParallelWrapper

from envs.errors import GameConfigError, UnsupportedSpaceError
from envs.game import Game, ranks_from_returns
from envs.spaces import action_spec, flat_mask, width
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
            mask_row[:] = flat_mask(raw["action_mask"])
        return encode_masked
    if isinstance(space, spaces.Box):
        def encode_box(raw: Any, obs_row: np.ndarray, mask_row: np.ndarray) -> None:
            obs_row[:] = np.asarray(raw).reshape(-1)
        return encode_box

    def encode_any(raw: Any, obs_row: np.ndarray, mask_row: np.ndarray) -> None:
        obs_row[:] = flatten(space, raw)
    return encode_any


def _infos_mask(probe: Any, api: str) -> bool:
    """Whether a freshly reset ``probe`` gives an ``"action_mask"`` in its infos."""
    out = probe.reset(seed=0)
    infos = out[1] if api == "parallel" else probe.infos
    return any(isinstance(i, Mapping) and "action_mask" in i for i in (infos or {}).values())


def _info_mask_encoder(inner: Callable[[Any, np.ndarray, np.ndarray], None]
                       ) -> Callable[[Any, np.ndarray, np.ndarray], None]:
    """``inner`` on ``(observation, mask)`` pairs; a seat with no mask in its infos (one that
    has left) gets every action legal, never a previous decision's mask."""
    def encode_info_masked(raw: Any, obs_row: np.ndarray, mask_row: np.ndarray) -> None:
        obs, mask = raw
        inner(obs, obs_row, mask_row)
        mask_row[:] = True if mask is None else flat_mask(mask)
    return encode_info_masked


def _observe_info_masked(env: Any, seat: str) -> tuple[Any, Any]:
    """AEC games whose infos carry the mask: the observation and the seat's current mask."""
    return env.observe(seat), env.infos.get(seat, {}).get("action_mask")


class _InfoMaskParallel(BaseParallelWrapper):
    """A parallel env whose observations become ``(observation, infos mask)`` pairs, since the
    engine keeps a parallel step's observations and drops its infos."""

    @property
    def agents(self) -> list:  # type: ignore[override]
        return self.env.agents

    @property
    def possible_agents(self) -> list:  # type: ignore[override]
        return self.env.possible_agents

    @staticmethod
    def _pair(obs: Mapping[str, Any], infos: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
        return {s: (o, (infos.get(s) or {}).get("action_mask")) for s, o in obs.items()}

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        obs, infos = self.env.reset(seed=seed, options=options)
        return self._pair(obs, infos), infos

    def step(self, actions: dict) -> tuple[dict, dict, dict, dict, dict]:
        obs, rewards, terms, truncs, infos = self.env.step(actions)
        return self._pair(obs, infos), rewards, terms, truncs, infos


def from_pettingzoo(env_fn: Callable[[], Any], *, name: str | None = None,
                    roles: Mapping[str, str] | None = None, symmetric: bool | None = None,
                    outcome: Callable[[Mapping[str, float]], dict[str, int]] | None = None,
                    references: Mapping[str, Callable[[Game], Any]] | None = None,
                    config: Mapping[str, Any] | None = None) -> Game:
    """A ``Game`` for the PettingZoo env ``env_fn()`` returns (AEC or parallel).

    ``roles`` binds seats to roles (default: each seat its own); ``symmetric`` (default: every
    seat has the same spaces) lets evaluation rotate members through the seats; ``outcome``
    turns returns into ranks (default: by team returns); ``references`` adds opponents beside
    ``"random"``.  Actions may be ``Discrete``, ``MultiDiscrete`` or a bounded ``Box``
    (``UnsupportedSpaceError`` otherwise); any observation space gymnasium can flatten works, and a ``{"observation", "action_mask"}`` dict or an ``"action_mask"`` in the infos
    gives the legal-action mask.
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
    specs = {s: action_spec(a, f"seat {s!r}'s action space") for s, a in act_spaces.items()}
    masked = [_is_masked_dict(sp) for sp in obs_spaces.values()]
    if any(masked) and not all(masked):
        raise GameConfigError("from_pettingzoo: some seats have action masks and others not")
    if any(masked) and any(sp["type"] == "box" for sp in specs.values()):
        raise UnsupportedSpaceError("from_pettingzoo: action masks with Box actions; supported: masks with "
                                    "Discrete or MultiDiscrete actions")
    info_masked = not any(masked) and _infos_mask(probe, api)
    inner = {s: sp["observation"] if _is_masked_dict(sp) else sp for s, sp in obs_spaces.items()}
    try:
        flat = {s: flatten_space(sp) for s, sp in inner.items()}
    except (NotImplementedError, TypeError, ValueError) as exc:
        raise UnsupportedSpaceError(f"from_pettingzoo: observation space {inner[seats[0]]} cannot be flattened "
                                    f"({exc}); supported: Box, Discrete, MultiDiscrete, MultiBinary and "
                                    "Dict/Tuple of them") from None
    # The raw shape of Box observations: league.models picks a CNN for image shapes.
    shapes = {s: tuple(int(d) for d in sp.shape) for s, sp in inner.items() if isinstance(sp, spaces.Box)}
    kinds = {type(sp) for sp in obs_spaces.values()}
    first = obs_spaces[seats[0]]
    same = all(sp == first for sp in obs_spaces.values())
    if not same and kinds != {spaces.Box}:
        raise GameConfigError("from_pettingzoo: seats with different observation spaces are supported "
                              f"only for Box observations; got {sorted(k.__name__ for k in kinds)}")
    lows = np.concatenate([np.asarray(f.low, np.float64).reshape(-1) for f in flat.values()])
    highs = np.concatenate([np.asarray(f.high, np.float64).reshape(-1) for f in flat.values()])
    if symmetric is None:
        symmetric = same and all(sp == specs[seats[0]] for sp in specs.values())
    probe.close()
    refs = {"random": random_reference, **dict(references or {})}
    encoder, observe, make = _encoder(first), None, env_fn
    if info_masked:
        encoder = _info_mask_encoder(encoder)
        if api == "aec":
            observe = _observe_info_masked
        else:
            def make() -> Any:
                return _InfoMaskParallel(env_fn())
    return Game(
        name=name or getattr(probe, "metadata", {}).get("name", type(probe).__name__),
        seats=seats, roles=seat_roles(seats, None if roles is None else dict(roles)), api=api,
        symmetric=bool(symmetric), masked=all(masked) or info_masked, env_fn=make, observe=observe,
        obs_dims={s: int(f.shape[0]) for s, f in flat.items()},
        action_counts={s: width(sp) for s, sp in specs.items()}, encoder=encoder,
        references=refs, outcome_rule=outcome or ranks_from_returns,
        obs_bounds=(float(lows.min()), float(highs.max())), config=dict(config or {}),
        action_specs=specs, obs_shapes=shapes or None)


def from_module(path: str, *, roles: Mapping[str, str] | None = None, **kwargs: Any) -> Game:
    """The game of a PettingZoo module named by import path (``"pettingzoo.classic.leduc_holdem_v4"``):
    its ``raw_env`` (no wrappers: the self-play env checks legality), else ``parallel_env``,
    else ``env``, called with ``kwargs``; ``roles`` as in ``from_pettingzoo``."""
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
    return from_pettingzoo(lambda: make(**kwargs), name=path, roles=roles, config=kwargs)
