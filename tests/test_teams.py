"""Teams: a role bound to several seats is played by one member, ranked and rated as one team."""

from types import SimpleNamespace

import numpy as np
import pytest

import envs
from envs import UniformRandomPolicy
from envs.game import team_ranks
from league.evaluation.evaluator import EvaluationConfig, Evaluator
from ratings import Rating, TrueSkillSystem

TAG_SEATS = ("adversary_0", "adversary_1", "adversary_2", "agent_0")
TAG_ROLES = {"adversary_0": "adversary", "adversary_1": "adversary", "adversary_2": "adversary",
             "agent_0": "agent"}


def members(ids, role):
    return [SimpleNamespace(id=i, role=role, mu=25.0, sigma=25 / 3) for i in ids]


def test_one_member_plays_every_seat_of_a_team_role_in_evaluation():
    # The shipped simple_tag crashed here: one adversary member, three adversary seats.
    ev = Evaluator(TAG_SEATS, members([0], "adversary") + members([1, 2], "agent"), symmetric=False,
                   seat_roles=TAG_ROLES, config=EvaluationConfig(seed=0))
    system = TrueSkillSystem()
    for result in ev.run(lambda seating: {s: (1 if s.startswith("adversary") else 2) for s in seating}, 6):
        assert {result.seating[s] for s in TAG_SEATS[:3]} == {0}
        assert result.seating["agent_0"] in (1, 2)
    # Rated once per team: the adversary's rating equals a 1v1 win's, not a 3-seat free-for-all's.
    one = TrueSkillSystem().rate_seats([Rating(25, 25 / 3), Rating(25, 25 / 3)], [1, 2])[0]
    ev2 = Evaluator(TAG_SEATS, members([0], "adversary") + members([1], "agent"), symmetric=False,
                    seat_roles=TAG_ROLES, system=system)
    r = ev2.step(lambda seating: {s: (1 if s.startswith("adversary") else 2) for s in seating})
    assert r.ratings["adversary_0"] == r.ratings["adversary_2"] == pytest.approx(one)
    assert ev2.payoff.games(0, 1) == 1  # one game between the two members, not three


def test_rate_seats_rates_a_player_seated_twice_once():
    system = TrueSkillSystem()
    a, b = Rating(25, 8), Rating(30, 4)
    out = system.rate_seats([a, a, b], [1, 1, 2], players=["x", "x", "y"])
    assert out[0] == out[1] and (out[0], out[2]) == tuple(system.rate_seats([a, b], [1, 2]))
    with pytest.raises(ValueError, match="share a rank"):
        system.rate_seats([a, a, b], [1, 2, 3], players=["x", "x", "y"])


def test_team_outcome_sums_returns_and_a_shared_win_is_a_win():
    assert team_ranks({"a0": 1.0, "a1": -3.0, "b0": -1.0}, {"a0": "a", "a1": "a", "b0": "b"}) == \
        {"a0": 2, "a1": 2, "b0": 1}
    game = envs.make("simple_tag")
    assert game.team_roles == {"adversary"}
    # Each adversary bound to its own role: still one side, and its shared win is a win.
    split = envs.make("simple_tag", roles={"adversary_0": "a0", "adversary_1": "a1", "adversary_2": "a2"})
    assert split.team_of["adversary_1"] == split.team_of["adversary_0"] != split.team_of["agent_0"]
    outcome = envs.Outcome({}, split.outcome({"adversary_0": 10.0, "adversary_1": 0.0, "adversary_2": 0.0,
                                              "agent_0": -10.0}), {}, "adversary_0", 1, None, split.team_of)
    assert outcome.ranks["adversary_0"] == outcome.ranks["adversary_1"] == 1
    assert outcome.result() == 1 and outcome.result("agent_0") == -1
    # Without a team, a shared first place stays a draw.
    assert envs.Outcome({}, {"p0": 1, "p1": 1}, {}, "p0", 1).result() == 0


class DistinctPerSeat:
    """Picks a different member for every seat it is asked about (what broke teams)."""

    def __init__(self):
        self.asked = []

    def pick(self, seats, rng):
        self.asked.append(list(seats))
        return {s: f"m{k}" for k, s in enumerate(seats)}

    def load(self, member_id):
        return UniformRandomPolicy(5)


def test_training_seats_one_member_in_all_seats_of_a_team():
    game = envs.make("simple_tag", max_cycles=5)
    source = DistinctPerSeat()
    env = envs.SelfPlayVecEnv(game, "agent_0", source, 2, seed=0)
    env.reset()
    for i in range(2):
        seating = env.seating(i)
        assert len({seating[s] for s in TAG_SEATS[:3]}) == 1
    assert all(len(asked) == 1 for asked in source.asked)  # one pick per team
    # The learner's teammates: one member of its role in both other adversary seats.
    env = envs.SelfPlayVecEnv(game, "adversary_0", DistinctPerSeat(), 1, seed=0)
    env.reset()
    assert env.seating(0)["adversary_1"] == env.seating(0)["adversary_2"]
    for _ in range(5):
        _, _, term, trunc, infos = env.step(np.zeros(1, int))
    assert infos["outcomes"] and infos["outcomes"][0][1].teams["adversary_2"] == "adversary"
