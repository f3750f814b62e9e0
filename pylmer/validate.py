"""Argument checks shared by the entry points: a wrong type or value is a clear error
naming the argument, never a silent coercion (``REML="no"`` is not a truthy string)."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from .exceptions import PylmerError

__all__ = ["check_bool", "check_choice", "check_control", "check_count"]


def check_bool(value: object, name: str) -> bool:
    """A ``True`` / ``False`` argument (numpy booleans too)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")


def check_count(value: object, name: str, minimum: int = 0) -> int:
    """A whole number >= ``minimum`` (bools are not numbers here)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number, got {value!r} "
                        f"({type(value).__name__})")
    if value < minimum:
        raise PylmerError(f"{name} must be {minimum} or more, got {value}")
    return int(value)


def check_choice(value: object, name: str, choices: Iterable[str]) -> str:
    """One of a fixed set of strings."""
    options = tuple(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {', '.join(map(repr, options))}, got "
                        f"{value!r} ({type(value).__name__})")
    if value not in options:
        raise PylmerError(f"{name}={value!r}: use one of {', '.join(map(repr, options))}")
    return value


def check_control(control: object, expected: type, function: str):
    """``control`` of exactly the class the function takes (``lmer`` takes LmerControl,
    ``glmer`` GlmerControl: their defaults differ, as lme4's do)."""
    if control is None:
        return expected()
    if type(control) is not expected:
        raise TypeError(f"{function}(control=...) takes a {expected.__name__}(), got "
                        f"{type(control).__name__}")
    return control
