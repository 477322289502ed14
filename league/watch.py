"""``python -m league.watch POOL --seating A,B [--gif FILE] [--mp4 FILE]``: watch members play one match.

``--seating`` names a member per seat, in the game's seat order (ids, ``best:<role>`` or
``population:<role>``; see ``league.policy``).  Board games (tic-tac-toe, connect four) are
drawn as text after every move (``league.play.draw_board``); other games print each move and
the returns.  ``--gif FILE`` / ``--mp4 FILE`` also write a frame per move: the game's own
PettingZoo ``rgb_array`` rendering where it has one, else (board games) a drawn board.  The GIF
needs Pillow; the MP4 needs imageio with its ffmpeg wheel (``pip install -e '.[watch]'``).  The
members sample as they do in the league, from ``--seed``.
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

__all__ = ["watch", "board_image", "write_mp4", "main"]

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


# Longest side of a written frame: PettingZoo draws tic-tac-toe at 1000 px, which only makes
# the files large.
_MAX_SIDE = 480
_FPS = 2  # frames (moves) per second


def _renders(env: Any) -> bool:
    """Whether ``env`` can draw itself as an RGB array; if so, switch it to that mode.

    PettingZoo envs read ``render_mode`` when they reset and render, and ``Game.env_fn`` builds
    them without arguments, so the mode is set on the instance before its first reset.
    """
    if "rgb_array" not in (getattr(env, "metadata", None) or {}).get("render_modes", ()):
        return False
    env.render_mode = "rgb_array"
    return True


def _frame(env: Any, rendered: bool, seat: str) -> Any:
    """The current position as a Pillow RGB image, at most ``_MAX_SIDE`` px on its longer side."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(env.render(), dtype=np.uint8)) if rendered else board_image(env, seat)
    scale = _MAX_SIDE / max(img.size)
    if scale < 1:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.LANCZOS)
    return img.convert("RGB")


def write_mp4(frames: Sequence[Any], path: str | Path, fps: float = _FPS) -> None:
    """Write Pillow images (or ``[H, W, 3]`` uint8 arrays) as an H.264 MP4 through imageio's ffmpeg."""
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401  (the encoder binary ships in this wheel)
    except ImportError:
        raise LeagueError("--mp4 needs imageio and imageio-ffmpeg: pip install -e '.[watch]'") from None
    arrays = [np.asarray(f, dtype=np.uint8) for f in frames]
    # H.264 in yuv420p needs even sides: pad by one row/column of the last pixels rather than
    # letting imageio rescale every frame (and warn).
    h, w = arrays[0].shape[:2]
    arrays = [np.pad(a, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge") for a in arrays]
    with imageio.get_writer(str(path), format="FFMPEG", fps=fps, codec="libx264", macro_block_size=1,
                            pixelformat="yuv420p", ffmpeg_log_level="error") as writer:
        for a in arrays:
            writer.append_data(a)


def watch(game: Any, policies: dict[str, Any], *, out: TextIO, seed: int | None = None,
          gif: str | Path | None = None, mp4: str | Path | None = None) -> dict[str, float]:
    """Play one match of ``policies`` (seat -> policy), drawing it on ``out``; returns the returns."""
    from league.play import BOARD_GAMES, draw_board, live_turns, member_action

    if game.api != "aec":
        raise LeagueError(f"league watch plays turn-based (AEC) games; {game.name!r} is a parallel game")
    board = game.name in BOARD_GAMES
    env = game.new_env()
    video = gif is not None or mp4 is not None
    rendered = video and _renders(env)
    if video and not (rendered or board):
        raise LeagueError(f"--gif/--mp4 need a game that renders itself or a board game ({', '.join(BOARD_GAMES)}); "
                          f"{game.name!r} is neither")
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    first = game.seats[0]
    marks = {s: m for s, m in zip(game.seats, ("X", "O"))}
    frames = [_frame(env, rendered, first)] if video else []
    returns = dict.fromkeys(game.seats, 0.0)
    for seat in live_turns(env, returns):
        action = member_action(env, game, seat, policies[seat], rng)
        env.step(action)
        print(f"{seat} ({policies[seat].name}) plays {action}", file=out)
        if board and env.agents:
            print(draw_board(env, game, first, marks), file=out)
        if video:
            frames.append(_frame(env, rendered, first))
    ranks = game.outcome(returns)
    print("result: " + ", ".join(f"{s} {returns[s]:+g} (rank {ranks[s]})" for s in game.seats), file=out)
    if gif is not None:
        frames[0].save(str(gif), save_all=True, append_images=frames[1:], duration=int(1000 / _FPS), loop=0)
    if mp4 is not None:
        write_mp4(frames, mp4)
    return returns


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=_PROG, description="Watch league members play one match.")
    p.add_argument("pool", metavar="POOL", help="a pool directory or a run's output directory")
    p.add_argument("--seating", required=True, metavar="A,B,...",
                   help="a member per seat, in seat order: ids, best:ROLE or population:ROLE")
    p.add_argument("--seed", type=int, default=None, help="seed of the match")
    p.add_argument("--gif", metavar="FILE", help="also write a frame after every move as a GIF")
    p.add_argument("--mp4", metavar="FILE", help="also write a frame after every move as an MP4 "
                                                 "(needs the watch extra: imageio, imageio-ffmpeg)")
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
        watch(game, policies, out=sys.stdout, seed=args.seed, gif=args.gif, mp4=args.mp4)
    except (LeagueError, GameError) as exc:
        print(f"league.watch: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
