"""Connect Four (PettingZoo classic ``connect_four_v3``) and a depth-limited minimax reference."""

from __future__ import annotations

import numpy as np
from pettingzoo.classic.connect_four import connect_four

from envs.errors import GameConfigError
from envs.game import Game
from envs.games._common import random_reference, seat_roles
from envs.reference import BestMovePolicy

SEATS = ("player_0", "player_1")
ROWS, COLS = 6, 7
_H = ROWS + 1  # bits per column: one spare bit on top keeps shifted lines from wrapping
_WIN = 10_000


def _bit(row_from_bottom: int, col: int) -> int:
    return 1 << (col * _H + row_from_bottom)


def _windows() -> tuple[int, ...]:
    """Every line of four cells on the board, as bitmasks (69 of them)."""
    out = []
    for c in range(COLS):
        for r in range(ROWS):
            for dc, dr in ((1, 0), (0, 1), (1, 1), (1, -1)):
                cells = [(r + k * dr, c + k * dc) for k in range(4)]
                if all(0 <= rr < ROWS and 0 <= cc < COLS for rr, cc in cells):
                    out.append(sum(_bit(rr, cc) for rr, cc in cells))
    return tuple(out)


_WINDOWS = _windows()
_CENTER = sum(_bit(r, COLS // 2) for r in range(ROWS))
_ORDER = (3, 2, 4, 1, 5, 0, 6)  # centre first: better alpha-beta cut-offs
# Observation cell (row r from the top, column c) -> bitboard bit.
_OBS_BITS = np.array([col * _H + (ROWS - 1 - row) for row in range(ROWS) for col in range(COLS)])


def _won(bits: int) -> bool:
    for shift in (1, _H, _H - 1, _H + 1):  # vertical, horizontal, two diagonals
        pairs = bits & (bits >> shift)
        if pairs & (pairs >> 2 * shift):
            return True
    return False


def _heuristic(me: int, them: int) -> int:
    """Open lines of four: 3 of mine +5, 2 of mine +2, theirs the same negated (a 3 of theirs -6,
    since it is their move next), plus 3 per piece in the centre column."""
    score = 3 * ((me & _CENTER).bit_count() - (them & _CENTER).bit_count())
    for w in _WINDOWS:
        a = me & w
        b = them & w
        if not b:
            if a:
                n = a.bit_count()
                score += 5 if n == 3 else 2 if n == 2 else 0
        elif not a:
            n = b.bit_count()
            score -= 6 if n == 3 else 2 if n == 2 else 0
    return score


class ConnectFourMinimax(BestMovePolicy):
    """Alpha-beta negamax to ``depth`` plies with a line-counting heuristic at the leaves.

    Decodes the board from the observation planes (``[6, 7, 2]``: mover's pieces, opponent's).
    Quicker wins and slower losses score better. ``probs`` is uniform over the best-scoring moves.
    """

    name = "minimax"
    n_actions = COLS

    def __init__(self, depth: int = 4):
        if not isinstance(depth, int) or depth < 1:
            raise GameConfigError(f"connect_four minimax depth must be a positive integer, got {depth!r}")
        self.depth = depth

    def _negamax(self, me: int, them: int, depth: int, alpha: float, beta: float) -> float:
        filled = me | them
        best = -np.inf
        moved = False
        for c in _ORDER:
            col = (filled >> (c * _H)) & ((1 << ROWS) - 1)
            height = col.bit_count()
            if height == ROWS:
                continue
            moved = True
            mine = me | _bit(height, c)
            if _won(mine):
                return _WIN + depth
            if depth == 1:
                score = _heuristic(mine, them)
            else:
                score = -self._negamax(them, mine, depth - 1, -beta, -alpha)
            if score > best:
                best = score
                if score > alpha:
                    alpha = score
                    if alpha >= beta:
                        break
        return best if moved else 0

    def move_scores(self, obs_row: np.ndarray) -> np.ndarray:
        """Score of each column for the player to move (-inf for full columns)."""
        planes = obs_row.reshape(ROWS * COLS, 2) > 0.5
        me = sum(1 << int(b) for b in _OBS_BITS[planes[:, 0]])
        them = sum(1 << int(b) for b in _OBS_BITS[planes[:, 1]])
        scores = np.full(COLS, -np.inf)
        best = -np.inf
        for c in _ORDER:
            height = ((me | them) >> (c * _H) & ((1 << ROWS) - 1)).bit_count()
            if height == ROWS:
                continue
            mine = me | _bit(height, c)
            if _won(mine):
                scores[c] = _WIN + self.depth
            elif self.depth == 1:
                scores[c] = _heuristic(mine, them)
            else:
                # Window (best - 1, inf): enough to tell ties with the best from worse moves.
                scores[c] = -self._negamax(them, mine, self.depth - 1, -np.inf, -(best - 1))
            best = max(best, scores[c])
        return scores



# _PLANES[me][cell] is the (mine, theirs) pair of a cell holding 0 (empty), 1 or 2: one table
# lookup encodes a whole board, several times faster than comparing plane by plane.
_PLANES = {1: np.array([[0, 0], [1, 0], [0, 1]], np.float32),
           2: np.array([[0, 0], [0, 1], [1, 0]], np.float32)}


def read_board(env: connect_four.raw_env, seat: str) -> tuple[np.ndarray, int]:
    """The board (42 cells, row-major from the top: 0 empty, 1/2 a player's piece) and the
    piece value of ``seat``; about 4x cheaper than ``env.observe`` and encoded the same way."""
    return np.array(env.board, dtype=np.int8), 1 if seat == SEATS[0] else 2


def encode_board(raw: tuple[np.ndarray, int], obs_row: np.ndarray, mask_row: np.ndarray) -> None:
    """``read_board`` output as PettingZoo's observation planes (mover's pieces, opponent's),
    flattened, and the legal columns (top cell empty)."""
    board, me = raw
    obs_row[:] = _PLANES[me][board].reshape(-1)
    mask_row[:] = board[:COLS] == 0


def game(roles: dict[str, str] | None = None, depth: int = 4) -> Game:
    """Connect Four: 2 symmetric seats, 84 observation features (two 6x7 planes), 7 masked actions.

    ``depth`` is the search depth of the ``minimax`` reference.
    """
    ConnectFourMinimax(depth)  # validate now
    return Game(
        name="connect_four", seats=SEATS, roles=seat_roles(SEATS, roles), api="aec", symmetric=True,
        masked=True, env_fn=connect_four.raw_env, obs_dims=dict.fromkeys(SEATS, ROWS * COLS * 2),
        action_counts=dict.fromkeys(SEATS, COLS), encoder=encode_board, observe=read_board,
        references={"random": random_reference, "minimax": lambda g: ConnectFourMinimax(depth)},
        config={"roles": roles, "depth": depth})
