"""The one evaluator of formula expressions: pylmer's R interpreter for model columns.

Every expression a formula or an argument holds (the response, ``cbind()``, the fixed
part's variables, random-term left sides, ``offset()``, ``weights=`` and ``offset=``)
is evaluated here, by walking pylmer's own syntax tree (:mod:`.rexpr`) over the data's
columns, R's operators and the whitelisted functions of :mod:`.functions`. No user text
ever reaches Python's ``eval``, ``exec`` or ``compile``: a name is a data column or one of
R's constants, a call is a whitelisted function or an error naming it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..exceptions import FormulaError
from .functions import FUNCTIONS as BASE_FUNCTIONS
from .functions import CallContext, RFunction, recycle
from .rexpr import BinOp, Call, Name, Node, Num, Paren, Str, UnaryOp, deparse, variables
from .rvalue import RVector, as_character, character, double, from_column, logical
from .transforms import TRANSFORMS

__all__ = ["CONSTANTS", "CONTRASTS", "Evaluator", "data_names", "supported_functions"]

# every function a formula may call: the element-wise ones and the transforms of a column
FUNCTIONS: dict[str, RFunction] = {**BASE_FUNCTIONS, **TRANSFORMS}

CONSTANTS: dict[str, RVector] = {
    "TRUE": logical([1.0]), "FALSE": logical([0.0]), "T": logical([1.0]),
    "F": logical([0.0]), "NA": logical([np.nan]), "pi": double([np.pi]),
    "Inf": double([np.inf]), "NaN": double([np.nan]),
}

# R's contrast functions, for C(f, contr.sum) and contrasts = list(f = "contr.sum")
CONTRASTS = ("contr.treatment", "contr.sum", "contr.helmert", "contr.poly", "contr.SAS")

# C(f, sum) is C(f, contr.sum), as in R
_SHORT_CONTRASTS = {"treatment": "contr.treatment", "sum": "contr.sum",
                    "helmert": "contr.helmert", "poly": "contr.poly", "SAS": "contr.SAS"}

_NOT_R = {
    "center": "center() is not an R function; write scale(x, scale = FALSE)",
    "offset": "offset() is a term of its own: write it at the top level, + offset(x)",
}


def supported_functions() -> list[str]:
    """Names of the R functions a formula may call."""
    return sorted(FUNCTIONS) + ["C"]


def _unknown_function(name: str, where: str) -> FormulaError:
    if name in _NOT_R:
        return FormulaError(f"{_NOT_R[name]} (in {where!r})")
    return FormulaError(
        f"function {name}() in {where!r} is not supported; pylmer evaluates formulas with "
        "its own whitelist of R functions (see docs/formula.md): "
        + ", ".join(supported_functions()))


def data_names(node: Node) -> list[str]:
    """The data columns an expression names, in order, once each (R's constants
    excluded)."""
    return [name for name in variables(node) if name not in CONSTANTS]


# --------------------------------------------------------------------------- operators

def _arith(op: Callable, integer_ok: bool) -> Callable:
    def apply(a: RVector, b: RVector, text: str) -> RVector:
        x, y = a.numbers(f"the left side of {text!r}"), b.numbers(f"the right side of {text!r}")
        with np.errstate(all="ignore"):
            out = op(x, y)
        kind = "integer" if integer_ok and {a.kind, b.kind} <= {"integer", "logical"} \
            else "double"
        return RVector(kind, np.asarray(out, dtype=float))
    return apply


def _compare(op: Callable) -> Callable:
    def apply(a: RVector, b: RVector, text: str) -> RVector:
        if a.kind in ("character", "factor") or b.kind in ("character", "factor"):
            if op not in (np.equal, np.not_equal):
                raise FormulaError(f"{text!r}: only == and != compare text or factor levels")
            x, y = np.broadcast_arrays(as_character(a), as_character(b))
            missing = pd.isna(x) | pd.isna(y)
            out = op(x.astype(str), y.astype(str)).astype(float)
            return logical(np.where(missing, np.nan, out))
        x, y = a.numbers(repr(text)), b.numbers(repr(text))
        with np.errstate(all="ignore"):
            out = op(x, y).astype(float)
        return logical(np.where(np.isnan(x) | np.isnan(y), np.nan, out))
    return apply


def _and(a: RVector, b: RVector, text: str) -> RVector:
    x, y = a.numbers(repr(text)), b.numbers(repr(text))
    false = ((x == 0) & ~np.isnan(x)) | ((y == 0) & ~np.isnan(y))
    return logical(np.where(false, 0.0, np.where(np.isnan(x) | np.isnan(y), np.nan, 1.0)))


def _or(a: RVector, b: RVector, text: str) -> RVector:
    x, y = a.numbers(repr(text)), b.numbers(repr(text))
    true = ((x != 0) & ~np.isnan(x)) | ((y != 0) & ~np.isnan(y))
    return logical(np.where(true, 1.0, np.where(np.isnan(x) | np.isnan(y), np.nan, 0.0)))


def _in(a: RVector, b: RVector, text: str) -> RVector:
    if a.kind in ("character", "factor") or b.kind in ("character", "factor"):
        table = list(as_character(b))
        return logical(pd.Series(as_character(a), dtype=object).isin(table).to_numpy(float))
    table = b.numbers(repr(text))
    x = a.numbers(repr(text))
    hit = np.isin(x, table)
    if np.isnan(table).any():
        hit |= np.isnan(x)
    return logical(hit.astype(float))


_BINARY: dict[str, Callable] = {
    "+": _arith(np.add, True), "-": _arith(np.subtract, True),
    "*": _arith(np.multiply, True), "/": _arith(np.true_divide, False),
    "^": _arith(np.power, False), "%%": _arith(np.mod, True),
    "%/%": _arith(np.floor_divide, True),
    "==": _compare(np.equal), "!=": _compare(np.not_equal), "<": _compare(np.less),
    ">": _compare(np.greater), "<=": _compare(np.less_equal),
    ">=": _compare(np.greater_equal),
    "&": _and, "&&": _and, "|": _or, "||": _or, "%in%": _in,
}


def _sequence(a: RVector, b: RVector, text: str) -> RVector:
    """R's ``from:to`` of two numbers (``0:4/4``); a model column cannot be a sequence."""
    if len(a) != 1 or len(b) != 1 or not (a.is_numeric and b.is_numeric):
        raise FormulaError(
            f"':' inside a function call ({text!r}) is R's sequence operator of two numbers; "
            "for the interaction of two factors write interaction(a, b), or a:b outside "
            "the call")
        
    lo, hi = float(a.values[0]), float(b.values[0])
    if not (np.isfinite(lo) and np.isfinite(hi)) or abs(hi - lo) > 1e6:
        raise FormulaError(f"{text!r}: a sequence needs two finite numbers at most 1e6 apart")
    step = 1.0 if hi >= lo else -1.0
    values = lo + step * np.arange(int(np.floor(abs(hi - lo) + 1e-10)) + 1)
    kind = "integer" if lo == int(lo) else "double"
    return RVector(kind, values)


