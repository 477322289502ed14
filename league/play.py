"""``python -m league.play POOL --member ID|best:ROLE [--seat S]``: a person against a member.

Board games whose PettingZoo observation is a ``[rows, cols, 2]`` plane stack (tic-tac-toe,
connect four) are drawn as text after every move, the legal moves listed; the person types a
move number.  Input that is not a legal move is re-asked (it never loses the game); ``q`` or
end-of-input gives up.  The member plays the seat the person does not (its role must be the
one bound to that seat), sampling as it does in the league (``--greedy``: its most likely move).
``draw_board``, ``member_action`` and ``live_turns`` are shared with ``league.watch``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

import numpy as np

from envs.errors import GameError
from league.errors import LeagueError

__all__ = ["BOARD_GAMES", "draw_board", "live_turns", "play", "main", "member_action"]

_PROG = "python -m league.play"
BOARD_GAMES = ("tictactoe", "connect_four")
_MARKS = ("X", "O")


def _planes(env: Any, seat: str) -> np.ndarray:
    return np.asarray(env.observe(seat)["observation"])


def draw_board(env: Any, game: Any, seat: str, marks: dict[str, str], legal: Sequence[int] = ()) -> str:
    """The board as text, seen by ``seat`` (its pieces ``marks[seat]``); empty cells a legal move
    lands on show its number (cell-indexed games) or the numbers run under the columns."""
    planes = _planes(env, seat)
    rows, cols = planes.shape[:2]
    other = next(m for s, m in marks.items() if s != seat)
    by_cell = game.n_actions(seat) == rows * cols
    lines = []
    for r in range(rows):
        cells = []
        for c in range(cols):
            if planes[r, c, 0]:
                cells.append(marks[seat])
            elif planes[r, c, 1]:
                cells.append(other)
            else:
                a = r * cols + c
                cells.append(str(a) if by_cell and a in legal else ".")
        lines.append(" " + " | ".join(cells) if by_cell else " " + " ".join(cells))
        if by_cell and r < rows - 1:
            lines.append("---+" * (cols - 1) + "---")
    if not by_cell:
        lines.append(" " + " ".join(str(c) for c in range(cols)))
    return "\n".join(lines)


def member_action(env: Any, game: Any, seat: str, policy: Any, rng: np.random.Generator,
                  greedy: bool = False) -> int:
    """The member's move in ``seat``, from the observation the league encodes for it."""
    raw = game.observe(env, seat) if game.observe is not None else env.observe(seat)
    obs = np.zeros((1, game.obs_dim(seat)), np.float32)
    mask = np.ones((1, game.n_actions(seat)), bool)
    game.encoder(raw, obs[0], mask[0])
    probs = policy.probs(obs, mask if game.masked else None)
    return int(probs.argmax()) if greedy else int(policy.act(obs, mask if game.masked else None, rng)[0])


def live_turns(env: Any, returns: dict[str, float]) -> Iterator[str]:
    """The seats to move of a reset AEC ``env``, one per turn, until the game ends.

    The caller steps ``env`` with the seat's action before asking for the next one; the
    generator then adds that step's rewards into ``returns`` (seat -> summed reward).  Seats
    that are done are stepped out with ``None`` on the way, as PettingZoo requires.
    """
    for seat in env.agent_iter():
        _, _, term, trunc, _ = env.last()
        if term or trunc:
            env.step(None)
            continue
        yield seat
        for s, r in env.rewards.items():
            returns[s] += float(r)


def _legal(env: Any, seat: str) -> list[int]:
    return [int(a) for a in np.flatnonzero(env.observe(seat)["action_mask"])]


def play(game: Any, policy: Any, human: str, *, ask: Callable[[str], str], out: TextIO, seed: int | None = None,
         greedy: bool = False) -> int | None:
    """One game; returns the person's result (+1, 0, -1), or None if they gave up."""
    env = game.new_env()
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    marks = {s: _MARKS[i] for i, s in enumerate(game.seats)}
    returns = dict.fromkeys(game.seats, 0.0)
    for seat in live_turns(env, returns):
        if seat == human:
            legal = _legal(env, seat)
            print(draw_board(env, game, human, marks, legal), file=out)
            while True:
                answer = ask(f"your move ({marks[human]}), one of {' '.join(map(str, legal))}: ").strip()
                if answer.lower() in ("q", "quit"):
                    print("you gave up", file=out)
                    return None
                if answer.isdigit() and int(answer) in legal:
                    break
                print(f"{answer!r} is not a legal move; legal moves: {' '.join(map(str, legal))}", file=out)
            env.step(int(answer))
        else:
            action = member_action(env, game, seat, policy, rng, greedy)
            print(f"member plays {action}", file=out)
            env.step(action)
    print(draw_board(env, game, human, marks), file=out)
    ranks = game.outcome(returns)
    mine, theirs = ranks[human], min(r for s, r in ranks.items() if s != human)
    result = 1 if mine < theirs else -1 if mine > theirs else 0
    print({1: "you win", 0: "draw", -1: "the member wins"}[result], file=out)
    return result


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=_PROG, description="Play a board game against a league member in the terminal.")
    p.add_argument("pool", metavar="POOL", help="a pool directory or a run's output directory")
    p.add_argument("--member", required=True, metavar="ID|best:ROLE", help="the member to play against")
    p.add_argument("--seat", help="the seat you play (default: the first seat the member does not)")
    p.add_argument("--seed", type=int, default=None, help="seed of the member's draws")
    p.add_argument("--greedy", action="store_true", help="the member plays its most likely move")
    return p


def _input(prompt: str) -> str:
    try:
        return input(prompt)
    except EOFError:
        return "q"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        import envs
        from league.policy import load_policy

        policy = load_policy(args.pool, args.member, seed=args.seed)
        game = envs.make(policy.game)
        if policy.game not in BOARD_GAMES:
            raise LeagueError(f"league play draws board games only ({', '.join(BOARD_GAMES)}); this pool plays "
                              f"{policy.game!r}: watch its members with league watch instead")
        member_seats = [s for s in game.seats if game.roles[s] == policy.member.role]
        human = args.seat or next(s for s in game.seats if s not in member_seats)
        game.check_seat(human)
        others = [s for s in game.seats if s != human]
        if any(game.roles[s] != policy.member.role for s in others):
            raise LeagueError(f"member {policy.member.id} plays role {policy.member.role!r} but seat {others[0]!r} "
                              f"is role {game.roles[others[0]]!r}; choose --seat {member_seats[0]!r}'s "
                              "opponent or a member of that role")
        print(f"{game.name}: you are {human} ({_MARKS[game.seats.index(human)]}) against member "
              f"{policy.member.id} ({policy.member.role}); q gives up")
        result = play(game, policy, human, ask=_input, out=sys.stdout, seed=args.seed, greedy=args.greedy)
    except (LeagueError, GameError) as exc:
        print(f"league.play: error: {exc}", file=sys.stderr)
        return 2
    return 0 if result is not None else 1


if __name__ == "__main__":
    sys.exit(main())
