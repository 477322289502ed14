"""tqdm progress bars: training (learner steps, steps per second, latest evaluation) and any
counted stage (``CountProgress``: evaluation matches, members measured for the report).

Quiet unless stderr is a terminal (logs of batch jobs and CI stay clean), or when asked; a log
gets one line per stage from the league loop instead.
"""

from __future__ import annotations

import sys
from types import TracebackType

from tqdm import tqdm

from league.training.callbacks import TrainEvent

__all__ = ["TrainingProgress", "CountProgress"]


class TrainingProgress:
    """Shows training progress in learner steps; ``enabled=None`` means "only on a terminal"."""

    def __init__(self, total: int | None = None, *, enabled: bool | None = None, desc: str = "train"):
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.enabled = bool(enabled)
        self._bar = tqdm(total=total, desc=desc, unit="step", unit_scale=True, dynamic_ncols=True,
                         disable=not self.enabled, leave=False)
        self._step = 0

    def update(self, event: TrainEvent) -> None:
        """Advance to ``event.step`` and show the latest evaluation next to the rate."""
        if not self.enabled:
            return
        ev = event.evaluation
        self._bar.update(event.step - self._step)
        self._step = event.step
        if ev is not None and event.evaluated_now:  # rare enough to redraw at once
            self._bar.set_postfix_str(f"eval@{ev.step}: win {ev.win_rate:.2f} draw {ev.draw_rate:.2f} "
                                      f"loss {ev.loss_rate:.2f}", refresh=True)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> TrainingProgress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class CountProgress:
    """A bar over ``total`` units of a stage (``enabled=None``: only on a terminal)."""

    def __init__(self, total: int, *, desc: str, unit: str, initial: int = 0, enabled: bool | None = None):
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.enabled = bool(enabled)
        self._bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True,
                         disable=not self.enabled, leave=False)

    def update(self, n: int = 1) -> None:
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> CountProgress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
