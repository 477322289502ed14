"""The checks ``Pool`` runs on its arguments, completely, before anything is written.

A call that fails here leaves the pool untouched (no file, row or blob written), so every
error a caller can cause is raised from this module or from ``Pool``'s own checks, never
halfway through a write.  ``WeightsFit`` runs the shape check the caller injected
(``check_weights``), remembering what passed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from league.errors import (ConfigError, PoolExistsError, PoolNotFoundError, UnknownMemberError, UnknownRoleError,
                           WeightsShapeError)
from league.pool import store
from league.pool.recovery import BACKUP_FILE
from league.pool.writer import NewMember

if TYPE_CHECKING:
    import torch

__all__ = ["WeightsCheck", "WeightsFit", "check_create", "check_new_dir", "check_open", "check_id", "role_index", "new_member",
           "match_doc", "encode", "encode_state"]

WeightsCheck = Callable[[Any, Mapping[str, Any]], None]
"""``check(spec, weights)``: raise ``WeightsShapeError`` when ``weights`` (name -> tensor) do not
fit the network ``spec`` describes.  It may look only at the spec and the weights' names and
shapes: the pool remembers which (spec, shapes) passed and does not ask again."""

_REQUIRED = frozenset({"role", "weights", "spec", "hparams", "step"})   # add_many entry keys
_OPTIONAL = frozenset({"parent", "anchor"})


def check_with_models(spec: Any, weights: Mapping[str, Any]) -> None:
    """The default ``check_weights``: the parameter shapes of the network ``league.models``
    builds from ``spec``.  Imported here, on first use: importing the pool needs no torch."""
    from league.models import check_weights
    check_weights(spec, weights)


class WeightsFit:
    """``check_weights``, asked once per (spec, names and shapes): the default builds a
    meta-device network (~1 ms), more than all the rest of an add."""

    def __init__(self, check: WeightsCheck | None) -> None:
        self.check = check if check is not None else check_with_models
        self.passed: set[tuple[bytes, tuple[tuple[str, tuple[int, ...]], ...]]] = set()

    def __call__(self, spec: Any, spec_b: bytes, tensors: Mapping[str, torch.Tensor], *,
                 stored: str | None = None) -> None:
        """Raise ``WeightsShapeError`` unless ``tensors`` fit ``spec`` (``spec_b``: its JSON).

        ``stored``: the weights were read from disk; the error names where (``stored``).
        """
        key = (spec_b, tuple(sorted((name, tuple(t.shape)) for name, t in tensors.items())))
        if key in self.passed:
            return
        try:
            self.check(spec, tensors)
        except WeightsShapeError as exc:
            if stored is None:
                raise
            raise WeightsShapeError(f"stored weights of {stored} do not fit its spec: {exc}") from None
        self.passed.add(key)


def check_create(game: Any, roles: Any, mu: Any, sigma: Any) -> None:
    """``Pool.create``'s arguments."""
    if not isinstance(game, str) or not game:
        raise ConfigError(f"game must be a non-empty string, got {game!r}")
    if isinstance(roles, str) or not roles or not all(isinstance(r, str) and r for r in roles):
        raise ConfigError(f"roles must be a non-empty list of non-empty strings, got {roles!r}")
    if len(set(roles)) != len(roles):
        raise ConfigError(f"roles must be distinct, got {list(roles)!r}")
    if not (math.isfinite(mu) and math.isfinite(sigma) and sigma > 0):
        raise ConfigError(f"initial rating must be finite with sigma > 0, got mu={mu!r} sigma={sigma!r}")


def check_new_dir(root: Path) -> None:
    """``Pool.create``'s directory: none, an empty one, or one without a pool."""
    if (root / store.INDEX_FILE).exists() or (root / BACKUP_FILE).exists():
        raise PoolExistsError(f"{root} already holds a pool; open it with Pool.open({str(root)!r}, mode='a') "
                              "or choose another directory")
    if root.exists() and not root.is_dir():
        raise PoolExistsError(f"{root} exists and is not a directory; choose another path")


def check_open(root: Path, mode: Any) -> None:
    """``Pool.open``'s arguments: a known mode and a directory holding a pool."""
    if mode not in ("r", "a"):
        raise ValueError(f"mode must be 'r' (read) or 'a' (read and write), got {mode!r}")
    if not (root / store.INDEX_FILE).exists() and not (mode == "a" and (root / BACKUP_FILE).exists()):
        if (root / "pool" / store.INDEX_FILE).exists():   # a league run's output directory
            raise PoolNotFoundError(f"no pool at {root}: it is a run directory; did you mean {root / 'pool'}?")
        raise PoolNotFoundError(f"no pool at {root} ({store.INDEX_FILE} missing); create one with Pool.create")


def check_id(member_id: Any, n: int, path: Path) -> int:
    """``member_id`` as an int, when the pool at ``path`` (``n`` members) has that member."""
    if isinstance(member_id, bool) or not isinstance(member_id, (int, np.integer)) or not 0 <= member_id < n:
        raise UnknownMemberError(f"no member with id {member_id!r} in pool {path} "
                                 f"(ids are ints 0..{n - 1})" if n else
                                 f"no member with id {member_id!r}: pool {path} is empty")
    return int(member_id)


def role_index(roles: tuple[str, ...], role: Any) -> int:
    """The index of ``role`` in the pool's roles."""
    try:
        return roles.index(role)
    except ValueError:
        raise UnknownRoleError(f"unknown role {role!r}; this pool's roles are {list(roles)}") from None


