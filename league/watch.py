"""``python -m league.watch POOL --seating A,B [--gif FILE]``: watch members play one match.

``--seating`` names a member per seat, in the game's seat order (ids, ``best:<role>`` or
``population:<role>``; see ``league.policy``).  Board games (tic-tac-toe, connect four) are
drawn as text after every move (``league.play.draw_board``); other games print each move and
the returns.  ``--gif FILE`` also writes the board after every move as a GIF (Pillow; board
games only).  The members sample as they do in the league, from ``--seed``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from envs.errors import GameError
from league.errors import LeagueError

__all__ = ["watch", "board_image", "main"]

_PROG = "python -m league.watch"
_COLOURS = ((220, 60, 50), (240, 200, 40))


def board_image(env: Any, seat: str, cell: int = 48) -> Any:
    """The board as a Pillow image: ``seat``'s pieces red, the other's yellow."""
    from PIL import Image, ImageDraw

    planes = np.asarray(env.observe(seat)["observation"])
    rows, cols = planes.shape[:2]
    img = Image.new("RGB", (cols * cell, rows * cell), (30, 70, 160))
    draw = ImageDraw.Draw(img)
    for r in range(rows):
        for c in range(cols):
            box = (c * cell + 4, r * cell + 4, (c + 1) * cell - 4, (r + 1) * cell - 4)
            colour = _COLOURS[0] if planes[r, c, 0] else _COLOURS[1] if planes[r, c, 1] else (235, 235, 235)
            draw.ellipse(box, fill=colour)
    return img


def watch(game: Any, policies: dict[str, Any], *, out: TextIO, seed: int | None = None,
          gif: str | Path | None = None) -> dict[str, float]:
    """Play one match of ``policies`` (seat -> policy), drawing it on ``out``; returns the returns."""
    from league.play import BOARD_GAMES, draw_board, member_action

    board = game.name in BOARD_GAMES
    if gif is not None and not board:
        raise LeagueError(f"--gif draws board games only ({', '.join(BOARD_GAMES)}), not {game.name!r}")
    if game.api != "aec":
        raise LeagueError(f"league watch plays turn-based (AEC) games; {game.name!r} is a parallel game")
    env = game.new_env()
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    first = game.seats[0]
    marks = {s: m for s, m in zip(game.seats, ("X", "O"))}
    frames = [board_image(env, first)] if gif is not None else []
    returns = dict.fromkeys(game.seats, 0.0)
    for seat in env.agent_iter():
        _, _, term, trunc, _ = env.last()
        if term or trunc:
            env.step(None)
            continue
        action = member_action(env, game, seat, policies[seat], rng)
        env.step(action)
        for s, r in env.rewards.items():
            returns[s] += float(r)
        print(f"{seat} ({policies[seat].name}) plays {action}", file=out)
        if board and env.agents:
            print(draw_board(env, game, first, marks), file=out)
        if gif is not None:
            frames.append(board_image(env, first))
    ranks = game.outcome(returns)
    print("result: " + ", ".join(f"{s} {returns[s]:+g} (rank {ranks[s]})" for s in game.seats), file=out)
    if gif is not None:
        frames[0].save(str(gif), save_all=True, append_images=frames[1:], duration=600, loop=0)
    return returns


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=_PROG, description="Watch league members play one match.")
    p.add_argument("pool", metavar="POOL", help="a pool directory or a run's output directory")
    p.add_argument("--seating", required=True, metavar="A,B,...",
                   help="a member per seat, in seat order: ids, best:ROLE or population:ROLE")
    p.add_argument("--seed", type=int, default=None, help="seed of the match")
    p.add_argument("--gif", metavar="FILE", help="also write the board after every move as a GIF")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        import envs
        from league.policy import load_policy, pool_path
        from league.pool import Pool

        with Pool.open(pool_path(args.pool), "r") as pool:
            game = envs.make(pool.game)
            names = [n.strip() for n in args.seating.split(",")]
            if len(names) != len(game.seats):
                raise LeagueError(f"--seating names {len(names)} members but {game.name} has {len(game.seats)} "
                                  f"seats {list(game.seats)}; give one per seat, comma-separated")
            policies = {}
            for i, (seat, name) in enumerate(zip(game.seats, names)):
                policy = load_policy(pool, name if not name.isdigit() else int(name),
                                     seed=None if args.seed is None else args.seed + i)
                if policy.member.role != game.roles[seat]:
                    raise LeagueError(f"member {policy.member.id} plays role {policy.member.role!r}, but seat "
                                      f"{seat!r} is role {game.roles[seat]!r}")
                policies[seat] = policy
        watch(game, policies, out=sys.stdout, seed=args.seed, gif=args.gif)
    except (LeagueError, GameError) as exc:
        print(f"league.watch: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
