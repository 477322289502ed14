"""Pruning rules: each rule, min-games eligibility, the never-prune guarantees, a real pool."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from league.errors import ConfigError, UnknownNameError
from league.population.pruning import (
    RULES,
    PruningConfig,
    bottom_k,
    cap,
    get_rule,
    max_age,
    protected,
    prune,
    rating_floor,
    rule_names,
    select,
)


@dataclass(frozen=True)
class M:
    id: int
    role: str = "a"
    version: int = 0
    mu: float = 25.0
    sigma: float = 1.0
    games: int = 100
    anchor: bool = False

    @property
    def conservative(self) -> float:
        return self.mu - 3 * self.sigma


def ids(pairs: list[tuple[int, str]]) -> set[int]:
    return {i for i, _ in pairs}


def test_rating_floor():
    members = [M(0, mu=10.0), M(1, mu=20.0), M(2, mu=30.0)]  # conservative 7, 17, 27
    out = rating_floor(members, PruningConfig(floor=18.0))
    assert ids(out) == {0, 1}
    assert "floor 18" in dict(out)[0]


def test_bottom_k_is_per_role():
    members = [M(0, "a", mu=10), M(1, "a", mu=20), M(2, "a", mu=30),
               M(3, "b", mu=5), M(4, "b", mu=50)]
    assert ids(bottom_k(members, PruningConfig(bottom_k=1))) == {0, 3}
    assert ids(bottom_k(members, PruningConfig(bottom_k=2))) == {0, 1, 3, 4}


def test_max_age_counts_newer_versions_of_the_same_role():
    members = [M(k, "a", version=k) for k in range(5)] + [M(10, "b", version=0)]
    # ages in role a: version 0 -> 4, 1 -> 3, ...; role b's lone member has age 0
    assert ids(max_age(members, PruningConfig(max_age=2))) == {0, 1}
    assert "age 4 > max_age 2" in dict(max_age(members, PruningConfig(max_age=2)))[0]
    # retired versions in between still count: version 1 with versions up to 4 has age 3
    gapped = [M(1, "a", version=1), M(4, "a", version=4)]
    assert ids(max_age(gapped, PruningConfig(max_age=2))) == {1}


def test_cap_retires_the_lowest_rated_above_the_cap():
    members = [M(k, "a", mu=20 + k) for k in range(5)] + [M(10, "b")]
    assert ids(cap(members, PruningConfig(cap=3))) == {0, 1}
    assert cap(members, PruningConfig(cap=5)) == []


def test_cap_skips_anchors_and_ineligible_members():
    members = [M(0, mu=1, anchor=True), M(1, mu=2, games=0), M(2, mu=3), M(3, mu=40)]
    assert ids(cap(members, PruningConfig(cap=2, min_games=10))) == {2, 3}
    assert ids(select(members, "cap", PruningConfig(cap=2), min_games=10)) == {2}


def test_min_games_makes_a_member_eligible():
    members = [M(0, mu=0, games=4), M(1, mu=0, games=5), M(2, mu=40)]
    assert ids(select(members, ["rating_floor"], PruningConfig(floor=10), min_games=5)) == {1}
    assert ids(select(members, ["rating_floor"], PruningConfig(floor=10), min_games=0)) == {0, 1}


def test_anchors_and_each_roles_best_are_never_pruned():
    members = [M(0, "a", mu=0, anchor=True), M(1, "a", mu=5), M(2, "a", mu=3),
               M(3, "b", mu=1)]  # role b's only member is its best
    out = select(members, list(RULES), PruningConfig(floor=100, bottom_k=5, max_age=0, cap=1),
                 min_games=0)
    assert ids(out) == {2}
    assert protected(members) == {0: "anchor", 1: "best of role 'a'", 3: "best of role 'b'"}


def test_first_rule_gives_the_reason_and_callables_are_accepted():
    members = [M(0, mu=0), M(1, mu=40)]
    def everyone(ms, config):
        return [(m.id, "custom") for m in ms]
    out = select(members, ["rating_floor", everyone], PruningConfig(floor=10), min_games=0)
    assert out[0][0] == 0 and "floor" in out[0][1]
    assert select(members, everyone, min_games=0) == [(0, "custom")]


def test_unknown_rule_lists_the_valid_names():
    with pytest.raises(UnknownNameError) as err:
        get_rule("oldest")
    for name in rule_names():
        assert name in str(err.value)
    with pytest.raises(ConfigError, match="'oldest' is not one of"):
        PruningConfig(rules=["oldest"])


@pytest.mark.parametrize("field, value, accepted", [
    ("min_games", -1, "integer >= 0"),
    ("cap", 0, "integer >= 1"),
    ("floor", float("inf"), "finite number"),
    ("rules", "cap", "list of rule names"),
    ("delete_weights", "yes", "true or false"),
])
def test_config_errors_name_field_value_and_what_is_accepted(field, value, accepted):
    with pytest.raises(ConfigError) as err:
        PruningConfig(**{field: value})
    assert f"pruning.{field}" in str(err.value) and repr(value) in str(err.value)
    assert accepted in str(err.value)


@st.composite
def populations(draw: st.DrawFn) -> list[M]:
    n = draw(st.integers(1, 25))
    roles = draw(st.lists(st.sampled_from("abc"), min_size=n, max_size=n))
    out, next_version = [], {"a": 0, "b": 0, "c": 0}
    for k, role in enumerate(roles):
        out.append(M(k, role, version=next_version[role],
                     mu=draw(st.floats(-10, 60)), sigma=draw(st.floats(0.5, 9)),
                     games=draw(st.integers(0, 50)), anchor=draw(st.booleans())))
        next_version[role] += 1
    return out


@settings(max_examples=200, deadline=None)
@given(members=populations(),
       rules=st.lists(st.sampled_from(sorted(RULES)), min_size=1, max_size=4),
       config=st.builds(PruningConfig, floor=st.floats(-30, 60), bottom_k=st.integers(0, 10),
                        max_age=st.integers(0, 10), cap=st.integers(1, 10)),
       min_games=st.integers(0, 50))
def test_guarantees_hold_for_any_population_and_rules(members, rules, config, min_games):
    out = select(members, rules, config, min_games=min_games)
    gone = ids(out)
    by_id = {m.id: m for m in members}
    assert not any(by_id[i].anchor for i in gone)
    assert all(by_id[i].games >= min_games for i in gone)
    for role in {m.role for m in members}:
        others = [m for m in members if m.role == role and not m.anchor]
        if others:
            best = max(m.conservative for m in others)
            survivors = [m for m in others if m.id not in gone]
            assert survivors and max(m.conservative for m in survivors) == best


def test_prune_on_a_real_pool(tmp_path):
    import torch

    from league.models import mlp_spec
    pool_mod = pytest.importorskip("league.pool")
    spec = mlp_spec(4, 3, hidden=(8,))
    from league.models import build_network
    weights = build_network(spec).state_dict()
    with pool_mod.Pool.create(tmp_path / "pool", game="g", roles=["a", "b"]) as pool:
        anchor = pool.add("a", {}, spec={"kind": "random", "n_actions": 3}, hparams={}, step=0,
                          anchor=True)
        members = [pool.add("a", weights, spec=spec, hparams={}, step=k) for k in range(4)]
        lone_b = pool.add("b", weights, spec=spec, hparams={}, step=0)
        # Give everyone games and ratings: member k of role a gets mu 10 + 10 k.
        for k, m in enumerate([anchor, *members, lone_b]):
            mu = 0.0 if m.id == anchor.id else (10.0 + 10.0 * k if m.role == "a" else -50.0)
            for _ in range(3):
                pool.record_match(["p0", "p1"], [m.id, anchor.id if m.id != anchor.id else lone_b.id],
                                  [1, 2], [(mu, 1.0), (0.0, 1.0)])
        # the lone b member rated as the anchor's partner above: force its rating last
        pool.record_match(["p0", "p1"], [lone_b.id, members[0].id], [2, 1], [(-50.0, 1.0), (20.0, 1.0)])
        retired = prune(pool, ["rating_floor"], min_games=3, delete_weights=True,
                        config=PruningConfig(floor=25.0))
        # conservative: members 17, 27, 37, 47 -> only the first is below 25; the anchor (mu 0)
        # and role b's only member (mu -50) are protected.
        assert ids(retired) == {members[0].id}
        assert [m.id for m in pool.active()] == [anchor.id, *(m.id for m in members[1:]), lone_b.id]
        gone = pool.member(members[0].id)
        assert not gone.active and "floor" in gone.retired_reason
        assert gone.id in [m.id for m in pool.members()]  # still in the all index
        with pytest.raises(Exception):
            pool.weights(members[0].id)
        assert torch.is_tensor(next(iter(pool.weights(members[1].id).values())))


def test_a_latest_start_skips_members_whose_weights_pruning_deleted(tmp_path):
    # learner.start = "latest" continues from the newest snapshot that still has weights.
    import torch

    from league import pool as pool_mod
    from league.models import build_network, mlp_spec
    from league.orchestration.phase import start_member

    spec = mlp_spec(4, 3, hidden=[8])
    weights = build_network(spec).state_dict()
    with pool_mod.Pool.create(tmp_path / "pool", game="g", roles=["a"]) as pool:
        old, new = (pool.add("a", weights, spec=spec, hparams={}, step=k) for k in range(2))
        assert start_member(pool, "a", "latest").id == new.id
        pool.retire(new.id, "test")
        assert start_member(pool, "a", "latest").id == new.id     # retired: still the learner's start
        pool.delete_weights(new.id)
        assert start_member(pool, "a", "latest").id == old.id
        assert torch.is_tensor(next(iter(pool.weights(old.id).values())))
        assert start_member(pool, "a", "fresh") is None
