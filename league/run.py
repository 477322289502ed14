"""``python -m league.run``: run (or resume) a league and write its leaderboard.

    python -m league.run                                   # the default scenario
    python -m league.run --config configs/tictactoe.toml --out runs/ttt
    python -m league.run --out runs/ttt rotations=4 training.max_steps=50000
    python -m league.run --resume runs/ttt                 # after a crash or kill
    python -m league.run --backend ray --out runs/ttt      # matches on Ray workers (README: "Running on Ray")

``--backend``, ``--address``, ``--workers`` and ``--rollout-shards`` are shorthands for the
``backend.*`` overrides: like every override they are saved in the run's ``config.toml``, so
``--resume`` needs none of them again.

The output directory holds ``pool/`` (the league), ``config.toml`` (the resolved
config), ``metrics.csv`` (one row per PPO update) and ``leaderboard.md`` /
``leaderboard.html`` (with plots).  Errors a user can fix (a bad config key, an
unknown game, a corrupt pool) are one line on stderr and exit status 2; a file system that
refuses a write outside the pool (full, read-only, no permission) is one line and exit status 1.
``--resume DIR key=value`` saves the overrides in DIR's ``config.toml`` once the pool has
opened, so a later ``--resume`` goes on with them.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from envs.errors import GameError
from league.cli import set_verbosity, version_action
from league.errors import ConfigError, LeagueError, PoolWriteError

__all__ = ["main"]

DEFAULT_OUT = "league-out"
POOL_DIR = "pool"  # league.orchestration.league.POOL_DIR, not imported: --help must not load torch


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m league.run",
        description="Train a league of self-play policies on a PettingZoo game.",
        epilog="Overrides are key=value pairs on the config, e.g. rotations=3 game.name=tictactoe "
               "training.max_steps=50000 sampling.scheme=uniform. See --help-config for every key.")
    p.add_argument("--config", help="TOML config file (default: the built-in scenario)")
    p.add_argument("--out", help=f"output directory (default: ./{DEFAULT_OUT}, or a new run-* name if taken)")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last committed state")
    version_action(p)
    noise = p.add_mutually_exclusive_group()
    noise.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    noise.add_argument("-v", "--verbose", action="count", default=0,
                       help="log lines of the league loggers on stderr (-vv: debug)")
    # Shorthands for backend.* overrides: they are saved in config.toml, so --resume needs none of them.
    p.add_argument("--backend", choices=("local", "ray"),
                   help="backend.kind: where evaluation matches (and optionally rollouts) run: this process "
                        "(local, the default), or Ray workers with the league in a Ray actor (see the README, "
                        "'Running on Ray')")
    p.add_argument("--address", help="backend.address (--backend ray): the Ray cluster to join (default: start "
                                     "a local instance with this machine's cores)")
    p.add_argument("--workers", type=int, help="backend.workers (--backend ray): worker actors (default: the "
                                               "cluster's CPUs)")
    p.add_argument("--rollout-shards", type=int, metavar="N",
                   help="backend.rollout_shards (--backend ray): step the learner's env copies on N workers "
                        "(default 0: in the league actor)")
    p.add_argument("--help-config", action="store_true", help="list every config key with its default and exit")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    return p


def _fresh_out(arg: str | None) -> Path:
    if arg is not None:
        out = Path(arg)
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--out {out} is a file, not a directory; choose a directory "
                              "(a new one is created)")
        if (out / POOL_DIR).exists():
            raise ConfigError(f"{out} already holds a league; continue it with --resume {out} "
                              "or choose another --out")
        return out
    out = Path(DEFAULT_OUT)
    if (out / POOL_DIR).exists():
        out = Path(f"{DEFAULT_OUT}-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}")
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.verbose:
        set_verbosity(args.verbose, quiet=False)
    try:
        return _main(args)
    except PoolWriteError as exc:
        # The disk, not the input: status 1 like any other I/O failure (2 is for bad input).
        print(f"league.run: error: {exc}", file=sys.stderr)
        return 1
    except (LeagueError, GameError) as exc:
        print(f"league.run: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # A read-only or full file system, a permission, outside the pool (which raises its own
        # PoolError): one line naming the path.  What was committed before stays committed.
        print(f"league.run: error: {_os_error_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("league.run: interrupted; continue with --resume", file=sys.stderr)
        return 130


def _replace_text(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all (a kill or a full disk keeps the old config)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _os_error_line(exc: OSError) -> str:
    where = f"cannot write {exc.filename}" if exc.filename else "a file operation failed"
    hint = {errno.ENOSPC: "free disk space, then continue with --resume",
            errno.EDQUOT: "free disk space, then continue with --resume",
            errno.EROFS: "the file system is read-only: choose another --out",
            errno.EACCES: "no permission: choose a directory you may write to",
            errno.EPERM: "no permission: choose a directory you may write to"}.get(exc.errno or 0,
                                                                                "fix it and run again")
    return f"{where}: {exc.strerror or exc}; {hint}"


def _backend_overrides(args: argparse.Namespace) -> list[str]:
    """The backend flags as ``backend.*`` overrides (a flag not given sets nothing)."""
    flags = {"kind": args.backend, "address": args.address, "workers": args.workers,
             "rollout_shards": args.rollout_shards}
    # JSON quoting is a valid TOML basic string, so an address is never read as a number or a table.
    return [f"backend.{key}={json.dumps(value) if isinstance(value, str) else value}"
            for key, value in flags.items() if value is not None]


def _main(args: argparse.Namespace) -> int:
    # Imported here so that --help answers without loading torch.
    from league.config import describe_config, load_config
    from league.config.toml import dump_toml

    if args.help_config:
        print("\n".join(describe_config()))
        return 0
    overrides = [*args.overrides, *_backend_overrides(args)]
    resumed_toml: str | None = None
    if args.resume:
        out = Path(args.resume)
        saved = out / "config.toml"
        if not saved.exists():
            raise ConfigError(f"{out} is not a league run directory (no config.toml); "
                              "start a run with --out instead")
        if args.config:
            raise ConfigError("--resume uses the run's own config.toml; drop --config (overrides still apply)")
        config = load_config(saved, overrides)
        # Saved before --quiet touches it: a flag of this session is not the run's config.
        resumed_toml = dump_toml(config.to_dict()) if overrides else None
    else:
        config = load_config(args.config, overrides)
        out = _fresh_out(args.out)
    if config.backend.kind != "ray" and (args.address or args.workers is not None or args.rollout_shards):
        raise ConfigError("--address, --workers and --rollout-shards need --backend ray")
    if args.quiet:
        config.report.progress = False

    import torch

    from league.orchestration import make_league

    # Small networks gain nothing from intra-op threads, and on a busy machine the
    # threads fight each other (and the env) for cores.
    torch.set_num_threads(1)

    log = open(os.devnull, "w") if args.quiet else sys.stderr
    started = time.monotonic()
    # config.toml before the pool: a kill between the two leaves a directory that --resume
    # starts from scratch (nothing was stored yet), never a pool without its config.
    made_dir = not out.exists()
    if not args.resume:
        out.mkdir(parents=True, exist_ok=True)
        _replace_text(out / "config.toml", dump_toml(config.to_dict()))
    resume = bool(args.resume) and (out / POOL_DIR).exists()
    if args.resume and not resume:
        print(f"league: {out} has no pool yet (the run stopped before creating it); starting it", file=log)
    try:
        league = make_league(config, out, resume=resume, log=log, quiet=args.quiet)
    except BaseException:
        # A backend that cannot start (no Ray) or a missing tensorboard: leave no directory behind.
        if not args.resume and not (out / POOL_DIR).exists():
            (out / "config.toml").unlink(missing_ok=True)
            if made_dir and not any(out.iterdir()):
                out.rmdir()
        raise
    try:
        if resumed_toml is not None and resumed_toml != (out / "config.toml").read_text():
            # After the pool opened with them (a mismatched game was refused above, nothing
            # written): the next --resume continues with these overrides, e.g. 'rotations=2'.
            _replace_text(out / "config.toml", resumed_toml)
        print(f"league: {config.game.name} with roles {league.roles}; output in {out}", file=log)
        summary = league.run()
        board = league.report()
    finally:
        league.close()
    print(board)
    print(f"\nleague: {summary['turns_done']}/{summary['turns']} turns, {summary['steps']} learner steps, "
          f"{time.monotonic() - started:.0f} s this session ({summary['elapsed']:.0f} s in all); "
          f"leaderboard in {out / 'leaderboard.md'} and {out / 'leaderboard.html'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
