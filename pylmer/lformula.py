"""The first modular step: ``lFormula`` and ``glFormula``.

``lFormula(formula, data)`` parses an lme4 formula, builds the model frame, the
fixed-effects matrix ``X`` and the random-effects structure ``reTrms`` — the same
matrices, in the same order, as lme4's ``lFormula()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .control import GlmerControl, LmerControl
from .design.fixed import FixedDesign, fixed_design
from .design.random import ReTrms, mkReTrms
from .exceptions import PylmerError
from .family import get_family
from .formula.bars import MixedFormula, parse_mixed_formula
from .formula.frame import ModelFrame, as_pandas, model_frame
from .validate import check_bool, check_control

__all__ = ["clmFormula", "LFormula", "glFormula", "lFormula", "check_finite_response",
           "parse_model_formula"]


@dataclass(frozen=True)
class LFormula:
    """The parsed and evaluated model (R: the value of ``lFormula()``).

    Attributes
    ----------
    formula : MixedFormula
        The parsed formula (``||`` and ``/`` expanded).
    fr : ModelFrame
        The model frame: used rows, response, weights, offset.
    fixed : FixedDesign
        ``X``, its R column names, dropped columns and the recipe that codes new data.
    reTrms : ReTrms
        ``Zt``, ``Lambdat``, ``Lind``, ``theta``, ``lower``, ``Gp``, ``flist``, ``cnms``.
    REML : bool
        Whether the model is to be fitted by REML (lmer only).
    control : LmerControl or GlmerControl
        The control settings used for the checks.
    family : object or None
        The family given to ``glFormula`` (None for ``lFormula``).
    data_name : str or None
        The data's name, printed by summaries (``DataFrame.attrs["name"]``, which
        :func:`~pylmer.load_dataset` sets).
    call : dict
        The arguments it was built from (the data by reference, never modified), for
        ``update()``.
    """

    formula: MixedFormula
    fr: ModelFrame
    fixed: FixedDesign
    reTrms: ReTrms
    REML: bool
    control: LmerControl
    family: object = None
    data_name: str | None = None
    call: dict | None = field(default=None, repr=False, compare=False)

    @property
    def X(self) -> np.ndarray:
        """Fixed-effects model matrix, (n, p)."""
        return self.fixed.X

    @property
    def X_colnames(self) -> tuple[str, ...]:
        return self.fixed.colnames

    @property
    def y(self) -> np.ndarray:
        """The response: (n,), or (n, 2) for ``cbind(successes, failures)``."""
        return self.fr.response

    @property
    def weights(self) -> np.ndarray | None:
        return self.fr.weights

    @property
    def offset(self) -> np.ndarray | None:
        return self.fr.offset

    @property
    def rows(self) -> np.ndarray:
        """0-based positions, in the caller's data, of the rows used."""
        return self.fr.rows

    @property
    def n(self) -> int:
        return self.fr.n

    def model_matrix(self, newdata: object) -> np.ndarray:
        """The fixed-effects model matrix of new data, coded as X was (the training
        levels, contrasts and transforms' state; R: ``model.matrix(m, newdata)``)."""
        data = as_pandas(newdata)
        variables, _ = self.fr.new_data(data, self.fixed.labels)
        return self.fixed.model_matrix(variables, len(data))

    def X_frame(self) -> pd.DataFrame:
        """X as a DataFrame with R's column names and the data's row labels."""
        return pd.DataFrame(self.X, columns=list(self.X_colnames), index=self.fr.data.index)

    def __str__(self) -> str:
        rt = self.reTrms
        lines = [
            f"Formula: {self.formula}",
            f"Observations: {self.n}"
            + (f" ({self.fr.n_dropped} incomplete rows dropped)" if self.fr.n_dropped else ""),
            f"Response: {self.fr.response_name}",
            f"Fixed effects X: {self.X.shape[0]} x {self.X.shape[1]}: "
            + ", ".join(self.X_colnames),
        ]
        if self.fixed.dropped:
            lines.append("  dropped (rank deficient): " + ", ".join(self.fixed.dropped))
        lines.append(f"Random effects: Zt {rt.Zt.shape[0]} x {rt.Zt.shape[1]} "
                     f"({rt.Zt.nnz} non-zeros), {len(rt.theta)} theta parameters")
        for (grp, cols), nl in zip(rt.cnms, rt.nl):
            lines.append(f"  {grp:<12} {nl:>6} levels  columns: {', '.join(cols)}")
        lines.append("theta: " + ", ".join(rt.theta_names))
        return "\n".join(lines)


