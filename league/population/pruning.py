"""Pruning: retire weak or stale members from the active index.

A *rule* is a pure function ``rule(members, config) -> [(member_id, reason), ...]`` over the
members that may be pruned; rules live in a registry (``RULES``) and anything that takes a rule
accepts its name or such a callable; an unknown name raises ``UnknownNameError`` listing them.

=================  ====================================================================
``rating_floor``   conservative rating (mu - 3 sigma) below ``floor``
``bottom_k``       the ``bottom_k`` lowest conservative ratings of each role
``max_age``        age above ``max_age``; age = versions of the same role newer than it
``cap``            more than ``cap`` active members in a role: the lowest-rated go
=================  ====================================================================

Two guarantees hold whatever the rules say, enforced by ``protected`` before any rule runs:
anchors are never pruned, and neither is each role's best member (highest conservative rating
among the active non-anchor members of the role).  A member also becomes eligible only after
``min_games`` rated games, because a rating that has not met enough opponents is mostly prior.

``prune(pool, rules, ...)`` applies the rules to the pool's active members, retires the chosen
ones (they stay in the all index) and optionally deletes their weights files.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from league.checks import ARGUMENT, check_range
from league.errors import ConfigError
from league.lookup import resolve
from league.population.sampling import Candidate
from league.protocols import PoolLike

__all__ = [
    "PrunableMember",
    "PruningConfig",
    "Rule",
    "RULES",
    "get_rule",
    "rule_names",
    "rating_floor",
    "bottom_k",
    "max_age",
    "cap",
    "protected",
    "select",
    "prune",
    "apply",
]


PrunableMember = Candidate
"""What pruning needs to know about a member: the same fields as a sampling candidate."""


@dataclass
class PruningConfig:
    """When members leave the active index."""

    rules: list[str] = field(default_factory=lambda: ["rating_floor", "max_age", "cap"])
    """Pruning rules to apply: any of rating_floor, bottom_k, max_age, cap."""
    min_games: int = 10
    """Rated games a member needs before any rule may prune it."""
    floor: float = 0.0
    """rating_floor: retire members whose conservative rating (mu - 3 sigma) is below this."""
    bottom_k: int = 1
    """bottom_k: how many of each role's lowest-rated eligible members to retire per pass."""
    max_age: int = 50
    """max_age: retire members with more than this many newer versions of their role."""
    cap: int = 32
    """cap: most active members a role may keep (anchors count toward it but are never retired)."""
    delete_weights: bool = False
    """Delete retired members' weights files to save disk (their metadata stays)."""

    def __post_init__(self) -> None:
        if isinstance(self.rules, str) or not isinstance(self.rules, (list, tuple)):
            raise ConfigError(f"pruning.rules = {self.rules!r}: expected a list of rule names "
                              f"from {rule_names()}")
        for name in self.rules:
            if name not in RULES:
                raise ConfigError(f"pruning.rules = {self.rules!r}: {name!r} is not one of {rule_names()}")
        for key, low in (("min_games", 0), ("bottom_k", 0), ("max_age", 0), ("cap", 1)):
            check_range(f"pruning.{key}", getattr(self, key), low=low, integer=True)
        check_range("pruning.floor", self.floor)
        if not isinstance(self.delete_weights, bool):
            raise ConfigError(f"pruning.delete_weights = {self.delete_weights!r}: expected true or false")


Rule = Callable[[Sequence[PrunableMember], PruningConfig], list[tuple[int, str]]]
"""A pruning rule: (all active members, config) -> (member id, reason) for those it would retire.

Rules see every active member, because age and the per-role cap depend on members that are not
themselves eligible; ``select`` drops the protected and the not-yet-eligible afterwards.
"""


def _conservative(m: PrunableMember) -> float:
    return float(m.mu) - 3.0 * float(m.sigma)


def _by_role(members: Sequence[PrunableMember]) -> dict[str, list[PrunableMember]]:
    groups: dict[str, list[PrunableMember]] = defaultdict(list)
    for m in members:
        groups[str(m.role)].append(m)
    return groups


def rating_floor(members: Sequence[PrunableMember], config: PruningConfig) -> list[tuple[int, str]]:
    """Members whose conservative rating is below ``config.floor``."""
    return [(int(m.id), f"conservative rating {_conservative(m):.2f} < floor {config.floor:g}")
            for m in members if _conservative(m) < config.floor]


def bottom_k(members: Sequence[PrunableMember], config: PruningConfig) -> list[tuple[int, str]]:
    """Each role's ``config.bottom_k`` lowest conservative ratings among members with enough
    games and not anchors (so that protected members do not use up the k)."""
    out = []
    for role, group in _by_role(members).items():
        ranked = sorted((m for m in group if not m.anchor and m.games >= config.min_games),
                        key=lambda m: (_conservative(m), m.id))
        out += [(int(m.id), f"bottom {config.bottom_k} of role {role!r} "
                            f"(conservative rating {_conservative(m):.2f})")
                for m in ranked[:config.bottom_k]]
    return out


