"""``league play`` through a pseudo-terminal: a person finishes a game; an illegal move is re-asked."""

import sys

import pexpect
import pytest


def _spawn(*args):
    return pexpect.spawn(sys.executable, ["-m", "league.cli", "play", *args], encoding="utf-8", timeout=60)


def test_a_person_finishes_a_game_and_an_illegal_move_is_reasked(finished_run):
    child = _spawn(str(finished_run), "--member", "best:player_2", "--seed", "0")
    child.expect(r"you are player_1 \(X\)")
    child.expect(r"your move \(X\), one of ([0-9 ]+): ")
    child.sendline("4")
    child.expect(r"member plays (\d)")
    taken = int(child.match.group(1))
    child.expect(r"one of ([0-9 ]+): ")
    legal = [int(a) for a in child.match.group(1).split()]
    assert 4 not in legal and taken not in legal and len(legal) == 7
    child.sendline(str(taken))  # the member's cell: not legal, re-asked, not a loss
    child.expect(f"'{taken}' is not a legal move")
    child.expect(r"one of ([0-9 ]+): ")
    assert [int(a) for a in child.match.group(1).split()] == legal
    while True:  # then always the lowest legal cell, to the end
        child.sendline(str(legal[0]))
        i = child.expect([r"one of ([0-9 ]+): ", r"(you win|draw|the member wins)"])
        if i == 1:
            break
        legal = [int(a) for a in child.match.group(1).split()]
    final_board = child.before
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert final_board.count("X") >= 3 and final_board.count("O") >= 2  # the last board is drawn


def test_connect_four_is_drawn_by_columns(tmp_path):
    from league.play import draw_board
    import envs

    game = envs.make("connect_four")
    env = game.new_env()
    env.reset(seed=0)
    env.step(3)
    text = draw_board(env, game, "player_1", {"player_0": "X", "player_1": "O"}, [0, 1, 2, 3, 4, 5, 6])
    lines = text.splitlines()
    assert lines[-1] == " 0 1 2 3 4 5 6" and lines[-2] == " . . . X . . ." and len(lines) == 7


def test_games_without_a_board_are_a_one_line_error(tmp_path):
    from league.pool import Pool

    with Pool.create(tmp_path / "p", game="rps", roles=["player"]) as pool:
        pool.add("player", {}, spec={"kind": "random", "n_actions": 3}, hparams={}, step=0, anchor=True)
    child = _spawn(str(tmp_path / "p"), "--member", "0")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2 and "board games only" in child.before
