"""What ``python -m league.run`` drives, and the one place that picks the backend.

A ``LeagueRunner`` is a local ``League`` or a ``RayLeague`` (``league.distributed``): the same
run, plan and pool either way.  ``make_league`` chooses between them from ``config.backend.kind``;
nothing else in the project branches on the backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from league.config import RunConfig

__all__ = ["LeagueRunner", "make_league"]


class LeagueRunner(Protocol):
    """A league run in ``out``: ``run()`` it (or resume it), ``report()`` it, ``close()`` it."""

    roles: list[str]
    """The game's roles, in seat order (one population each)."""

    def run(self) -> dict[str, Any]:
        """Run the remaining turns; ``{"turns_done", "turns", "steps", "elapsed"}``."""
        ...

    def report(self) -> str:
        """Write ``leaderboard.md``/``.html`` (and ``win_vs_random.json``) into ``out``; the Markdown board."""
        ...

    def close(self) -> None:
        """Release the pool and whatever runs matches (processes, actors)."""
        ...


def make_league(config: RunConfig, out: str | Path, *, resume: bool = False, log: TextIO | None = None,
                quiet: bool = False) -> LeagueRunner:
    """The ``LeagueRunner`` for ``config.backend.kind``: a ``League`` here, or a ``RayLeague``.

    ``quiet`` also silences what runs elsewhere (Ray's own logs, the league actor's progress),
    which ``log`` cannot reach.  With ``kind = "ray"`` and no Ray installed this raises the
    one-line ``ConfigError`` of ``league.distributed.import_ray`` before anything is created.
    """
    if config.backend.kind == "ray":
        from league.distributed import RayLeague

        return RayLeague(config, out, resume=resume, log=log, quiet=quiet)
    from league.orchestration.league import League

    return League(config, out, resume=resume, log=log)
