"""The fixed-effects model matrix X: R's ``model.matrix`` of the fixed part, and lme4's
rank check.

The columns come from :mod:`pylmer.design.modelmatrix` (R's coding rules and names:
``(Intercept)``, ``recipeB:temperature.L``, ``I(age^2)``, ``poly(x, 2)1``) on the variables
pylmer's evaluator computed; columns of a rank-deficient X are dropped the way lme4 does
(LINPACK's pivoted QR, tolerance 1e-7).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..exceptions import (
    FormulaError,
    PylmerError,
    PylmerWarning,
    RankDeficiencyWarning,
    ScalingWarning,
    warn_user,
)
from ..formula.bars import MixedFormula
from ..formula.frame import ModelFrame
from ..formula.linpack import dqrdc2
from ..formula.rvalue import RVector
from .modelmatrix import DesignPlan, plan_design

__all__ = ["FixedDesign", "badly_scaled", "check_rank", "check_scale", "clearly_full_rank",
           "fixed_design", "rank_pivot", "sds_badly_scaled"]


@dataclass(frozen=True)
class FixedDesign:
    """X and what is needed to rebuild it for new data.

    Attributes
    ----------
    X : numpy.ndarray, (n, p)
        The model matrix, after dropping rank-deficient columns.
    colnames : tuple of str
        R's column names of X.
    dropped : tuple of str
        Columns dropped for rank deficiency.
    plan : DesignPlan
        The terms, codings and names: encodes new data as the training data.
    keep : numpy.ndarray of int
        Positions of the kept columns in the full model matrix.
    contrasts : dict
        Contrasts used for each factor in X (R's ``attr(X, "contrasts")``).
    """

    X: np.ndarray
    colnames: tuple[str, ...]
    dropped: tuple[str, ...]
    plan: DesignPlan
    keep: np.ndarray
    contrasts: Mapping[str, str]

    @property
    def labels(self) -> list[str]:
        """The variables X is made of, by their R names."""
        return self.plan.labels

    @property
    def assign(self) -> np.ndarray:
        """R's ``attr(X, "assign")`` of the kept columns."""
        return self.plan.assign[self.keep]

    def model_matrix(self, variables: Mapping[str, RVector], n: int) -> np.ndarray:
        """X for variables evaluated on new data (:meth:`ModelFrame.new_data`)."""
        return self.plan.build(variables, n)[:, self.keep]


# A column whose norm left after the columns before it is more than this many times dqrdc2's
# threshold (tol times its own norm) is kept by dqrdc2 whatever its norm down-dating's
# rounding: X with every column so is full rank, and its pivot the identity.
CLEAR_RANK_MARGIN = 1e3


def clearly_full_rank(X: np.ndarray, tol: float = 1e-7) -> bool:
    """Whether R's ``qr()`` keeps every column of X in place, decided from an unpivoted QR
    (LAPACK's, a fraction of dqrdc2's cost): each column's remaining norm, |R_jj|, is far
    above ``tol`` times its norm. False leaves the decision to dqrdc2 itself."""
    n, p = X.shape
    if n < p:
        return False
    norms = np.linalg.norm(X, axis=0)
    if not np.all(np.isfinite(norms) & (norms > 0.0)):
        return False
    remaining = np.abs(np.diagonal(np.linalg.qr(X, mode="r")))
    return bool(np.all(remaining > CLEAR_RANK_MARGIN * tol * norms))


def rank_pivot(X: np.ndarray, tol: float = 1e-7) -> tuple[int, np.ndarray]:
    """Rank and column pivot of R's ``qr(X, LAPACK = FALSE)`` (LINPACK dqrdc2).

    dqrdc2 moves a column to the end when its remaining norm falls below ``tol`` times its
    original norm, so the first ``rank`` pivots are the columns lme4 keeps.
    """
    _, _, rank, pivot = dqrdc2(X, tol)
    return rank, pivot


def check_rank(X: np.ndarray, names: list[str], action: str) -> np.ndarray:
    """lme4's ``check.rankX``: the positions of the columns kept (all, or those of a
    full-rank subset as R's ``qr()`` pivots them), warning or stopping per ``action``.

    ``X`` may be any matrix with X's cross-product X'X, such as the R factor of its QR
    decomposition: the pivoted QR's choices depend on X'X alone (an out-of-core fit has
    R, accumulated over partitions, not X).
    """
    p = X.shape[1]
    if action == "ignore" or p == 0 or clearly_full_rank(X):
        return np.arange(p)
    rank, pivot = rank_pivot(X)
    if rank == p:
        return np.arange(p)
    dropped = [names[j] for j in sorted(pivot[rank:])]
    if action == "stop.deficient":
        raise PylmerError(
            f"the fixed-effects model matrix is rank deficient (rank {rank} < {p} columns); "
            f"aliased columns: {', '.join(dropped)}"
        )
    if action != "silent.drop.cols":
        k = p - rank
        plural = "column / coefficient" if k == 1 else "columns / coefficients"
        warn_user(
            f"fixed-effect model matrix is rank deficient so dropping {k} {plural}: "
            + ", ".join(dropped),
            RankDeficiencyWarning)
    return np.sort(pivot[:rank])


def badly_scaled(X: np.ndarray, tol: float = 1e3) -> bool:
    """lme4's ``checkScaleX`` criterion: the standard deviations of the columns that are not
    0/1 indicators differ by more than a factor ``tol``, or lie outside 1/tol..tol."""
    continuous = ~np.all((X == 0) | (X == 1), axis=0)
    if not continuous.any() or X.shape[0] < 2:
        return False
    return sds_badly_scaled(np.std(X[:, continuous], axis=0, ddof=1), tol)


def sds_badly_scaled(sd: np.ndarray, tol: float = 1e3) -> bool:
    """:func:`badly_scaled` from the standard deviations of the columns that are not 0/1
    indicators (what an out-of-core fit accumulates in place of X)."""
    if len(sd) == 0:
        return False
    with np.errstate(divide="ignore"):
        logsd = np.log(np.asarray(sd, dtype=float))
    spread = np.abs(logsd[:, None] - logsd[None, :])
    return bool(np.any(spread > np.log(tol)) or np.any(np.abs(logsd) > np.log(tol)))


def check_scale(X: np.ndarray, action: str, bad: bool | None = None) -> None:
    """lme4's ``check.scaleX`` action on a badly scaled X: a warning in its words, or stop.
    ``bad``, when given, is the criterion already evaluated (and X is not read)."""
    if action == "ignore" or X.shape[1] == 0:
        return
    if not (badly_scaled(X) if bad is None else bad):
        return
    message = "Some predictor variables are on very different scales: consider rescaling"
    if action == "stop":
        raise PylmerError(message)
    warn_user(message, ScalingWarning)


def fixed_design(formula: MixedFormula, frame: ModelFrame,
                 contrasts: Mapping[str, str] | None = None,
                 check_rankX: str = "message+drop.cols",
                 check_scaleX: str = "ignore") -> FixedDesign:
    """Build X for the fixed part of ``formula`` on the model frame (R: ``model.matrix``)."""
    if contrasts is not None and not isinstance(contrasts, Mapping):
        raise TypeError(f"contrasts must be a dict of factor name to contrast, such as "
                        f"{{'recipe': 'contr.sum'}}, got {contrasts!r}")
    contrasts = dict(contrasts or {})
    terms = formula.terms
    factors = {terms.labels[i] for i in terms.used_variables()}
    for name in sorted(set(contrasts) - factors):  # R: a warning, and the contrast is ignored
        warn_user(f"variable {name!r} is absent, its contrast will be ignored",
                  PylmerWarning)
        del contrasts[name]
    plan = plan_design(terms, frame.variables, contrasts)
    full = plan.build(frame.variables, frame.n)
    bad = ~np.isfinite(full).all(axis=0)
    if bad.any():
        names = [plan.colnames[j] for j in np.flatnonzero(bad)]
        raise FormulaError(
            f"the fixed-effects column(s) {', '.join(names)} have infinite values (e.g. "
            "log(0) or a huge power); fix or remove those rows")
    names = list(plan.colnames)
    keep = check_rank(full, names, check_rankX)
    check_scale(full[:, keep], check_scaleX)
    dropped = tuple(n for j, n in enumerate(names) if j not in set(keep))
    return FixedDesign(
        X=np.ascontiguousarray(full[:, keep]),
        colnames=tuple(names[j] for j in keep),
        dropped=dropped,
        plan=plan,
        keep=keep,
        contrasts=plan.contrasts,
    )
