"""One formula for many responses: the checked arguments, the responses as one matrix, and
the model of any subset of rows.

The formula's left side names a placeholder (``y ~ Disease + (1 | Individual)``), or the
formula is one-sided (``~ Disease + (1 | Individual)``, as variancePartition writes it).
Each response takes the placeholder's place in a copy of the data, never in the caller's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..control import GlmerControl, LmerControl
from ..exceptions import PylmerError
from ..family import get_family
from ..formula.bars import parse_mixed_formula
from ..formula.frame import as_pandas
from ..formula.rexpr import Name, parse, variables
from ..lformula import LFormula, glFormula, lFormula
from ..validate import check_bool, check_control

__all__ = ["ManySpec", "as_response_matrix", "make_spec", "unusable_messages"]

# Responses per block: the unit of threads, of a cluster's tasks and of progress updates.
# Each block is fitted on its own, so a response's numbers do not depend on how the work
# is split. An LMM block is one batch search (about 0.1 ms a response); a GLMM fits its
# responses one by one (milliseconds each).
LMM_BLOCK = 512
GLMM_BLOCK = 64


@dataclass(frozen=True)
class ManySpec:
    """What every response's model shares: the formula (left side a placeholder column),
    the data, and lFormula's (or, with a family, glFormula's) arguments."""

    formula: str
    placeholder: str
    data: pd.DataFrame = field(repr=False)
    REML: bool = True
    weights: object = field(default=None, repr=False)
    offset: object = field(default=None, repr=False)
    contrasts: Mapping[str, str] | None = None
    control: LmerControl | GlmerControl | None = None
    family: object = None
    nAGQ: int = 1
    warm_start: bool = False

    @property
    def block(self) -> int:
        """Responses per block (see ``LMM_BLOCK``)."""
        return LMM_BLOCK if self.family is None else GLMM_BLOCK

    def blocks(self, m: int) -> list[np.ndarray]:
        """The positions of m responses in blocks of :attr:`block`."""
        return [np.arange(s, min(s + self.block, m)) for s in range(0, m, self.block)]

    def lformula(self, y: np.ndarray | None = None, rows: np.ndarray | None = None
                 ) -> LFormula:
        """The model on ``rows`` of the data (all rows by default), with y as the response
        (by default the row numbers: any non-constant column, for the shared structure;
        a GLMM needs a response its family accepts)."""
        data = self.data if rows is None else self.data.iloc[rows]
        if y is None:
            y = np.arange(len(data), dtype=float)
        elif rows is not None and len(y) == len(self.data):
            y = np.asarray(y)[rows]
        frame = data.copy(deep=False)  # a new frame: the caller's data is not touched
        frame[self.placeholder] = np.asarray(y, dtype=float)
        weights, offset = self.weights, self.offset
        if rows is not None:  # per-row vectors follow the rows; names stay names
            weights = _take(weights, rows)
            offset = _take(offset, rows)
        if self.family is not None:
            return glFormula(self.formula, frame, family=self.family, weights=weights,
                             offset=offset, control=self.control, contrasts=self.contrasts)
        return lFormula(self.formula, frame, REML=self.REML, weights=weights, offset=offset,
                        control=self.control, contrasts=self.contrasts)


def _take(value, rows):
    if value is None or isinstance(value, str):
        return value
    return np.asarray(value)[rows]


def _placeholder_only_on_the_left(formula: str, placeholder: str, weights, offset) -> None:
    """The placeholder stands for each response: anywhere else it would be a column that
    does not exist (or a data column that is not the response)."""
    rhs = parse(formula).right
    for where, node in (("the right side of the formula", rhs),
                        ("weights", parse(weights) if isinstance(weights, str) else None),
                        ("offset", parse(offset) if isinstance(offset, str) else None)):
        if node is not None and placeholder in variables(node):
            raise PylmerError(
                f"{placeholder!r} names each response (the formula's left side), so it "
                f"cannot also appear in {where}: use another name for the placeholder, "
                f"e.g. '~ ...' (one-sided) or 'response ~ ...'")


def make_spec(formula: str, data, REML, weights, offset, contrasts, control, family=None,
              nAGQ: int = 1, warm_start: bool = False) -> ManySpec:
    """Check the arguments shared by every response; find or make the placeholder."""
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string such as 'y ~ x + (1 | g)', got "
                        f"{type(formula).__name__}")
    data = as_pandas(data)
    REML = check_bool(REML, "REML")
    if family is None:
        control = check_control(control, LmerControl, "lmer_many")
    else:
        control = check_control(control, GlmerControl, "glmer_many") or GlmerControl()
        family = get_family(family)
        if family.family == "gaussian" and family.link.name == "identity":
            raise PylmerError("a gaussian GLMM with the identity link is a linear mixed "
                              "model: use lmer_many (glmer's shortcut to lmer is deprecated)")
        if family.family == "cumulative":
            raise PylmerError("glmer_many fits binary, count and continuous GLMM responses; "
                              "an ordinal response is clmm's (fit each with clmm)")
    parsed = parse_mixed_formula(formula)
    if parsed.response is None:  # one-sided: a name that is not a column
        placeholder, used = "y", set(variables(parse(formula)))
        while placeholder in data.columns or placeholder in used:
            placeholder += "_"
        formula = f"{placeholder} {formula.strip()}"
    elif isinstance(parsed.response, Name):
        placeholder = parsed.response.id
        _placeholder_only_on_the_left(formula, placeholder, weights, offset)
    else:
        raise PylmerError(
            f"the left side of {formula!r} must be a plain name standing for each response "
            "(e.g. 'y ~ x + (1 | g)') or be left out ('~ x + (1 | g)'); transform the "
            "responses themselves (e.g. np.log(responses)) before passing them")
    return ManySpec(formula, placeholder, data, REML, weights, offset, contrasts, control,
                    family, nAGQ, check_bool(warm_start, "warm_start"))


def as_response_matrix(responses, n: int, index, names=None) -> tuple[np.ndarray, list[str],
                                                                     dict[str, str]]:
    """The responses as an (n, m) float matrix, their names, and why any column is unusable
    (those columns are all NaN in the matrix).

    Rows are matched to the data's rows: an array by position; a pandas object by its
    index where it holds the data's labels (in any order, as pandas aligns), else by
    position when its index is the default 0, 1, ..."""
    if isinstance(responses, pd.Series):
        responses = responses.to_frame(name=responses.name if responses.name is not None
                                       else "y1")
    if isinstance(responses, np.ndarray) or (
            not hasattr(responses, "columns") and not isinstance(responses, Mapping)):
        frame = _array_frame(responses, n, names)
    else:
        if names is not None:
            raise PylmerError("names= is for a 2-D array of responses; a DataFrame's columns "
                              "are its names")
        try:
            frame = as_pandas(responses)
        except PylmerError as err:
            raise type(err)(f"responses: {err}") from None
        frame = _aligned(frame, n, index)
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        dup = sorted({c for c in names if names.count(c) > 1})
        raise PylmerError(f"response names must be distinct; repeated: {', '.join(dup[:5])}")
    unusable: dict[str, str] = {}
    # numbers (booleans as 0 / 1, as R's logical responses) in one conversion
    kinds = [np.dtype(dt).kind if isinstance(dt, np.dtype) else "" for dt in frame.dtypes]
    numeric = np.array([pd.api.types.is_numeric_dtype(dt) and kind != "c"
                        for dt, kind in zip(frame.dtypes, kinds)], dtype=bool)
    for j in np.flatnonzero(~numeric):
        what = "complex numbers" if kinds[j] == "c" else f"dtype {frame.dtypes.iloc[j]}"
        unusable[names[j]] = f"not numeric ({what})"
    Y = np.full((n, len(names)), np.nan)
    if numeric.any():
        Y[:, numeric] = frame.iloc[:, np.flatnonzero(numeric)].to_numpy(
            dtype=float, na_value=np.nan, copy=True)
    for j in np.flatnonzero(np.isinf(Y).any(axis=0)):
        unusable[names[j]] = "infinite values"
        Y[:, j] = np.nan
    return Y, names, unusable


def _array_frame(responses, n: int, names) -> pd.DataFrame:
    """A 1-D or 2-D array of responses as a DataFrame (rows by position)."""
    arr = np.asarray(responses)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise PylmerError(f"responses must be a DataFrame or a 2-D array (one column per "
                          f"response), got an array of shape {arr.shape}")
    if arr.shape[0] != n:
        raise PylmerError(f"responses has {arr.shape[0]} rows but data has {n}: row i of "
                          "the responses must be row i of the data")
    if arr.shape[1] == 0:
        raise PylmerError("responses has no columns: give one column per response")
    if names is None:
        names = [f"y{j + 1}" for j in range(arr.shape[1])]
    elif isinstance(names, str) or not hasattr(names, "__len__"):
        raise TypeError(f"names must be a list of {arr.shape[1]} names, one per column of "
                        f"responses, got {type(names).__name__}")
    elif len(names) != arr.shape[1]:
        raise PylmerError(f"names has {len(names)} names for {arr.shape[1]} columns of "
                          "responses")
    elif any(nm is None or (isinstance(nm, float) and np.isnan(nm)) for nm in names):
        raise PylmerError("names must not hold None or NaN: give every response a name")
    return pd.DataFrame(arr, columns=list(names))


def _aligned(frame: pd.DataFrame, n: int, index) -> pd.DataFrame:
    """A DataFrame of responses with its rows in the data's order."""
    if frame.shape[1] == 0:
        raise PylmerError("responses has no columns: give one column per response")
    if len(frame) != n:
        raise PylmerError(f"responses has {len(frame)} rows but data has {n}: row i of the "
                          "responses must be row i of the data")
    if frame.index.equals(index):
        return frame
    same_labels = (frame.index.is_unique and pd.Index(index).is_unique
                   and frame.index.sort_values().equals(pd.Index(index).sort_values()))
    if same_labels:  # the data's rows in another order: align them, as pandas does
        return frame.reindex(index)
    if frame.index.equals(pd.RangeIndex(n)):
        return frame  # default row numbers: by position
    if not (frame.index.is_unique and pd.Index(index).is_unique):
        raise PylmerError("responses and data have different indexes with repeated labels, "
                          "so their rows cannot be matched: reset both indexes "
                          "(.reset_index(drop=True)) with the rows in the same order")
    raise PylmerError("the responses' index does not match the data's: their rows "
                      "must be the data's rows (reset both indexes, or align them)")


def unusable_messages(names: list, unusable: dict) -> list[list[str]]:
    """Each response's messages to start with: why it is not fitted, where it is not."""
    return [[f"not fitted: {unusable[name]}"] if name in unusable else [] for name in names]
