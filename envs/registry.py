"""The game registry: a name -> factory table of small functions (``envs.make``, ``envs.games``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from envs.errors import GameConfigError, UnknownGameError
from envs.game import Game
from envs.games import connect_four, kuhn_poker, rps, simple_tag, texas_holdem, tictactoe

__all__ = ["make", "games", "GAMES"]

GAMES: dict[str, Callable[..., Game]] = {
    "tictactoe": tictactoe.game,
    "connect_four": connect_four.game,
    "rps": rps.game,
    "texas_holdem": texas_holdem.game,
    "kuhn_poker": kuhn_poker.game,
    "simple_tag": simple_tag.game,
}


def games() -> list[str]:
    """Names of every registered game, sorted."""
    return sorted(GAMES)


def make(name: str, **kwargs: Any) -> Game:
    """The game ``name`` configured by ``kwargs``.

    Raises ``UnknownGameError`` (listing the valid names) for an unknown name and
    ``GameConfigError`` (listing the accepted keywords) for keywords the game does not take.
    """
    factory = GAMES.get(name)
    if factory is None:
        raise UnknownGameError(name, GAMES)
    signature = inspect.signature(factory)
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        accepted = ", ".join(signature.parameters) or "none"
        raise GameConfigError(f"game {name!r}: {exc}; accepted keywords: {accepted}") from None
    return factory(**kwargs)