def _read_only(fr: ModelFrame, fixed: FixedDesign, re: ReTrms) -> None:
    """A model's arrays cannot be changed in place (``lf.X[:] = 0`` raises): later refits,
    simulations and predictions read them."""
    arrays = [fr.response, fr.weights, fr.offset, fr.rows, fixed.X, fixed.keep, re.Lind,
              re.theta, re.lower, re.Gp, re.assign, re.Zt.data, re.Zt.indices, re.Zt.indptr]
    arrays += [t.mm for t in re.terms]
    arrays += [v.values for v in fr.variables.values()]
    for array in arrays:
        if isinstance(array, np.ndarray):
            array.flags.writeable = False


def parse_model_formula(formula: str, columns: list[str]) -> MixedFormula:
    """The parsed formula of a mixed model on data with these ``columns``: it must have a
    response and a random-effects term (lme4's checks in ``lFormula``)."""
    parsed = parse_mixed_formula(formula, columns)
    if not parsed.random:
        raise PylmerError(
            f"no random effects terms specified in formula {formula!r}; add a term such as "
            "(1 | group), or fit a model without random effects with an ordinary linear "
            "model or GLM (e.g. statsmodels' ols / glm)"
        )
    if parsed.response is None:
        raise PylmerError(f"formula {formula!r} has no response: write 'response ~ terms'")
    return parsed


def check_finite_response(fr: ModelFrame) -> None:
    """The response of the used rows is finite (an Inf survives R's ``na.omit``)."""
    if not np.isfinite(fr.response).all():
        raise PylmerError(f"response {fr.response_name!r} has non-finite values (Inf or NaN "
                         "after evaluation); remove or fix those rows")


def _build(formula: str, data: object, *, weights: object, offset: object, na_action: str,
           control: LmerControl, contrasts: Mapping[str, str] | None, binary_factor: bool,
           REML: bool, family: object) -> LFormula:
    parsed = parse_model_formula(formula, list(as_pandas(data).columns))
    fr = model_frame(parsed, data, weights=weights, offset=offset, na_action=na_action,
                     binary_factor_response=binary_factor)
    if fr.n == 0:
        raise PylmerError("no complete rows: every row has a missing value in a model column")
    check_finite_response(fr)
    fixed = fixed_design(parsed, fr, contrasts=contrasts, check_rankX=control.check_rankX,
                         check_scaleX=control.check_scaleX)
    re = mkReTrms(parsed.random, fr, control)
    _read_only(fr, fixed, re)
    name = getattr(data, "attrs", {}).get("name")
    call = {"formula": formula, "data": data, "weights": weights, "offset": offset,
            "na_action": na_action, "contrasts": contrasts, "control": control}
    return LFormula(parsed, fr, fixed, re, REML, control, family,
                    data_name=name if isinstance(name, str) else None, call=call)


def lFormula(formula: str, data: object, REML: bool = True, weights: object = None,
             offset: object = None, na_action: str = "omit",
             control: LmerControl | None = None,
             contrasts: Mapping[str, str] | None = None) -> LFormula:
    """Parse an lme4 formula and build the model's matrices (R: ``lme4::lFormula``).

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``. Supports ``(1 | g)``,
        ``(x | g)``, ``(0 + x | g)``, ``(x || g)``, ``(1 | a/b)``, ``(1 | a:b)``, crossed
        and nested terms, ``offset()``, and R's functions (``factor()``, ``I()``,
        ``poly()``, ``ns()``, ``log()``, ...; the list is in docs/formula.md), evaluated
        by pylmer's own interpreter: a formula is data, never run as Python code.
    data : pandas.DataFrame
        The data (polars DataFrames and dicts of columns are accepted). Not modified.
    REML : bool, default True
        Recorded for the fit.
    weights : str or array-like, optional
        Prior weights (see ``lmer``): a column name, an R expression of columns
        evaluated by pylmer's own formula interpreter (``weights="n / 10"``), or a vector of
        one value per row of ``data``. Non-negative and finite; stored as ``weights``.
    offset : str or array-like, optional
        An offset, a known part of the linear predictor: a column name, an R expression of
        columns (``offset="log(n)"``), or a vector of one value per row of ``data``. It adds
        to the formula's ``offset()`` terms; their sum is stored as ``offset``.
    na_action : {"omit", "exclude", "fail"}
        Rows with missing values in model columns are dropped (with a
        :class:`~pylmer.exceptions.MissingDataWarning` giving the count) or raise.
    control : LmerControl, optional
        Actions of lme4's data checks (levels of grouping factors, rank of X).
    contrasts : dict, optional
        Contrasts by factor name, e.g. ``{"recipe": "contr.sum"}``.

    Returns
    -------
    LFormula
        With ``X``, ``X_colnames``, ``reTrms`` (``Zt``, ``Lambdat``, ``Lind``, ``theta``,
        ``lower``, ``Gp``, ``flist``, ``cnms``), ``y``, ``weights``, ``offset``, ``rows``.
    """
    return _build(formula, data, weights=weights, offset=offset, na_action=na_action,
                  control=check_control(control, LmerControl, "lFormula"),
                  contrasts=contrasts, binary_factor=False, REML=check_bool(REML, "REML"),
                  family=None)


