"""The exceptions ``envs`` raises, in one small tree.

Every class subclasses ``GameError`` and the builtin a caller would otherwise catch, so both
``except GameError`` and ``except KeyError`` / ``ValueError`` work::

    GameError(Exception)
    ├── UnknownGameError(GameError, KeyError)     envs.make("chess"): the name is not registered
    ├── GameConfigError(GameError, ValueError)    bad keyword arguments, seats, options or seatings
    │   └── UnsupportedSpaceError                 an action or observation space the league cannot play
    └── IllegalActionError(GameError, RuntimeError)  an NPC policy returned a masked action

A learner's illegal action is not an error: the env ends the episode with the learner losing
(see ``envs.selfplay``).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["GameError", "UnknownGameError", "GameConfigError", "UnsupportedSpaceError", "IllegalActionError"]


class GameError(Exception):
    """Base class of every error raised by ``envs``."""


class UnknownGameError(GameError, KeyError):
    """A game name that is not in the registry; the message lists the valid names."""

    def __init__(self, name: str, valid: Iterable[str]):
        self.name = name
        self.valid = sorted(valid)
        super().__init__(f"unknown game {name!r}; valid games: {', '.join(self.valid)}")

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the message, wrapping it in quotes.
        return str(self.args[0])


class GameConfigError(GameError, ValueError):
    """Bad keyword arguments to a game, an unknown seat, or a malformed seating."""


class UnsupportedSpaceError(GameConfigError):
    """A seat's action or observation space is of a kind the league cannot play; the message
    names the space and what is supported."""


class IllegalActionError(GameError, RuntimeError):
    """An opponent policy chose an action its legal-action mask forbids (a bug in that policy)."""