# --------------------------------------------------------------------------- calls

def _python_name(formal: str) -> str:
    return formal.replace(".", "_")


_REQUIRED: dict[str, int] = {}


def _required(fn: RFunction) -> int:
    if fn.name not in _REQUIRED:
        sig = inspect.signature(fn.impl)
        _REQUIRED[fn.name] = sum(
            1 for p in list(sig.parameters.values())[1:]
            if p.default is inspect.Parameter.empty and p.kind == p.POSITIONAL_OR_KEYWORD)
    return _REQUIRED[fn.name]


def _bind(fn: RFunction, args: list[RVector], kwargs: list[tuple[str, RVector]],
          where: str) -> tuple[list[RVector], dict[str, RVector]]:
    """R's argument matching: exact names, then unique prefixes of the formals before
    ``...``, then positions."""
    formals = list(fn.params)
    before_dots = formals[: formals.index("...")] if "..." in formals else formals
    bound: dict[str, RVector] = {}
    for name, value in kwargs:
        if name in formals and name != "...":
            match = name
        else:
            prefix = [f for f in before_dots if f.startswith(name)]
            if len(prefix) != 1:
                shown = ", ".join(f for f in formals)
                raise FormulaError(f"{fn.name}() in {where!r} has no argument {name!r}; its "
                                   f"arguments are: {shown}")
            match = prefix[0]
        if match in bound:
            raise FormulaError(f"argument {match!r} of {fn.name}() is given twice in {where!r}")
        bound[match] = value
    dots: list[RVector] = []
    free = [f for f in before_dots if f not in bound]
    for value in args:
        if free:
            bound[free.pop(0)] = value
        elif "..." in formals:
            dots.append(value)
        else:
            raise FormulaError(f"{fn.name}() in {where!r} takes at most {len(before_dots)} "
                               "arguments")
    need = _required(fn)
    missing = [f for f in before_dots[:need] if f not in bound]
    if missing:
        raise FormulaError(f"{fn.name}() in {where!r} needs its argument {missing[0]!r}")
    if "..." not in formals:
        return [], {_python_name(k): v for k, v in bound.items()}
    # formals before ... go by position, then the dots; those after ... by name
    leading = [bound.pop(f, None) for f in before_dots]
    return leading + dots, {_python_name(k): v for k, v in bound.items()}


