"""Tic-tac-toe (PettingZoo classic ``tictactoe_v3``) and its perfect-play minimax reference."""

from __future__ import annotations

import numpy as np
from pettingzoo.classic.tictactoe import tictactoe

from envs.game import Game
from envs.games._common import random_reference, seat_roles
from envs.reference import BestMovePolicy

SEATS = ("player_1", "player_2")
_LINES = tuple(sum(1 << i for i in line) for line in
               [(0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6)])


def _won(bits: int) -> bool:
    return any(bits & line == line for line in _LINES)


class TicTacToeMinimax(BestMovePolicy):
    """Perfect play, decoded from the observation planes (``[3, 3, 2]``: mover's marks, opponent's).

    Exact negamax over the whole game tree, memoised per position; wins sooner are preferred.
    ``probs`` spreads probability evenly over all optimal moves, so evaluation sees varied games.
    """

    name = "minimax"
    n_actions = 9

    def __init__(self) -> None:
        self._values: dict[tuple[int, int], int] = {}

    def _value(self, me: int, them: int) -> int:
        """Score for the player to move: >0 win (larger = sooner), 0 draw, <0 loss."""
        key = (me, them)
        cached = self._values.get(key)
        if cached is not None:
            return cached
        empty = [i for i in range(9) if not (me | them) >> i & 1]
        if not empty:
            best = 0
        else:
            best = -100
            for i in empty:
                mine = me | 1 << i
                score = len(empty) if _won(mine) else -self._value(them, mine)
                best = max(best, score)
        self._values[key] = best
        return best

    def move_scores(self, obs_row: np.ndarray) -> np.ndarray:
        """Score of each of the 9 moves for the player to move (-inf for occupied squares)."""
        planes = obs_row.reshape(9, 2) > 0.5
        me = int(planes[:, 0] @ (1 << np.arange(9)))
        them = int(planes[:, 1] @ (1 << np.arange(9)))
        scores = np.full(9, -np.inf)
        n_empty = 9 - bin(me | them).count("1")
        for i in range(9):
            if not (me | them) >> i & 1:
                mine = me | 1 << i
                scores[i] = n_empty if _won(mine) else -self._value(them, mine)
        return scores



# _PLANES[me][cell] is the (mine, theirs) pair of a cell holding 0 (empty), 1 or 2: one table
# lookup encodes a whole board, several times faster than comparing plane by plane.
_PLANES = {1: np.array([[0, 0], [1, 0], [0, 1]], np.float32),
           2: np.array([[0, 0], [0, 1], [1, 0]], np.float32)}


def read_board(env: tictactoe.raw_env, seat: str) -> tuple[np.ndarray, int]:
    """The 9 squares (0 empty, 1/2 a player's mark) and the mark of ``seat``; several times
    cheaper than ``env.observe`` and encoded the same way."""
    return np.array(env.board.squares, dtype=np.int8), 1 if seat == SEATS[0] else 2


def encode_board(raw: tuple[np.ndarray, int], obs_row: np.ndarray, mask_row: np.ndarray) -> None:
    """``read_board`` output as PettingZoo's observation planes (mover's marks, opponent's),
    flattened, and the empty squares as legal moves."""
    squares, me = raw
    obs_row[:] = _PLANES[me][squares].reshape(-1)
    mask_row[:] = squares == 0


def game(roles: dict[str, str] | None = None) -> Game:
    """Tic-tac-toe: 2 symmetric seats, 18 observation features (two 3x3 planes), 9 masked actions."""
    return Game(
        name="tictactoe", seats=SEATS, roles=seat_roles(SEATS, roles), api="aec", symmetric=True,
        masked=True, env_fn=tictactoe.raw_env, obs_dims=dict.fromkeys(SEATS, 18),
        action_counts=dict.fromkeys(SEATS, 9), encoder=encode_board, observe=read_board,
        references={"random": random_reference, "minimax": lambda g: TicTacToeMinimax()},
        config={"roles": roles})