def new_member(k: int, entry: Any, *, n0: int, roles: tuple[str, ...], path: Path, fit: WeightsFit) -> NewMember:
    """Check ``add_many`` entry ``k`` completely (members 0..n0-1 exist), writing nothing."""
    if not isinstance(entry, Mapping) or not _REQUIRED <= set(entry) or set(entry) - _REQUIRED - _OPTIONAL:
        raise ValueError(f"add_many entry {k} must be a dict with keys {sorted(_REQUIRED)} and optionally "
                         f"{sorted(_OPTIONAL)}, got {sorted(entry) if isinstance(entry, Mapping) else entry!r}")
    role_i = role_index(roles, entry["role"])
    parent = entry.get("parent")
    if parent is not None:   # an existing member, or an earlier entry of this batch
        is_int = isinstance(parent, (int, np.integer)) and not isinstance(parent, bool)
        parent = int(parent) if is_int and n0 <= parent < n0 + k else check_id(parent, n0, path)
    step = entry["step"]
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    spec = entry["spec"]
    spec_b = encode("spec", dict(spec) if isinstance(spec, Mapping) else spec)
    tensors = _as_tensors(entry["weights"])
    fit(spec, spec_b, tensors)
    hparams = entry["hparams"]
    if not isinstance(hparams, Mapping):
        raise ConfigError(f"hparams must be a dict, got {type(hparams).__name__}")
    return NewMember(role_i, -1 if parent is None else parent, int(step), spec_b,
                     encode("hparams", dict(hparams)), tensors, bool(entry.get("anchor", False)))


def match_doc(seats: Sequence[Any], member_ids: Sequence[Any], ranks: Sequence[Any],
              ratings: Sequence[Sequence[Any]], seed: Any, kind: Any, *, games: np.ndarray,
              path: Path, returns: Sequence[Any] | None = None, episodes: Any = 1) -> dict[str, Any]:
    """``record_match``'s arguments, checked, as the match log's document.

    ``games``: every member's games so far (the rows' column).  The document's ``post`` holds
    each distinct member's ``[id, mu, sigma, games]`` after the match (its last seat wins).
    """
    seats, ids = list(seats), list(member_ids)
    ranks, ratings = list(ranks), [tuple(r) for r in ratings]
    if not (len(seats) == len(ids) == len(ranks) == len(ratings)) or not seats:
        raise ValueError(f"seats, member_ids, ranks and ratings need one entry per seat; got lengths "
                         f"{len(seats)}, {len(ids)}, {len(ranks)}, {len(ratings)}")
    if not all(isinstance(s, str) for s in seats):
        raise ValueError(f"seats must be strings, got {seats!r}")
    ids = [check_id(m, len(games), path) for m in ids]
    if not all(isinstance(r, (int, np.integer)) and not isinstance(r, bool) and r >= 1 for r in ranks):
        raise ValueError(f"ranks must be integers >= 1 (1 = best), got {ranks!r}")
    for mu_sigma in ratings:
        if (len(mu_sigma) != 2 or not all(isinstance(x, (int, float, np.number)) for x in mu_sigma)
                or not (math.isfinite(mu_sigma[0]) and math.isfinite(mu_sigma[1]) and mu_sigma[1] > 0)):
            raise ValueError(f"ratings must be finite (mu, sigma) pairs with sigma > 0, got {ratings!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"seed must be an int or None, got {seed!r}")
    if not isinstance(kind, str):
        raise ValueError(f"kind must be a string, got {kind!r}")
    if returns is not None:
        returns = list(returns)
        if len(returns) != len(seats) or not all(isinstance(x, (int, float, np.number)) and math.isfinite(x)
                                                 for x in returns):
            raise ValueError(f"returns must be one finite number per seat, got {returns!r}")
    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ValueError(f"episodes must be an integer >= 1, got {episodes!r}")
    post: dict[int, list[Any]] = {}
    for m, (mu, sigma) in zip(ids, ratings):
        post[m] = [m, float(mu), float(sigma), int(games[m]) + 1]
    return {"seats": seats, "member_ids": ids, "ranks": [int(r) for r in ranks],
            "seed": None if seed is None else int(seed), "kind": kind, "post": list(post.values()),
            **({} if returns is None else {"returns": [float(x) for x in returns]}),
            **({} if episodes == 1 else {"episodes": int(episodes)})}


def _as_tensors(weights: Any) -> dict[str, torch.Tensor]:
    """Weights as name -> torch tensor (numpy arrays are wrapped, not copied)."""
    if not isinstance(weights, Mapping):
        raise WeightsShapeError(f"weights must be a dict of name -> tensor (a state_dict), got "
                                f"{type(weights).__name__}")
    if not weights:
        return {}
    import torch  # here, not at the top: reading a pool, or adding weightless members, needs no torch
    tensors: dict[str, torch.Tensor] = {}
    for name, value in weights.items():
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(np.ascontiguousarray(value))
        if not isinstance(value, torch.Tensor) or not isinstance(name, str):
            raise WeightsShapeError(f"weight {name!r} is a {type(value).__name__}; weights must map "
                                    "str names to torch tensors or numpy arrays")
        tensors[name] = value
    return tensors


def encode(what: str, obj: Any) -> bytes:
    """``obj`` as canonical JSON; ``ConfigError`` naming ``what`` when it is not JSON."""
    try:
        return store.json_bytes(obj)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what} must be JSON-serializable without NaN/inf ({exc}); got {obj!r:.200}") from None


def encode_state(state: Any) -> bytes:
    """A run state (a dict) as JSON."""
    if not isinstance(state, Mapping):
        raise ConfigError(f"run state must be a dict, got {type(state).__name__}")
    return encode("run state", dict(state))
