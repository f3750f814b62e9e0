"""Estimated marginal means and their contrasts: R's ``emmeans``, ``contrast`` and ``pairs``.

An estimated marginal mean is a linear function ``l' beta`` of the fixed effects: the
model's predictions on the reference grid (:mod:`.refgrid`), averaged over the grid
variables not named in ``specs`` or ``by``, with equal weights by default. Its standard
error and degrees of freedom are emmeans' defaults for lme4 fits:

- LMMs with at most 3000 observations: Kenward-Roger (pbkrtest's adjusted covariance and
  ``Lb_ddf``); ``lmer_df="satterthwaite"`` gives lmerTest's; above the limit, or with
  ``lmer_df="asymptotic"``, ``vcov(m)`` and z tests;
- GLMMs: ``vcov(m)`` and z tests (df = inf). ``type="response"`` back-transforms each mean
  by the inverse link, its SE by the delta method (``SE |dmu/deta|``) and its confidence
  limits as the back-transformed link-scale limits.

Contrasts are linear functions of the means, on the link scale, each tested with the same
covariance and df method and adjusted for multiplicity within each ``by`` group.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np
import pandas as pd

from ..exceptions import PylmerError, PylmerWarning, warn_user
from ..lazy import stats
from ..validate import check_count, check_model
from .kenward_roger import kr_pieces
from .refgrid import RefGrid, ref_grid
from .refit import refit_REML
from .satterthwaite import satterthwaite_pieces

__all__ = ["EMMGrid", "emmeans", "ref_grid"]

_DF_METHODS = ("kenward-roger", "satterthwaite", "asymptotic")
_WEIGHTS = ("equal", "proportional", "cells", "flat")


@dataclass(frozen=True)
class _Inference:
    """The covariance of beta and the df of a linear function, by one method."""

    method: str
    V: np.ndarray
    ddf: Callable[[np.ndarray], np.ndarray]

    def se_df(self, L: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The SE of each row's ``l' beta`` and its df (NaN where ``ok`` is False: a
        non-estimable function has none)."""
        se = np.sqrt(np.einsum("mi,ij,mj->m", L, self.V, L))
        df = np.full(len(L), np.nan)
        if ok.any():
            df[ok] = self.ddf(L[ok])
        return se, df


def _inference(model, lmer_df: str | None, limit: int) -> tuple[_Inference, str | None]:
    """emmeans' choice of covariance and df for the model (and a note when it changed)."""
    asymptotic = _Inference("asymptotic", model.vcov().to_numpy(),
                            lambda L: np.full(len(L), np.inf))
    if model.isGLMM():
        if lmer_df not in (None, "asymptotic"):
            raise PylmerError(f"lmer_df={lmer_df!r} is for linear mixed models; a GLMM's "
                              "means use z tests (lmer_df='asymptotic')")
        return asymptotic, None
    method = "kenward-roger" if lmer_df is None else lmer_df
    if method not in _DF_METHODS:
        raise PylmerError(f"lmer_df={lmer_df!r}: use one of {', '.join(_DF_METHODS)}")
    if method == "asymptotic":
        return asymptotic, None
    if model.nobs() > limit:
        tool = "pbkrtest_limit" if method == "kenward-roger" else "lmerTest_limit"
        return asymptotic, (f"D.f. calculations have been disabled because the number of "
                            f"observations exceeds {limit}; to enable them, pass "
                            f"{tool}={model.nobs()} (or larger), which may take time and "
                            "memory")
    if method == "kenward-roger":
        reml = refit_REML(model)  # pbkrtest's vcovAdj refits an ML fit by REML ...
        kr = kr_pieces(reml)
        if reml is not model:  # ... and emmeans' Lb_ddf takes V0 from the ML fit itself
            kr = replace(kr, Phi=model.vcov().to_numpy())
        return _Inference(method, kr.PhiA,
                          lambda L: np.array([kr.ddf(row[None, :]) for row in L])), None
    sat = satterthwaite_pieces(model)
    return _Inference(method, sat.V, lambda L: sat.variance_df(L)[1]), None


