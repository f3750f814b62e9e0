"""Evaluate the R expressions that formulaic does not see: responses and offsets.

``cbind(incidence, size - incidence)``, ``log(exposure)``, ``I(y / 100)`` are evaluated
column-wise on the model frame with R's arithmetic. Only arithmetic, comparisons and a
fixed set of numeric functions are allowed; anything else is an error naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from .rexpr import BinOp, Call, Name, Node, Num, Paren, Str, UnaryOp, deparse

__all__ = ["CONSTANTS", "FUNCTIONS", "evaluate"]


def _log(x, base=None):
    return np.log(x) if base is None else np.log(x) / np.log(base)


FUNCTIONS: Mapping[str, Callable] = {
    "log": _log, "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs, "log10": np.log10,
    "log2": np.log2, "log1p": np.log1p, "expm1": np.expm1, "sin": np.sin, "cos": np.cos,
    "tan": np.tan, "round": np.round, "floor": np.floor, "ceiling": np.ceil,
    "I": lambda x: x, "as.numeric": lambda x: np.asarray(x, dtype=float),
    "pmin": np.minimum, "pmax": np.maximum,
}

CONSTANTS: Mapping[str, object] = {
    "TRUE": True, "FALSE": False, "T": True, "F": False, "pi": np.pi, "Inf": np.inf,
}

_BINARY: Mapping[str, Callable] = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide,
    "^": np.power, "%%": np.mod, "%/%": np.floor_divide,
    "==": np.equal, "!=": np.not_equal, "<": np.less, ">": np.greater,
    "<=": np.less_equal, ">=": np.greater_equal, "&": np.logical_and, "|": np.logical_or,
}


def _numeric(values: object, what: str) -> np.ndarray:
    if isinstance(values, pd.Series):
        if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object or \
                pd.api.types.is_string_dtype(values.dtype):
            raise TypeError(f"{what} is not numeric (it has type {values.dtype}); "
                            "arithmetic needs a numeric column")
        return values.to_numpy(dtype=float)
    return np.asarray(values, dtype=float)


def evaluate(node: Node, frame: pd.DataFrame) -> object:
    """Evaluate an R expression on the columns of ``frame``.

    A bare column name returns the column (a pandas Series, so factors stay factors);
    anything computed returns a float array; ``cbind(a, b)`` returns an (n, 2) array.
    """
    if isinstance(node, Name):
        if node.id in frame.columns:
            return frame[node.id]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise KeyError(node.id)
    if isinstance(node, Num):
        return float(node.text)
    if isinstance(node, Str):
        return node.value
    if isinstance(node, Paren):
        return evaluate(node.inner, frame)
    if isinstance(node, UnaryOp):
        value = _numeric(evaluate(node.operand, frame), deparse(node.operand))
        if node.op == "-":
            return -value
        if node.op == "!":
            return np.logical_not(value)
        return value
    if isinstance(node, BinOp):
        if node.op not in _BINARY:
            raise ValueError(f"operator {node.op!r} is not supported in {deparse(node)!r}")
        left = _numeric(evaluate(node.left, frame), deparse(node.left))
        right = _numeric(evaluate(node.right, frame), deparse(node.right))
        return _BINARY[node.op](left, right)
    if isinstance(node, Call):
        args = [evaluate(a, frame) for a in node.args]
        kwargs = {k: evaluate(v, frame) for k, v in node.kwargs}
        if node.fn == "cbind":
            if len(args) != 2 or kwargs:
                raise ValueError(f"cbind() in {deparse(node)!r} must have two columns: "
                                 "cbind(successes, failures)")
            cols = [_numeric(a, deparse(n)) for a, n in zip(args, node.args)]
            return np.column_stack(np.broadcast_arrays(*cols))
        if node.fn not in FUNCTIONS:
            raise ValueError(
                f"function {node.fn}() in {deparse(node)!r} is not supported here; "
                f"supported: {', '.join(sorted(FUNCTIONS))}"
            )
        if node.fn == "I" and len(args) == 1 and isinstance(args[0], pd.Series):
            return _numeric(args[0], deparse(node.args[0]))
        nums = [_numeric(a, deparse(n)) for a, n in zip(args, node.args)]
        with np.errstate(all="ignore"):
            return np.asarray(FUNCTIONS[node.fn](*nums, **kwargs), dtype=float)
    raise TypeError(f"cannot evaluate {node!r}")
