"""The ``league`` command: one entry point for every ``python -m league.<name>`` tool.

    league run --out runs/ttt game.name=tictactoe       # = python -m league.run ...
    league leaderboard runs/ttt/pool                     # = python -m league.leaderboard ...
    league play runs/ttt --member best:player_2          # a person against a member
    league watch runs/ttt --seating best:player_1,best:player_2
    league export runs/ttt --member 3 --format onnx
    league verify runs/ttt                               # = python -m league.verify ...
    league --version

Each subcommand's arguments are its module's own (``league <name> --help``); the subcommand's
module is imported only when it runs, so ``league leaderboard`` never loads torch, and a tool
that is not installed in this checkout is a one-line error, not a traceback.  ``-v``/``-q``
before the subcommand set the log level of the ``league`` loggers; ``-q`` also silences the
progress output of ``league run`` (its ``--quiet``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

__all__ = ["main", "COMMANDS", "version_action"]

# subcommand -> (module with a main(argv) -> int, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("league.run", "run (or resume) a league and write its leaderboard"),
    "leaderboard": ("league.leaderboard", "render a pool's leaderboard (md, csv, html, json)"),
    "play": ("league.play", "play a board game against a member in the terminal"),
    "watch": ("league.watch", "render a match between members as text (or a GIF or MP4)"),
    "export": ("league.export", "export a member as a standalone TorchScript, ONNX or safetensors file"),
    "verify": ("league.verify", "check a pool's index and weights files"),
}


def version_action(parser: argparse.ArgumentParser) -> None:
    """Add ``--version`` (prints ``league <__version__>``) to a parser."""
    from league import __version__

    parser.add_argument("--version", action="version", version=f"league {__version__}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="league", description="Population self-play for PettingZoo games.",
        epilog="Run 'league COMMAND --help' for a command's own options.")
    version_action(p)
    noise = p.add_mutually_exclusive_group()
    noise.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    noise.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in COMMANDS.items():
        # add_help=False: '--help' goes on to the subcommand's own parser
        sub.add_parser(name, help=help_text, add_help=False)
    return p


def set_verbosity(verbose: int, quiet: bool) -> None:
    """Log level of the ``league`` loggers: WARNING with ``-q``, INFO by default, DEBUG with ``-vv``."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose >= 2 else logging.INFO
    logging.basicConfig(level=level, format="%(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("league").setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, rest = _parser().parse_known_args(argv)
    set_verbosity(args.verbose, args.quiet)
    module_name = COMMANDS[args.command][0]
    if args.command == "run" and args.quiet and "--quiet" not in rest and "-q" not in rest:
        rest = ["--quiet", *rest]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        print(f"league: error: 'league {args.command}' is not available in this installation "
              f"({module_name} is missing); update the checkout", file=sys.stderr)
        return 2
    # The subcommand's parser names itself 'python -m league.<name>'; its main takes its own argv.
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