def max_age(members: Sequence[PrunableMember], config: PruningConfig) -> list[tuple[int, str]]:
    """Members with more than ``config.max_age`` newer versions of their role.

    Versions are a per-role counter, so the age is the newest version seen minus the member's:
    retired versions in between count too (they were trained after it all the same).
    """
    newest: dict[str, int] = {}
    for m in members:
        newest[str(m.role)] = max(newest.get(str(m.role), int(m.version)), int(m.version))
    out = []
    for m in members:
        age = newest[str(m.role)] - int(m.version)
        if age > config.max_age:
            out.append((int(m.id), f"age {age} > max_age {config.max_age} in role {m.role!r}"))
    return out


def cap(members: Sequence[PrunableMember], config: PruningConfig) -> list[tuple[int, str]]:
    """The lowest-rated members of each role above ``config.cap`` active members.

    Only members that may go (eligible, not anchors) are candidates, lowest conservative rating
    first, so the cap is met as far as the guarantees allow.
    """
    out = []
    for role, group in _by_role(members).items():
        excess = len(group) - config.cap
        if excess <= 0:
            continue
        ranked = sorted((m for m in group if not m.anchor and m.games >= config.min_games),
                        key=lambda m: (_conservative(m), m.id))
        out += [(int(m.id), f"role {role!r} has {len(group)} active members > cap {config.cap}")
                for m in ranked[:excess]]
    return out


def _registry() -> dict[str, Rule]:
    return {"rating_floor": rating_floor, "bottom_k": bottom_k, "max_age": max_age, "cap": cap}


RULES: Mapping[str, Rule] = _registry()
"""Rule name -> pruning rule (pass a callable for a new rule)."""


def rule_names() -> list[str]:
    """The registered pruning rule names, sorted."""
    return sorted(RULES)


def get_rule(rule: str | Rule) -> Rule:
    """The rule function for a name, or ``rule`` itself when it is callable."""
    return resolve(RULES, rule, "pruning rule")


def protected(members: Sequence[PrunableMember]) -> dict[int, str]:
    """Member id -> why it may never be pruned: anchors, and each role's best non-anchor member
    (highest conservative rating; ties to the newest, which has the most training behind it)."""
    keep = {int(m.id): "anchor" for m in members if m.anchor}
    for role, group in _by_role(members).items():
        others = [m for m in group if not m.anchor]
        if others:
            best = max(others, key=lambda m: (_conservative(m), m.version, m.id))
            keep[int(best.id)] = f"best of role {role!r}"
    return keep


def select(members: Sequence[PrunableMember], rules: Sequence[str | Rule] | str | Rule,
           config: PruningConfig | None = None, *,
           min_games: int | None = None) -> list[tuple[int, str]]:
    """The (member id, reason) pairs the rules retire among ``members`` (the active index).

    Pure: nothing is retired.  The first rule to name a member gives the reason; protected members
    and members with fewer than ``min_games`` games (``config.min_games`` if None) are dropped.
    """
    config = PruningConfig() if config is None else config
    min_games = config.min_games if min_games is None else min_games
    check_range("min_games", min_games, low=0, integer=True, form=ARGUMENT, error=ValueError)
    if min_games != config.min_games:
        # Rules that rank candidates (bottom_k, cap) must see the same eligibility as the filter.
        config = dataclasses.replace(config, min_games=min_games)
    if isinstance(rules, str) or callable(rules):
        rules = [rules]
    fns = [get_rule(r) for r in rules]
    members = list(members)
    keep = protected(members)
    games = {int(m.id): int(m.games) for m in members}
    chosen: dict[int, str] = {}
    for fn in fns:
        for member_id, reason in fn(members, config):
            member_id = int(member_id)
            if member_id not in games:
                raise ValueError(f"pruning rule {fn!r} named member {member_id}, which is not active")
            if member_id in keep or games[member_id] < min_games or member_id in chosen:
                continue
            chosen[member_id] = reason
    return sorted(chosen.items())


def prune(pool: PoolLike, rules: Sequence[str | Rule] | str | Rule, *, min_games: int,
          delete_weights: bool = False, config: PruningConfig | None = None) -> list[tuple[int, str]]:
    """Retire the members ``rules`` select among the pool's active members; returns them.

    Retired members leave the active index and stay in the all index; with ``delete_weights``
    their weights files go too (metadata and match history stay).
    """
    retired = select(pool.active(), rules, config, min_games=min_games)
    apply(pool, retired, delete_weights=delete_weights)
    return retired


def apply(pool: PoolLike, retired: Sequence[tuple[int, str]], *, delete_weights: bool = False) -> None:
    """Retire the (member id, reason) pairs ``select`` chose.  Idempotent: a member retired (or
    whose weights were deleted) already is left as it is, so a pass cut short can be redone."""
    for member_id, reason in retired:
        pool.retire(int(member_id), str(reason))
        if delete_weights:
            pool.delete_weights(int(member_id))
