"""``python -m league.leaderboard POOL_DIR [--format md|csv|json|html] [--output FILE] [--elo]``.

Opens the pool read-only (safe while a league is writing it) and renders every member, grouped
by role, best conservative rating first.  Errors about the pool or the output file print one
line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from league.errors import LeagueError
from league.pool import Pool
from ratings.elo import Elo
from ratings.export import FORMATS, render
from ratings.replay import replay_elo

__all__ = ["main", "build_parser"]

_PROG = "python -m league.leaderboard"


def build_parser() -> argparse.ArgumentParser:
    """The command line parser (exposed so docs and tests can inspect it)."""
    parser = argparse.ArgumentParser(
        prog=_PROG, description="Render the leaderboard of a league pool: every member with its "
                                "TrueSkill rating, grouped by role, best conservative rating first.")
    parser.add_argument("pool", metavar="POOL_DIR", type=Path, help="the pool directory")
    parser.add_argument("--format", "-f", choices=list(FORMATS), default="md",
                        help="output format (default: md)")
    parser.add_argument("--output", "-o", metavar="FILE", type=Path, default=None,
                        help="write here instead of standard output")
    parser.add_argument("--elo", action="store_true",
                        help="add an 'elo' column: Elo (K=32, from 1500) recomputed from the match log, "
                             "for comparison with the literature")
    return parser


def _write_atomically(path: Path, text: str) -> None:
    # A browser or a CI step may read the file while a long run rewrites it: replace it whole.
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        # mkstemp makes the file private; a report should be as readable as a plain write makes it.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command and return its exit status: 0 ok, 2 unreadable pool or unwritable output.

    Usage errors (and ``--help``) leave through argparse's ``SystemExit`` (status 2, resp. 0).
    """
    args = build_parser().parse_args(argv)
    try:
        with Pool.open(args.pool, mode="r") as pool:
            members = pool.members()
            roles = list(pool.roles)
            game = pool.game
            matches = pool.matches() if args.elo else []
    except LeagueError as e:
        print(f"{_PROG}: error: {e}", file=sys.stderr)
        return 2
    extra = None
    if args.elo:
        elo = Elo()
        ratings = replay_elo(matches, elo, initial={m.id: elo.initial for m in members})
        extra = {m.id: {"elo": ratings[m.id]} for m in members}
    text = render(members, args.format, roles=roles, extra=extra, title=f"Leaderboard: {game}")
    if args.output is None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader (``| head``) left early; that is its choice, not our error.  Point stdout
            # at devnull so the interpreter's final flush does not print a traceback.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    try:
        _write_atomically(args.output, text)
    except OSError as e:
        print(f"{_PROG}: error: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
