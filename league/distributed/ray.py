"""Ray itself: importing it (with an install hint), joining a cluster, unwrapping remote errors.

``ray`` is imported only inside these functions, so importing ``league.distributed`` never
needs it.
"""

from __future__ import annotations

import os
from typing import Any

from league.errors import ConfigError

__all__ = ["INSTALL_HINT", "import_ray", "connect", "remote_cause"]

INSTALL_HINT = "pip install -e '.[ray]'"


def import_ray() -> Any:
    """The ``ray`` module, or a ``ConfigError`` that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--backend ray needs Ray: {INSTALL_HINT}") from None
    return ray


def connect(address: str | None = None, *, num_cpus: int | None = None, quiet: bool = False) -> Any:
    """Join the Ray cluster at ``address``, or start a local instance with ``num_cpus``
    (default: this machine's cores); a no-op when this process is already connected."""
    ray = import_ray()
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"log_to_driver": not quiet}
        if address is None:
            kwargs.update(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False)
        try:
            ray.init(address=address, **kwargs)
        except ConnectionError as exc:  # a wrong --address: a one-line message, not a traceback
            raise ConfigError(f"cannot connect to the Ray cluster at {address!r}: {exc}") from None
    return ray


def remote_cause(exc: Exception) -> Exception:
    """The exception a remote call raised (a ``LeagueError`` stays one, with its one-line message)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, Exception) else exc