def glFormula(formula: str, data: object, family: object = "binomial", weights: object = None,
              offset: object = None, na_action: str = "omit",
              control: GlmerControl | None = None,
              contrasts: Mapping[str, str] | None = None) -> LFormula:
    """As :func:`lFormula`, for a GLMM (R: ``lme4::glFormula``).

    The differences are lme4's: a two-level factor response is allowed (first level =
    failure), ``cbind(successes, failures)`` is the usual binomial response, and a grouping
    factor may have as many levels as observations (``glmerControl``'s checks). Parameters
    not listed below are ``lFormula``'s.

    Parameters
    ----------
    family : str or Family
        As for ``glmer``.
    weights : str or array-like, optional
        Prior weights (see ``glmer``); for a binomial response given as
        proportions, the numbers of trials. A column name, an R expression of columns
        evaluated by pylmer's own formula interpreter (``weights="n / 10"``), or a vector of
        one value per row of ``data``.
    offset : str or array-like, optional
        An offset on the link scale: a column name, an R expression of columns
        (``offset="log(n)"``), or a vector of one value per row of ``data``. It adds to the
        formula's ``offset()`` terms.
    """
    family = get_family(family)
    lf = _build(formula, data, weights=weights, offset=offset, na_action=na_action,
                control=check_control(control, GlmerControl, "glFormula"),
                contrasts=contrasts, binary_factor=True, REML=False, family=family)
    factor = lf.fr.response_factor
    if factor is not None and family.family != "binomial":
        raise PylmerError(
            f"the response {lf.fr.response_name!r} is a factor (levels "
            f"{', '.join(map(str, list(factor.cat.categories)[:4]))}"
            f"{', ...' if len(factor.cat.categories) > 4 else ''}); the {family.family} "
            "family needs numbers. A factor response is for the binomial family (first level "
            "= failure) or, ordered, for clmm()")
    return lf


def clmFormula(formula: str, data: object, link: str = "logit", weights: object = None,
               offset: object = None, na_action: str = "omit",
               control: GlmerControl | None = None,
               contrasts: Mapping[str, str] | None = None) -> LFormula:
    """:func:`glFormula` for a cumulative-link mixed model (R: ``ordinal::clmm``).

    The response must be an ordered categorical (a pandas ``Categorical`` with
    ``ordered=True``, or R's ``ordered()`` in the formula); ``y`` holds its category codes
    0..J-1 and the family is :class:`~pylmer.family.ordinal.Cumulative` with its levels.
    X is built as R builds it with an intercept (contrasts included) and the intercept
    column is then dropped: the thresholds take its place, as in ``ordinal``.
    """
    from .family.ordinal import Cumulative

    lf = glFormula(formula, data, family="binomial", weights=weights, offset=offset,
                   na_action=na_action, control=control, contrasts=contrasts)
    name = lf.fr.response_name
    factor = lf.fr.response_factor
    if factor is None or not factor.cat.ordered:
        kind = "a factor that is not ordered" if factor is not None else "not a factor"
        raise PylmerError(
            f"the response {name!r} of clmm must be an ordered categorical; it is {kind}. "
            f"Make it one with pandas (data[{name!r}] = pd.Categorical(data[{name!r}], "
            "categories=[...], ordered=True)) or in the formula: ordered(" + name + ")")
    fixed = lf.fixed
    if not fixed.colnames or fixed.colnames[0] != "(Intercept)":
        raise PylmerError("clmm's thresholds take the intercept's place: the formula must "
                          "keep its intercept (remove '0 +' or '- 1')")
    fixed = replace(fixed, X=np.ascontiguousarray(fixed.X[:, 1:]),
                    colnames=fixed.colnames[1:], keep=fixed.keep[1:])
    levels = tuple(str(v) for v in factor.cat.categories)
    codes = factor.cat.codes.to_numpy().astype(float)
    codes.flags.writeable = False
    fixed.X.flags.writeable = False
    family = Cumulative(link, levels=levels)
    return replace(lf, fr=replace(lf.fr, response=codes), fixed=fixed, family=family)