class Evaluator:
    """Evaluates expressions on one data frame.

    Parameters
    ----------
    data : pandas.DataFrame
        The columns names refer to (never modified).
    state : dict, optional
        The stateful transforms' training values, keyed by call text. On the training data
        (``train=True``) they are recorded into it; on new data they are reused.
    train : bool
        Whether ``data`` is the data the model is fitted to.
    """

    def __init__(self, data: pd.DataFrame, state: dict | None = None, train: bool = True):
        self.data = data
        self.n = len(data)
        self.state = {} if state is None else state
        self.train = train
        self._columns: dict[str, RVector] = {}
        self._where = ""  # the expression being evaluated, for error messages

    def column(self, name: str) -> RVector:
        if name not in self._columns:
            if name in self.data.columns:
                column = self.data[name]
                if isinstance(column, pd.DataFrame):
                    raise FormulaError(f"the data has more than one column named {name!r}; "
                                       "give the columns distinct names")
                self._columns[name] = from_column(column, name)
            elif name in CONSTANTS:
                return CONSTANTS[name]
            else:
                shown = ", ".join(map(str, list(self.data.columns)[:20]))
                more = " ..." if len(self.data.columns) > 20 else ""
                where = f" in {self._where!r}" if self._where else ""
                raise FormulaError(f"unknown column {name!r}{where}; the data has columns: "
                                   f"{shown}{more}")
        return self._columns[name]

    def evaluate(self, node: Node) -> RVector:
        """The value of ``node``: length 1 (a constant) or the number of rows."""
        self._where = deparse(node)
        value = self._eval(node)
        if len(value) not in (1, self.n):
            raise FormulaError(f"{self._where!r} has {len(value)} values for {self.n} rows")
        return value

    def _eval(self, node: Node) -> RVector:
        if isinstance(node, Name):
            return self.column(node.id)
        if isinstance(node, Num):
            return double([float(node.text)])
        if isinstance(node, Str):
            return character([node.value])
        if isinstance(node, Paren):
            return self._eval(node.inner)
        if isinstance(node, UnaryOp):
            return self._unary(node)
        if isinstance(node, BinOp):
            return self._binary(node)
        if isinstance(node, Call):
            return self._call(node)
        raise FormulaError(f"cannot evaluate {deparse(node)!r}")

    def _unary(self, node: UnaryOp) -> RVector:
        value = self._eval(node.operand)
        text = deparse(node)
        if node.op == "-":
            x = value.numbers(repr(text))
            return RVector("integer" if value.kind in ("integer", "logical") else "double",
                           -x, colnames=value.colnames)
        if node.op == "+":
            value.numbers(repr(text))
            return value
        if node.op == "!":
            x = value.numbers(repr(text))
            return logical(np.where(np.isnan(x), np.nan, (x == 0).astype(float)))
        raise FormulaError(f"{node.op!r} cannot be used inside an expression ({text!r})")

    def _binary(self, node: BinOp) -> RVector:
        text = deparse(node)
        if node.op not in _BINARY and node.op != ":":
            raise FormulaError(f"operator {node.op!r} cannot be used inside an expression "
                               f"({text!r})")
        left, right = self._eval(node.left), self._eval(node.right)
        if node.op == ":":
            return _sequence(left, right, text)
        if node.op != "%in%":  # x %in% table: the table has any length
            recycle([left, right], text)
        return _BINARY[node.op](left, right, text)

    def _call(self, node: Call) -> RVector:
        text = deparse(node)
        if node.fn == "C":
            return self._contrasts(node, text)
        fn = FUNCTIONS.get(node.fn)
        if fn is None:
            raise _unknown_function(node.fn, text)
        args = [self._eval(a) for a in node.args]
        kwargs = [(k, self._eval(v)) for k, v in node.kwargs]
        dots, named = _bind(fn, args, kwargs, text)
        context = CallContext(text, self.state, self.train, self.n)
        value = fn.impl(context, *dots, **named)
        if node.fn == "cbind" and any(isinstance(a, Name) for a in node.args):
            # R's deparse.level = 1: a column is named by its argument when that is a name
            names = tuple(a.id if isinstance(a, Name) else "" for a in node.args)
            value = RVector(value.kind, value.values, colnames=names)
        return value

    def _contrasts(self, node: Call, text: str) -> RVector:
        """``C(f, contr.sum)``, ``C(f, "contr.helmert")``, ``C(f, contr.treatment, base =
        2)``, ``C(f, contr.treatment(base = 2))``: the factor with its contrasts set."""
        if len(node.args) < 1:
            raise FormulaError(f"C() in {text!r} needs a factor and contrasts")
        values = self._eval(node.args[0])
        if values.kind == "logical":
            raise FormulaError(f"C() in {text!r}: object not interpretable as a factor; "
                               "write C(factor(x), ...)")
        if values.kind != "factor":
            values = FUNCTIONS["as.factor"].impl(
                CallContext(text, self.state, self.train, self.n), values)
        rest = list(node.args[1:])
        options = dict(node.kwargs)
        contr = options.pop("contr", rest.pop(0) if rest else None)
        how_many = options.pop("how.many", rest.pop(0) if rest else None)
        extra: dict[str, float] = {}
        if isinstance(contr, Call):
            if contr.args[1:] or (contr.args and not isinstance(contr.args[0], Num)):
                raise FormulaError(f"C() in {text!r}: give {contr.fn}'s options by name, as "
                                   f"{contr.fn}(base = 2)")
            options.update(dict(contr.kwargs))
            contr = Name(contr.fn)
        name = contr.id if isinstance(contr, Name) else contr.value if isinstance(contr, Str) \
            else None
        name = _SHORT_CONTRASTS.get(name, name)
        if name not in CONTRASTS:
            raise FormulaError(f"C() in {text!r}: contrasts must be one of "
                               + ", ".join(CONTRASTS))
        for key, value in options.items():
            if key != "base" or name != "contr.treatment":
                raise FormulaError(f"C() in {text!r}: unsupported option {key!r}")
            extra[key] = float(self._eval(value).numbers("base")[0])
        count = None
        if how_many is not None:
            count = int(self._eval(how_many).numbers("how.many")[0])
        return RVector("factor", values.values, values.levels, values.ordered,
                       contrasts=(name, tuple(sorted(extra.items())), count))
