"""Game names any process can resolve: ``envs.register`` and ``"package.module:callable"`` paths."""

import os
import subprocess
import sys
import textwrap

import pytest

import envs
from envs.games import tictactoe

USER_MODULE = textwrap.dedent('''
    from envs.games import rps

    def make_env(max_cycles=3):
        return rps.game(max_cycles=max_cycles)
''')


def test_register_and_import_paths(tmp_path, monkeypatch):
    envs.register("my_ttt", lambda: tictactoe.game())
    try:
        assert envs.make("my_ttt").seats == tictactoe.SEATS and "my_ttt" in envs.games()
    finally:
        envs.registry.GAMES.pop("my_ttt")
    (tmp_path / "mymodule.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    game = envs.make("mymodule:make_env", max_cycles=2)
    assert game.name == "rps" and game.config["max_cycles"] == 2
    with pytest.raises(envs.GameConfigError, match="no callable 'nope'"):
        envs.make("mymodule:nope")
    with pytest.raises(envs.GameConfigError, match="cannot import module"):
        envs.make("no_such_module_xyz:make_env")
    with pytest.raises(envs.GameConfigError, match="accepted keywords"):
        envs.make("mymodule:make_env", board=3)


def test_roles_bind_seats_for_import_path_games_and_user_factories_of_pettingzoo_envs(tmp_path, monkeypatch):
    team = {"agent_0": "good", "agent_1": "good"}
    game = envs.make("mpe2.simple_adversary_v3", max_cycles=5, roles=team)
    assert game.roles == {"adversary_0": "adversary_0", "agent_0": "good", "agent_1": "good"}
    assert "roles" not in game.config            # the env itself never sees it
    (tmp_path / "pzmodule.py").write_text(textwrap.dedent('''
        from mpe2 import simple_adversary_v3

        def make(max_cycles=5):
            return simple_adversary_v3.raw_env(max_cycles=max_cycles)
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert envs.make("pzmodule:make", roles=team).roles == game.roles
    (tmp_path / "mymodule.py").write_text(USER_MODULE)
    with pytest.raises(envs.GameConfigError, match="takes no 'roles'"):
        envs.make("mymodule:make_env", roles={"player_0": "a"})


def test_a_user_factory_runs_through_the_cli(tmp_path):
    (tmp_path / "mymodule.py").write_text(USER_MODULE)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "league.run", "--out", str(out), "game.name=mymodule:make_env",
                           "game.kwargs={max_cycles=3}", "rotations=1", "bootstrap.max_steps=256",
                           "training.max_steps=256", "bootstrap.eval_every=256", "training.eval_every=256",
                           "bootstrap.eval_episodes=8", "training.eval_episodes=8", "evaluation.budget=4",
                           "report.anchor_episodes=8", "ppo.n_envs=4", "population.episodes=4"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "leaderboard.md").stat().st_size > 0
