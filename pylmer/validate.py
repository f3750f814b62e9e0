"""Argument checks shared by the entry points: a wrong type or value is a clear error
naming the argument, never a silent coercion (``REML="no"`` is not a truthy string)."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping

import numpy as np

from .exceptions import PylmerError

__all__ = ["check_bool", "check_choice", "check_control", "check_count", "check_fraction",
           "check_model", "check_response", "check_seed", "check_start"]


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


def check_seed(seed: object, name: str = "seed"):
    """None, a whole number >= 0 or a numpy Generator (numpy's own rule, named)."""
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be a whole number >= 0, None or a numpy Generator, got "
                        f"{seed!r} ({type(seed).__name__})")
    if seed < 0:
        raise PylmerError(f"{name} must be 0 or more, got {seed}")
    return int(seed)


def check_fraction(value: object, name: str) -> float:
    """A number strictly between 0 and 1 (a confidence level)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number between 0 and 1, got {value!r} "
                        f"({type(value).__name__})")
    if not 0 < value < 1:
        raise PylmerError(f"{name} must be between 0 and 1 (exclusive), got {value}")
    return float(value)


def check_model(model: object, name: str = "model"):
    """A fitted model (what lmer or glmer returned)."""
    if not (hasattr(model, "lf") and hasattr(model, "fixef") and hasattr(model, "VarCorr")):
        raise TypeError(f"{name} must be a fitted model (what lmer() or glmer() returns), got "
                        f"{type(model).__name__}")
    return model


def check_response(values: object, n: int, name: str = "newresp") -> np.ndarray:
    """A new response for ``refit``: numbers, finite, one per row used (or two columns)."""
    try:
        y = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise PylmerError(f"{name} must be numbers, one per row of the model ({n})") from None
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise PylmerError(f"{name} has shape {y.shape}; the model has {n} rows")
    if not np.isfinite(y).all():
        raise PylmerError(f"{name} has missing or infinite values; give finite numbers")
    return y


def check_start(start: object, lower: np.ndarray, function: str,
                what: str = "theta") -> np.ndarray | None:
    """lme4's ``start``: None, ``{"theta": [...]}`` or a vector of ``what`` values (theta,
    or theta and beta for glmer's second stage), one per element of ``lower``, finite and
    not below it."""
    if isinstance(start, Mapping):
        unknown = set(start) - {"theta"}
        if unknown:
            raise PylmerError(f"start: unknown components {sorted(unknown)}; {function} takes "
                              "start={'theta': [...]} or a vector of theta values")
        start = start.get("theta")
    if start is None:
        return None
    try:
        values = np.asarray(start, dtype=float)
    except (TypeError, ValueError):
        raise PylmerError(f"start must be numbers ({what} values), got {start!r}") from None
    if values.shape != np.shape(lower):
        raise PylmerError(f"start must have {len(lower)} {what} values, got {values.size}")
    if not np.isfinite(values).all():
        raise PylmerError(f"start: x0 contains NA ({what} must be finite numbers)")
    if np.any(values < lower):
        raise PylmerError(f"start is below the lower bounds of {what} (0 for variances)")
    return values


def check_client(client: object) -> int:
    """A ``dask.distributed.Client``: the number of its workers (at least 1), or a clear
    error (distributed is imported only here, for ``client=``)."""
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - the extra is not installed
        raise PylmerError("client= needs dask.distributed: pip install 'pylmer[dask]'") \
            from exc
    if not isinstance(client, Client):
        raise TypeError(f"client must be a dask.distributed.Client (connected to a "
                        f"scheduler), got {type(client).__name__}")
    return max(1, len(client.scheduler_info().get("workers", {})))
