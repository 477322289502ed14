"""Name-or-callable lookup shared by the registries of small functions.

Sampling schemes, match-selection rules and pruning rules are each a dict of
name -> function; everything that takes one accepts its name or any callable,
and an unknown name is an ``UnknownNameError`` listing the valid names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from league.errors import UnknownNameError

__all__ = ["resolve"]

F = TypeVar("F", bound=Callable)


def resolve(registry: Mapping[str, F], entry: str | F, what: str) -> F:
    """``entry`` itself when callable, else ``registry[entry]``; ``what`` names the kind in errors."""
    if callable(entry):
        return entry
    try:
        return registry[entry]  # type: ignore[index]
    except (KeyError, TypeError):
        raise UnknownNameError(
            f"unknown {what} {entry!r}: expected one of {sorted(registry)} or a callable") from None
