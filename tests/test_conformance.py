"""Conformance: PettingZoo games the project has no code for run a tiny league through the real
CLI entry (``league.run.main``, what ``python -m league.run`` calls) to a pool and a leaderboard
(``league.leaderboard.main``), named by import path with ``game.kwargs`` and no user code.

The league runs in this process to spare each game the ~5 s of importing torch and the league
again (``test_from_pettingzoo`` and ``test_configs`` run the CLI as a subprocess).  Kwargs only
shorten episodes or shrink boards; the budget is the smallest that still trains every role,
rates the members and fills the leaderboard.
"""

import importlib.util

import pytest

from league import leaderboard, run
from league.pool import Pool

# A turn per role (no rotation), one 2x16-step update, two evaluation episodes, two rated matches.
TINY = ["rotations=0", "bootstrap.max_steps=64", "bootstrap.eval_every=64", "bootstrap.eval_episodes=2",
        "hparams.n_steps=[16]", "hparams.epochs=[1,1]", "hparams.width=[16]", "hparams.depth=[1,1]",
        "ppo.n_envs=2", "ppo.minibatches=1", "evaluation.budget=2", "report.anchor_episodes=2",
        "population.episodes=1", "population.support_episodes=0", "--quiet"]


def needs(module):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None, reason=f"needs {module}")


def game(name, kwargs="{}", *, marks=(), id=None, spec=None):
    """A case; ``spec(member_spec) -> bool`` checks the network the league chose (a CNN for images,
    a Box action head for continuous actions)."""
    return pytest.param(name, kwargs, spec, id=id or name.rpartition(".")[2], marks=list(marks))


def cnn(spec):
    return spec["kind"] == "cnn"


def box_actions(spec):
    return spec.get("action", {}).get("type") == "box"


GAMES = [
    # classic (masks in dict observations; OpenSpiel's in infos)
    game("pettingzoo.classic.leduc_holdem_v4"),
    game("pettingzoo.classic.texas_holdem_no_limit_v6"),
    game("pettingzoo.classic.go_v5", "{board_size=5}"),
    game("pettingzoo.classic.hanabi_v5", marks=[needs("pyspiel"), needs("shimmy")]),  # OpenSpiel inside
    game("pettingzoo.classic.chess_v6", marks=[pytest.mark.slow]),  # ~45 s: random games are long
    game("shimmy.openspiel_compatibility:OpenSpielCompatibilityV0", '{game_name="tic_tac_toe"}',
         id="openspiel_tic_tac_toe", marks=[needs("pyspiel"), needs("shimmy")]),
    # mpe2 (unmasked, seats with different observation sizes, 2-3 roles)
    game("mpe2.simple_push_v3", "{max_cycles=10}"),
    game("mpe2.simple_adversary_v3", "{max_cycles=10}"),
    game("mpe2.simple_crypto_v3", "{max_cycles=10}"),
    game("mpe2.simple_reference_v3", "{max_cycles=10}"),
    game("mpe2.simple_spread_v3", "{max_cycles=10}"),
    # seats with different action counts (speaker 3, listener 5) and no masks
    game("mpe2.simple_speaker_listener_v4", "{max_cycles=10}"),
    game("mpe2.simple_spread_v3", "{max_cycles=10,continuous_actions=true}", id="simple_spread_v3_continuous",
         spec=box_actions, marks=[pytest.mark.slow]),  # ~25 s on 2 busy cores (3 roles); multiwalker covers Box actions fast
    # butterfly (agents die mid-episode; image observations, played by a CNN)
    game("pettingzoo.butterfly.knights_archers_zombies_v11", "{num_archers=1,num_knights=1,max_cycles=50}",
         marks=[needs("pygame")]),
    game("pettingzoo.butterfly.cooperative_pong_v6", "{max_cycles=20,render_mode=\"rgb_array\"}", spec=cnn,
         marks=[needs("pygame"), pytest.mark.slow]),
    game("pettingzoo.butterfly.pistonball_v6", "{n_pistons=4,max_cycles=20}",  # images and Box actions
         spec=lambda s: cnn(s) and box_actions(s), marks=[needs("pymunk"), pytest.mark.slow]),
    # sisl (a grid observation, flattened; Box actions)
    game("pettingzoo.sisl.pursuit_v5", "{n_pursuers=2,n_evaders=2,x_size=8,y_size=8,max_cycles=30}",
         marks=[needs("pygame")]),
    game("pettingzoo.sisl.multiwalker_v9", "{n_walkers=2,max_cycles=20}", spec=box_actions, marks=[needs("Box2D")]),
]


@pytest.mark.parametrize("name,kwargs,spec", GAMES)
def test_a_pettingzoo_game_runs_a_tiny_league_to_a_pool_and_a_leaderboard(name, kwargs, spec, tmp_path, capsys):
    out = tmp_path / "run"
    code = run.main(["--out", str(out), f"game.name={name}", f"game.kwargs={kwargs}", *TINY])
    err = capsys.readouterr().err
    assert code == 0, err[-3000:]
    assert (out / "leaderboard.md").stat().st_size > 0
    with Pool.open(out / "pool") as pool:
        roles = pool.roles
        trained = [m for m in pool.members() if not m.anchor]
        assert {m.role for m in trained} == set(roles)  # every role trained a member
        assert spec is None or all(spec(m.spec) for m in trained), trained[0].spec
        assert len(pool.matches()) > 0
    assert leaderboard.main([str(out / "pool")]) == 0
    board = capsys.readouterr().out
    assert f"# Leaderboard: {name}" in board
    for role in roles:
        assert f"## {role}" in board




def test_a_team_game_runs_a_tiny_league_with_one_member_in_every_seat_of_the_team(tmp_path, capsys):
    # No user code: the import path and a `roles` binding in the config make the two good agents
    # one role, which one member plays in both seats.
    out = tmp_path / "run"
    code = run.main(["--out", str(out), "game.name=mpe2.simple_adversary_v3",
                     'game.kwargs={max_cycles=10,roles={agent_0="good",agent_1="good"}}', *TINY])
    assert code == 0, capsys.readouterr().err[-3000:]
    with Pool.open(out / "pool") as pool:
        assert set(pool.roles) == {"adversary_0", "good"}
        role = {m.id: m.role for m in pool.members()}
        matches = pool.matches()
        assert matches
        for m in matches:
            seat = dict(zip(m.seats, m.member_ids))
            rank = dict(zip(m.seats, m.ranks))
            assert seat["agent_0"] == seat["agent_1"] and role[seat["agent_0"]] == "good"
            assert rank["agent_0"] == rank["agent_1"]  # a team wins or loses together
            assert role[seat["adversary_0"]] == "adversary_0"
    assert leaderboard.main([str(out / "pool")]) == 0
    assert "## good" in capsys.readouterr().out
