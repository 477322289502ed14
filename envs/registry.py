"""The game registry: a name -> factory table of small functions (``envs.make``, ``envs.games``).

A name may also be an import path, ``"package.module:callable"``, whose callable takes the
game's keyword arguments and returns an ``envs.Game``: every process (Ray workers included)
resolves it by importing, so no registration has to reach it.  ``register`` adds a name in
this process only.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from envs.errors import GameConfigError, UnknownGameError
from envs.game import Game
from envs.games import connect_four, kuhn_poker, rps, simple_tag, texas_holdem, tictactoe

__all__ = ["make", "games", "register", "GAMES"]

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

    ``roles={seat: role}`` binds seats to roles in every game, import-path ones included (seats
    bound to one role are a team).  Raises ``UnknownGameError`` (listing the valid names) for an
    unknown name and ``GameConfigError`` (listing the accepted keywords) for keywords the game
    does not take.
    """
    factory = GAMES.get(name)
    if factory is None and isinstance(name, str) and ":" in name:
        factory = _import_factory(name)
    elif factory is None and isinstance(name, str) and "." in name:
        from envs.derive import from_module  # a PettingZoo module path: derive its Game
        roles = kwargs.pop("roles", None)
        return from_module(name, roles=roles, **kwargs)
    if factory is None:
        raise UnknownGameError(name, GAMES)
    signature = inspect.signature(factory)
    # ``roles`` binds seats to roles for every game: a factory of PettingZoo envs that does not
    # take it has it applied when its Game is derived.
    roles = None
    if "roles" in kwargs and "roles" not in signature.parameters and not any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
        roles = kwargs.pop("roles")
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        accepted = ", ".join(signature.parameters) or "none"
        raise GameConfigError(f"game {name!r}: {exc}; accepted keywords: {accepted}") from None
    game = factory(**kwargs)
    if not isinstance(game, Game) and hasattr(game, "possible_agents"):
        # A factory of PettingZoo envs: derive the game from the env.
        from envs.derive import from_pettingzoo
        game.close()
        game = from_pettingzoo(lambda: factory(**kwargs), name=name, roles=roles, config=kwargs)
    elif roles is not None:
        raise GameConfigError(f"game {name!r}: its factory builds an envs.Game and takes no 'roles'; "
                              "bind the seats inside the factory, or let it return the PettingZoo env")
    if not isinstance(game, Game):
        raise GameConfigError(f"game {name!r}: its factory returned {type(game).__name__}, not an envs.Game")
    return game


def register(name: str, factory: Callable[..., Game]) -> None:
    """Add ``factory`` (keyword arguments -> ``envs.Game``) as game ``name`` in this process.

    Worker processes do not see it: name the factory by import path there
    (``"package.module:callable"``).
    """
    if not isinstance(name, str) or not name or ":" in name:
        raise GameConfigError(f"a game name must be a non-empty string without ':', got {name!r}")
    if not callable(factory):
        raise GameConfigError(f"game {name!r}: the factory must be callable, got {factory!r}")
    GAMES[name] = factory


def _import_factory(path: str) -> Callable[..., Game]:
    """The callable named by ``"package.module:callable"``, or a one-line ``UnknownGameError``."""
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise GameConfigError(f"game {path!r}: cannot import module {module_name!r} ({exc}); "
                              "is it on PYTHONPATH?") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise GameConfigError(f"game {path!r}: module {module_name!r} has no callable {attr!r}")
    return factory
