"""The run's training log: ``metrics.csv`` (and TensorBoard, when ``logging.tensorboard`` is on).

One row per PPO update of every turn, tagged with the turn (``turn``, ``phase``, ``rotation``,
``role``), the member it trained from (``parent``), the member its checkpoint was added as
(``member``, filled in once the pool holds it; empty when the turn added nothing), the run's
global learner step (``global_step``: every earlier turn's steps plus this turn's ``step``) and
the wall seconds since the run started (``run_seconds``, over every session), then the update's
own columns (``league.training.callbacks.event_row``).

A resumed run never repeats rows: ``sync_metrics`` keeps the rows of the turns whose training
the pool has committed and drops the rest (a turn interrupted mid-training is trained again
from its start, and logs again), so ``(turn, global_step)`` is a key of the file.  TensorBoard
gets the same step: each turn's writer purges what an interrupted session wrote past the
turn's first step.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from league.errors import ConfigError
from league.orchestration.plan import RunState, Turn
from league.training.callbacks import CSVLogger, TensorBoardLogger, TrainEvent

__all__ = ["METRICS_FILE", "TENSORBOARD_DIR", "RUN_COLUMNS", "check_tensorboard", "turn_loggers", "sync_metrics"]

METRICS_FILE = "metrics.csv"
TENSORBOARD_DIR = "tensorboard"
RUN_COLUMNS = ("turn", "phase", "rotation", "role", "parent", "member", "global_step", "run_seconds")
"""The columns every row starts with (before the update's own)."""

TENSORBOARD_HINT = ("logging.tensorboard = true needs the tensorboard package: pip install -e '.[tensorboard]' "
                    "(or set logging.tensorboard=false)")


def check_tensorboard() -> None:
    """Raise a one-line ``ConfigError`` if TensorBoard logging cannot work here."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise ConfigError(TENSORBOARD_HINT) from None


def turn_loggers(out: Path, turn: Turn, *, parent: int | None, steps_before: int, clock: Callable[[], float],
                 csv_on: bool = True, tensorboard: bool = False) -> list[Any]:
    """The callbacks that log ``turn``'s training: a CSV row per update, TensorBoard scalars."""
    loggers: list[Any] = []
    if csv_on:
        columns = {"turn": turn.index, "phase": turn.phase, "rotation": turn.rotation, "role": turn.role,
                   "parent": "" if parent is None else parent, "member": ""}

        def run_cells(event: TrainEvent) -> Mapping[str, Any]:
            return {"global_step": steps_before + event.step, "run_seconds": round(clock(), 3)}

        loggers.append(CSVLogger(out / METRICS_FILE, append=True, columns=columns, derived=run_cells))
    if tensorboard:
        # One curve per role and metric over the global step; purge_step hides whatever an
        # interrupted session of this turn wrote, which this one writes again (the previous
        # turn's last update sits at steps_before itself, and stays).
        loggers.append(TensorBoardLogger(out / TENSORBOARD_DIR, prefix=f"{turn.role}/", step_offset=steps_before,
                                         purge_step=steps_before + 1))
    return loggers


def sync_metrics(path: Path, state: RunState, added: Mapping[int, int]) -> int:
    """Make ``metrics.csv`` agree with the committed run state; returns the rows dropped.

    Keeps the rows of turns before ``state.turn``, and of ``state.turn`` itself once its
    training is committed (stage ``evaluate``); drops the rest, which a resumed run writes
    again.  ``added`` (turn -> member id) fills in the ``member`` column.  The file is
    replaced atomically, so a kill here leaves the old or the new one.
    """
    if not path.exists():
        return 0
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        rows = list(reader)
    if "turn" not in header:  # empty, or cut off in its header: nothing committed is in it
        path.unlink()
        return len(rows)
    # An older run's file gains the new columns (empty in its old rows).
    columns = [*RUN_COLUMNS, *(c for c in header if c not in RUN_COLUMNS)]
    kept: list[dict[str, Any]] = []
    filled = False
    for cells in rows:
        row = dict(zip(header, cells))
        try:
            turn = int(row["turn"])
        except (KeyError, ValueError):
            continue  # a line cut off by a kill
        if turn < state.turn or (turn == state.turn and state.stage == "evaluate"):
            if turn in added and row.get("member") != str(added[turn]):
                row["member"], filled = str(added[turn]), True
            kept.append(row)
    dropped = len(rows) - len(kept)
    if dropped == 0 and columns == header and not filled:
        return 0
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return dropped
