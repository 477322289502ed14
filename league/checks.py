"""Range checks for config values and arguments: one rule for what counts as a number, and one
place for the messages, which name the key, the bad value and what would be accepted.

Three message forms are in use, and tests and users match each, so they are kept apart:

``EXPECTED``  ``sampling.p = 0.0: expected a finite number > 0.0`` (config sections and keys)
``INVALID``   ``PPOConfig.lr = -1.0 is invalid; expected a positive finite float`` (component
              configs that are usually built in code)
``ARGUMENT``  ``budget must be an integer >= 0, got -1`` (a function's argument; a ValueError)
"""

from __future__ import annotations

import math
import numbers

from league.errors import ConfigError

__all__ = ["EXPECTED", "INVALID", "ARGUMENT", "bad_value", "check_range"]

EXPECTED = "{key} = {value!r}: expected {accepted}"
"""Message form of config sections and keys."""
INVALID = "{key} = {value!r} is invalid; expected {accepted}"
"""Message form of component configs (``PPOConfig``, ``StopRules``, ...)."""
ARGUMENT = "{key} must be {accepted}, got {value!r}"
"""Message form of a function's argument."""


def bad_value(key: str, value: object, accepted: str, *, form: str = EXPECTED,
              error: type[Exception] = ConfigError) -> Exception:
    """The error (to raise) for ``key = value`` when ``accepted`` says what would do."""
    return error(form.format(key=key, value=value, accepted=accepted))


def check_range(key: str, value: object, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False, integer: bool = False,
                finite: bool = True, optional: bool = False, accepted: str | None = None,
                form: str = EXPECTED, error: type[Exception] = ConfigError) -> None:
    """Raise ``error`` naming ``key`` unless ``value`` is a number within the bounds.

    A number is a real (an integral one with ``integer``) and never a bool, which Python counts
    as an int but no config means; NaN never passes, infinities only with ``finite=False``.
    ``low``/``high`` are inclusive unless ``low_open``/``high_open``; ``optional`` lets None
    through.  ``accepted`` replaces the generated description ("an integer >= 1", "a finite
    number > 0.0 and <= 1.0") where a caller's message has its own words.
    """
    if optional and value is None:
        return
    if _in_range(value, low, high, low_open, high_open, integer, finite):
        return
    if accepted is None:
        accepted = _describe(low, high, low_open, high_open, integer, finite, optional)
    raise bad_value(key, value, accepted, form=form, error=error)


def _in_range(value: object, low: float | None, high: float | None, low_open: bool, high_open: bool,
              integer: bool, finite: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral if integer else numbers.Real):
        return False
    if math.isnan(value) or (finite and math.isinf(value)):
        return False
    if low is not None and (value < low or (low_open and value == low)):
        return False
    return high is None or not (value > high or (high_open and value == high))


def _describe(low: float | None, high: float | None, low_open: bool, high_open: bool, integer: bool,
              finite: bool, optional: bool) -> str:
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '<='} {high}")
    what = "an integer" if integer else "a finite number" if finite else "a number"
    text = " ".join([what, " and ".join(bounds)]).strip()
    return f"None or {text}" if optional else text
