"""The one exception tree of the ``league`` package.

Every error a user can trigger (bad config, bad pool, bad weights) is a
``LeagueError``; each class also subclasses the builtin it most resembles, so
``except OSError`` or ``except ValueError`` still catches it.  The command line
turns any ``LeagueError`` (and ``envs.GameError``) into a one-line message and a
non-zero exit, without a traceback.

    LeagueError
    ├── ConfigError            (ValueError)   malformed config file, unknown key, bad value
    ├── UnknownNameError       (KeyError)     unknown registry name (scheme, rule, ...)
    ├── PoolError              (OSError)      anything about the on-disk pool
    │   ├── PoolNotFoundError  (FileNotFoundError)
    │   ├── PoolExistsError    (FileExistsError)
    │   ├── PoolLockedError                   a second writer tried to open the pool
    │   ├── PoolCorruptError                  truncated or corrupt index.h5 or weights file
    │   │   └── WeightsCorruptError               a weights file's content differs from its digest
    │   ├── PoolWriteError                    a write failed (disk full, I/O error); nothing committed
    │   ├── PoolVersionError                  pool written by a newer schema version
    │   ├── PoolReadOnlyError                 write attempted on a pool opened with mode="r"
    │   └── MissingWeightsError (FileNotFoundError) weights file of a member is gone
    ├── UnknownRoleError       (KeyError)     role not declared when the pool was created
    ├── UnknownMemberError     (KeyError)     no member with that id
    ├── SpecError              (ValueError)   a network spec that cannot be built
    ├── WeightsShapeError      (ValueError)   weights do not fit the spec
    ├── WorkerLostError        (RuntimeError) a Ray process died with work that cannot be retried
    └── ResumeMismatchError    (ValueError)   a resumed step would not redo what its log holds
"""

from __future__ import annotations

__all__ = [
    "LeagueError",
    "ConfigError",
    "UnknownNameError",
    "PoolError",
    "PoolNotFoundError",
    "PoolExistsError",
    "PoolLockedError",
    "PoolCorruptError",
    "WeightsCorruptError",
    "PoolWriteError",
    "PoolVersionError",
    "PoolReadOnlyError",
    "MissingWeightsError",
    "UnknownRoleError",
    "UnknownMemberError",
    "SpecError",
    "WeightsShapeError",
    "WorkerLostError",
    "ResumeMismatchError",
]


class LeagueError(Exception):
    """Base of every error the league raises on purpose."""

    def __str__(self) -> str:  # KeyError quotes its message; keep ours readable
        return str(self.args[0]) if self.args else self.__class__.__name__


class ConfigError(LeagueError, ValueError):
    """A config file or override is malformed, names an unknown key, or has a bad value."""


class UnknownNameError(LeagueError, KeyError):
    """A registry lookup (sampling scheme, pruning rule, ...) got an unknown name."""


class PoolError(LeagueError, OSError):
    """Something is wrong with the on-disk pool."""


class PoolNotFoundError(PoolError, FileNotFoundError):
    """No pool at the given path."""


class PoolExistsError(PoolError, FileExistsError):
    """``Pool.create`` was pointed at a directory that already holds a pool."""


class PoolLockedError(PoolError):
    """Another process holds the pool open for writing."""


class PoolCorruptError(PoolError):
    """``index.h5`` is truncated, corrupt, or not a pool index."""


class WeightsCorruptError(PoolCorruptError):
    """A member's weights file does not have the content digest recorded when it was added
    (bit rot, truncation, an overwrite); its tensors are never handed out.

    ``member_id``, ``path``, ``expected`` (the recorded digest) and ``actual`` name the damage.
    """

    def __init__(self, message: str, *, member_id: int, path: object, expected: str, actual: str) -> None:
        super().__init__(message)
        self.member_id, self.path, self.expected, self.actual = member_id, path, expected, actual

    def __reduce__(self) -> tuple[object, ...]:  # picklable (Ray ships errors between processes)
        return (_rebuild_weights_corrupt, (self.args[0], self.member_id, self.path, self.expected, self.actual))


def _rebuild_weights_corrupt(message: str, member_id: int, path: object, expected: str,
                             actual: str) -> WeightsCorruptError:
    return WeightsCorruptError(message, member_id=member_id, path=path, expected=expected, actual=actual)


class PoolWriteError(PoolError):
    """A write to the pool failed (``ENOSPC``: disk full, ``EIO``, ...); nothing of that call was
    committed, and the pool on disk is as it was before it.  ``errno`` is the failed write's."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno

    def __reduce__(self) -> tuple[object, ...]:
        return (PoolWriteError, (self.args[0], self.errno))


class PoolVersionError(PoolError):
    """The pool was written by a newer version of league."""


class PoolReadOnlyError(PoolError):
    """A write was attempted on a pool opened read-only."""


class MissingWeightsError(PoolError, FileNotFoundError):
    """A member's weights file is missing (deleted, or the pool was copied partially)."""


class UnknownRoleError(LeagueError, KeyError):
    """The role was not declared when the pool was created."""


class UnknownMemberError(LeagueError, KeyError):
    """No member has that id."""


class SpecError(LeagueError, ValueError):
    """A network spec is missing fields or names an unknown kind."""


class WeightsShapeError(LeagueError, ValueError):
    """Weights do not match the shapes the spec implies."""


class WorkerLostError(LeagueError, RuntimeError):
    """A Ray process of the run died and its work cannot simply be retried: a worker holding an
    env shard (the turn starts again), or a process that died more often than it is restarted."""


class ResumeMismatchError(LeagueError, ValueError):
    """A resumed step replays what the pool logged of it and would choose differently (its
    settings changed since, or the state it started from was not restored)."""
