"""Batched NPC stepping: a round's decisions grouped by member, one forward pass per group.

Both drivers (``envs.engine.aec``, ``envs.engine.parallel``) collect the decisions of a round
into an ``NpcRound`` (which copy, which seat, its raw observation) and take the actions back
from ``NpcRound.play``; this module is the one place that groups, encodes, samples and checks.

A decision's randomness is drawn from its copy's generator when it is added, so a copy draws
in the order its seats decide (seat order within a parallel step), whatever else shares the
round: for a policy that offers ``probs``, one uniform; for an ``act``-only policy with
``Engine.act_rows`` set, the policy is called on that one row with the copy's generator.
Without ``act_rows``, ``act``-only policies are batched too and share ``Engine.act_rng`` (or
the group's first copy's generator).

An encoder may offer ``rows(raws, obs, mask)`` besides the row-at-a-time call: it then fills a
whole group's rows at once (``envs.games.texas_holdem``: one scatter instead of four numpy
calls per row), which must write exactly what the row calls would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from envs.errors import IllegalActionError
from envs.opponents import MemberId, Policy
from envs.reference import sample_with_uniforms
from envs.spaces import check_action

if TYPE_CHECKING:
    from envs.engine.core import Engine

__all__ = ["NpcRound", "check_actions"]


def check_actions(policy: Policy, actions: Any, mask: np.ndarray | None, n_rows: int,
                  n_actions: int, spec: dict[str, Any] | None = None) -> Any:
    """``actions`` as ``int64 [n_rows]`` (or, for a multi-discrete or Box ``spec``, a list of the
    env's actions), or an ``IllegalActionError`` naming what is wrong."""
    if spec is not None and spec["type"] != "discrete":
        rows = np.asarray(actions)
        if len(rows) != n_rows:
            raise IllegalActionError(f"opponent policy {type(policy).__name__} returned {len(rows)} actions "
                                     f"for a batch of {n_rows} observations")
        out = [check_action(spec, row, None if mask is None else mask[b]) for b, row in enumerate(rows)]
        bad = [b for b, a in enumerate(out) if a is None]
        if bad:
            raise IllegalActionError(f"opponent policy {type(policy).__name__} chose an action outside its "
                                     f"{spec['type']} space (or a masked one): {rows[bad[0]].tolist()}")
        return out
    actions = np.asarray(actions, dtype=np.int64).reshape(-1)
    if actions.shape != (n_rows,):
        raise IllegalActionError(f"opponent policy {type(policy).__name__} returned actions of shape "
                                 f"{actions.shape} for a batch of {n_rows} observations")
    if actions.min() < 0 or actions.max() >= n_actions:
        raise IllegalActionError(f"opponent policy {type(policy).__name__} chose actions outside "
                                 f"0..{n_actions - 1}: {actions.tolist()}")
    if mask is not None and not mask[np.arange(n_rows), actions].all():
        bad = int(np.flatnonzero(~mask[np.arange(n_rows), actions])[0])
        raise IllegalActionError(f"opponent policy {type(policy).__name__} chose masked action "
                                 f"{int(actions[bad])} (legal: {np.flatnonzero(mask[bad]).tolist()})")
    return actions


class _Group:
    """The decisions of one member (and observation length) in a round."""

    __slots__ = ("policy", "seat", "rows", "uniforms")

    def __init__(self, policy: Policy, seat: str, sampled: bool):
        self.policy = policy
        self.seat = seat                # a seat of the first row: its dims hold for every row
        self.rows: list[tuple[int, str, Any]] = []
        self.uniforms: list[float] | None = [] if sampled else None


class NpcRound:
    """The NPC decisions of one round across copies, grouped by (member, observation length)."""

    __slots__ = ("engine", "groups", "ready")

    def __init__(self, engine: Engine):
        self.engine = engine
        self.groups: dict[tuple[MemberId, int], _Group] = {}
        self.ready: list[tuple[int, str, int]] = []  # act_rows decisions, already made

    def add(self, i: int, seat: str, raw: Any) -> None:
        """Copy ``i``'s NPC in ``seat`` is to decide on its raw observation ``raw``."""
        engine = self.engine
        c = engine.copies[i]
        key = (c.seating[seat], engine.dims[seat])
        group = self.groups.get(key)
        if group is None:
            policy = c.policies[seat]
            # probs() is a distribution over discrete actions; other action kinds always act().
            sampled = engine.specs[seat]["type"] == "discrete" and getattr(policy, "probs", None) is not None
            if not sampled and engine.act_rows:
                obs, mask = self._encode([(i, seat, raw)], seat)
                actions = check_actions(policy, policy.act(obs, mask, c.rng), mask, 1, engine.acts[seat],
                                        engine.specs[seat])
                self.ready.append((i, seat, actions[0] if isinstance(actions, list) else int(actions[0])))
                return
            self.groups[key] = group = _Group(policy, seat, sampled)
        group.rows.append((i, seat, raw))
        if group.uniforms is not None:
            group.uniforms.append(c.rng.random())

    def play(self) -> Iterator[tuple[int, str, int]]:
        """``(copy, seat, action)`` for every decision added, one batched call per group.

        Lazy: a group's forward pass runs when the previous group's actions have been consumed,
        so a driver may step its envs as the actions arrive.
        """
        yield from self.ready
        engine = self.engine
        for group in self.groups.values():
            policy, rows = group.policy, group.rows
            obs, mask = self._encode(rows, group.seat)
            if group.uniforms is not None:
                p = np.asarray(policy.probs(obs, mask), dtype=np.float64)
                actions = sample_with_uniforms(p, np.asarray(group.uniforms, np.float64))
            else:
                rng = engine.act_rng if engine.act_rng is not None else engine.copies[rows[0][0]].rng
                actions = policy.act(obs, mask, rng)
            actions = check_actions(policy, actions, mask, len(rows), engine.acts[group.seat],
                                    engine.specs[group.seat])
            for (i, seat, _), a in zip(rows, actions if isinstance(actions, list) else actions.tolist()):
                yield i, seat, a

    def _encode(self, rows: list[tuple[int, str, Any]], seat: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Encode raw observations into ``[B, obs_dim]`` and ``[B, n_actions]`` arrays."""
        engine = self.engine
        obs = np.empty((len(rows), engine.dims[seat]), np.float32)
        mask = np.ones((len(rows), engine.acts[seat]), bool)
        encode = engine.encode
        batch = getattr(encode, "rows", None)
        if batch is not None and len(rows) > 1:
            batch([raw for _, _, raw in rows], obs, mask)  # the encoder's own batch form
        else:
            for b, (_, _, raw) in enumerate(rows):
                encode(raw, obs[b], mask[b])
        return obs, (mask if engine.game.masked else None)