def _names(value, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TypeError(f"{what} must be a column name or a list of names, got {value!r}")


def _parse_specs(specs, by) -> tuple[list[str], list[str]]:
    """``"nF"``, ``["nF", "Variety"]`` or R's one-sided formula ``"~ nF | Variety"``."""
    if isinstance(specs, str) and "~" in specs:
        if not specs.strip().startswith("~"):
            raise PylmerError(f"specs={specs!r}: a two-sided specs formula (pairwise ~ A) is "
                              "not supported: use contrast(emmeans(m, 'A'), 'pairwise')")
        if by is not None:
            raise PylmerError("give by= or a '|' in the specs formula, not both")
        text = specs.strip()[1:]
        main, _, cond = text.partition("|")
        split = [s.strip() for part in main.replace("*", "+").replace(":", "+").split("+")
                 for s in [part] if s.strip()]
        bys = [s.strip() for s in cond.replace("*", "+").split("+") if s.strip()]
        if not split or any(not s.replace(".", "").replace("_", "").isalnum() for s in split + bys):
            raise PylmerError(f"specs={specs!r}: write the means' variables as '~ A', '~ A * B' "
                              "or '~ A | B' (pairwise ~ A is not supported: use "
                              "contrast(emmeans(m, 'A'), 'pairwise'))")
        return split, bys
    return _names(specs, "specs"), _names(by, "by")


def _weights(rg: RefGrid, how: str, averaged: list[str]) -> np.ndarray:
    """emmeans' weight of each grid row in the mean of its cell: equal; its cell count
    (``cells``); 1 for a non-empty cell (``flat``); or (``proportional``) the frequency
    of its combination of the averaged-over variables in the whole grid."""
    if how == "equal" or (how == "proportional" and not averaged):
        return np.ones(len(rg.grid))
    if how == "cells":
        return rg.counts
    if how == "flat":
        return (rg.counts > 0).astype(float)
    combination = rg.codes(averaged)
    return np.bincount(combination, weights=rg.counts)[combination]


@dataclass
class _EMMInfo:
    """What contrasts of the means need: the rows' linear functions and their inference."""

    model: object
    L: np.ndarray
    estimate: np.ndarray
    keys: pd.DataFrame
    specs: list
    by: list
    inference: _Inference
    type: str
    level: float
    estimable: np.ndarray
    notes: list = field(default_factory=list)


class EMMGrid(pd.DataFrame):
    """Estimated marginal means: a DataFrame with emmeans' columns (the grid variables,
    ``emmean``, ``SE``, ``df``, ``lower.CL``, ``upper.CL``), which :func:`contrast` and
    :func:`pairs` take. Its ``notes`` are the lines R prints under the table.

    Operations on it (selection, copies) give plain DataFrames: contrasts need the means
    as :func:`emmeans` returned them.
    """

    _metadata: ClassVar[list[str]] = ["_emm"]  # pandas keeps these through its own copies

    @property
    def _constructor(self):
        return pd.DataFrame

    @property
    def notes(self) -> list[str]:
        """emmeans' notes: what was averaged over, the df method, the confidence level."""
        return list(self._emm.notes)

    def __repr__(self) -> str:
        return pd.DataFrame(self).__repr__() + "".join("\n" + n for n in self.notes)


def _means_rows(rg: RefGrid, specs: list, by: list, weights: str):
    """The rows of the means: each combination of the specs' and by's values (the first
    spec fastest, by slowest), its linear function of beta and of the full X, its offset,
    and whether its weights left it empty."""
    variables = specs + by
    averaged = [c for c in rg.factors if c not in variables]
    cell = rg.codes(variables)  # each grid row's mean, numbered as the means' rows
    n_cells = int(np.prod([len(rg.levels[c]) for c in variables]))
    w = _weights(rg, weights, averaged)
    total = np.bincount(cell, weights=w, minlength=n_cells)
    empty = total <= 0
    if empty.any():  # no weight in a cell: its mean is not estimable; equal weights keep
        w = np.where(empty[cell], 1.0, w)  # the row finite
        total = np.bincount(cell, weights=w, minlength=n_cells)
    share = w / total[cell]

    def average(values):
        out = np.zeros((n_cells,) + values.shape[1:])
        np.add.at(out, cell, share.reshape((-1,) + (1,) * (values.ndim - 1)) * values)
        return out

    combos = itertools.product(*[rg.levels[c] for c in variables[::-1]])
    keys = pd.DataFrame([combo[::-1] for combo in combos], columns=variables)
    for c in variables:
        if all(isinstance(v, str) for v in keys[c]):
            keys[c] = pd.Categorical(keys[c], categories=[str(v) for v in rg.levels[c]])
    return (average(rg.X), average(rg.full_X), average(rg.offset), keys, empty,
            averaged)


def emmeans(model, specs, by=None, at: dict | None = None, type: str = "link",
            level: float = 0.95, weights: str = "equal", lmer_df: str | None = None,
            pbkrtest_limit: int = 3000, lmerTest_limit: int = 3000) -> EMMGrid:
    """Estimated marginal means (R: ``emmeans::emmeans(m, specs, by, at, type, level)``).

    Parameters
    ----------
    model : LmerMod or GlmerMod
        A fitted model.
    specs : str, list of str, or str formula
        The variables whose means are wanted: ``"nF"``, ``["A", "B"]``, or R's
        ``"~ nF | Variety"``.
    by : str or list of str, optional
        Variables whose levels the means are given within (R's ``by``).
    at : dict, optional
        Values of grid variables: ``{"Days": [0, 9]}`` (see :func:`ref_grid`).
    type : {"link", "response"}
        For GLMMs, the scale of the means: ``"response"`` back-transforms them (R's
        ``type = "response"``; the delta method for SE, back-transformed limits).
    level : float
        Confidence level of the intervals.
    weights : {"equal", "proportional", "cells", "flat"}
        How the averaged-over grid rows are weighted (R's ``weights``).
    lmer_df : {"kenward-roger", "satterthwaite", "asymptotic"}, optional
        The df method for an LMM (R's ``lmer.df``); Kenward-Roger by default.
    pbkrtest_limit, lmerTest_limit : int
        Above these numbers of observations emmeans (and pylmer) use asymptotic df, as
        R's ``pbkrtest.limit`` and ``lmerTest.limit``.

    Returns
    -------
    EMMGrid
        A DataFrame: the grid variables, ``emmean``, ``SE``, ``df``, ``lower.CL``,
        ``upper.CL``, one row per combination, the first spec varying fastest.
    """
    check_model(model)
    if hasattr(model, "thresholds"):
        raise PylmerError("emmeans is implemented for lmer and glmer fits, not ordinal clmm "
                          "fits")
    spec_names, by_names = _parse_specs(specs, by)
    if not spec_names:
        raise PylmerError("specs must name at least one variable of the fixed part")
    if type not in ("link", "response"):
        raise PylmerError(f"type={type!r}: use 'link' or 'response'")
    if weights not in _WEIGHTS:
        raise PylmerError(f"weights={weights!r}: use one of {', '.join(_WEIGHTS)}")
    if not (isinstance(level, float) and 0 < level < 1):
        raise PylmerError(f"level must be a number between 0 and 1, got {level!r}")
    rg = ref_grid(model, at)
    unknown = [c for c in spec_names + by_names if c not in rg.levels]
    if unknown:
        raise PylmerError(f"{unknown} are not variables of the fixed part; emmeans can "
                          f"average over {list(rg.levels)}")
    if len(set(spec_names + by_names)) != len(spec_names + by_names):
        raise PylmerError("a variable is named twice in specs and by")
    pbkrtest_limit = check_count(pbkrtest_limit, "pbkrtest_limit")
    lmerTest_limit = check_count(lmerTest_limit, "lmerTest_limit")
    limit = lmerTest_limit if lmer_df == "satterthwaite" else pbkrtest_limit
    inference, note = _inference(model, lmer_df, limit)
    if note:
        warn_user(note, PylmerWarning)
    L, L_full, offset, keys, empty, averaged = _means_rows(rg, spec_names, by_names, weights)
    estimable = rg.estimable(L_full) & ~empty
    if not estimable.all():
        warn_user(f"{int((~estimable).sum())} of the means are not estimable (the model's X "
                  "lost columns, or weights left a cell empty); they are NaN, R's 'nonEst'",
                  PylmerWarning)
    estimate = L @ model.beta + offset
    info = _EMMInfo(model, L, estimate, keys, spec_names, by_names, inference, type, level,
                    estimable)
    if averaged:
        info.notes.append("Results are averaged over the levels of: " + ", ".join(averaged))
    if note:
        info.notes.append("Note: " + note)
    info.notes.append(f"Degrees-of-freedom method: {inference.method}")
    table = _means_table(info)
    out = EMMGrid(table)
    out._emm = info
    return out


def _means_table(info: _EMMInfo) -> pd.DataFrame:
    ok = info.estimable
    se, df = info.inference.se_df(info.L, ok)
    q = np.where(np.isinf(df), stats.norm.ppf((1 + info.level) / 2),
                 stats.t.ppf((1 + info.level) / 2, np.where(np.isinf(df), 1.0, df)))
    est = info.estimate.copy()
    lower, upper = est - q * se, est + q * se
    model = info.model
    info.notes.append(f"Confidence level used: {info.level:g}")
    if info.type == "response" and model.isGLMM():
        link = model.family.link
        mu = link.linkinv(est)
        se = se * np.abs(link.mu_eta(est))
        lo, hi = link.linkinv(lower), link.linkinv(upper)
        est, lower, upper = mu, np.minimum(lo, hi), np.maximum(lo, hi)
        info.notes.append(f"Intervals are back-transformed from the {link.name} scale")
    elif model.isGLMM():
        info.notes.append(f"Results are given on the {model.family.link.name} (not the "
                          "response) scale.")
    for a in (est, se, df, lower, upper):
        a[~ok] = np.nan
    table = info.keys.copy()
    table["emmean"], table["SE"], table["df"] = est, se, df
    table["lower.CL"], table["upper.CL"] = lower, upper
    return table
