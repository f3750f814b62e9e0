"""The LMM objective: lme4's ``mkLmerDevfun``.

:class:`LmerDevfun` is the profiled deviance (ML) or REML criterion as a function of
theta. It owns the only mutable state of a fit — the penalized least squares workspace —
and counts its evaluations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .exceptions import PylmerError
from .linalg.pls import PLSWorkspace
from .linalg.solution import PLSSnapshot

if TYPE_CHECKING:  # pragma: no cover
    from .lformula import LFormula

__all__ = ["LmerDevfun", "moment_start", "moment_start_applies", "moment_theta"]


def moment_start(lf: LFormula) -> np.ndarray | None:
    """lme4 1.1-31's starting theta for models with only scalar intercept terms.

    Each grouping factor's share of the response variance, estimated from the variance
    of the group means, relative to the rest: ``theta_f = sqrt(v_f / v_e)``. None where
    lme4 would start from theta = 1 (other terms, or the estimate is not usable).
    """
    rt = lf.reTrms
    if not moment_start_applies(rt):
        return None
    y = np.asarray(lf.y, dtype=float)
    if y.ndim != 1 or len(y) < 2:
        return None
    v = []
    for factor in rt.flist.values():
        codes = np.asarray(factor.codes)
        sums = np.bincount(codes, weights=y)
        counts = np.bincount(codes)
        v.append(np.var((sums / counts)[codes], ddof=1))
    return moment_theta(np.array(v), np.var(y, ddof=1), rt.lower)


def moment_start_applies(rt) -> bool:
    """Whether lme4's moment start is used: every term a scalar intercept ``(1 | g)``, on
    distinct grouping factors."""
    return all(cols == ["(Intercept)"] for _, cols in rt.cnms) and len(rt.flist) == len(
        rt.lower)


def moment_theta(v: np.ndarray, var_y: float, lower: np.ndarray) -> np.ndarray | None:
    """:func:`moment_start` from its moments: ``v`` the variance over the observations of
    each factor's group means, ``var_y`` the response's variance (both with n - 1). An
    out-of-core fit computes them from sums by level."""
    v_e = var_y - v.sum()
    if not np.isfinite(v_e) or v_e <= 0:
        return None
    rel = v / v_e
    if not np.all(rel >= lower**2):
        return None
    return np.sqrt(rel)


class LmerDevfun:
    """``devfun(theta) -> float``: profiled deviance or REML criterion (R: mkLmerDevfun).

    Attributes
    ----------
    lf : LFormula
    REML : bool
    lower : numpy.ndarray
        Bounds on theta (0 for diagonal elements, -inf otherwise).
    theta0 : numpy.ndarray
        lme4's starting value (moment-based for scalar intercept models).
    workspace : PLSWorkspace
        The penalized least squares state at the last theta evaluated. Built from the
        model's rows unless given (an out-of-core fit gives one built from cross-products,
        :meth:`PLSWorkspace.from_crossproducts`, with its ``theta0``).
    feval : int
        Evaluations so far.
    """

    def __init__(self, lf: LFormula, REML: bool | None = None, backend: str | None = None,
                 dense: bool | None = None, workspace: PLSWorkspace | None = None,
                 theta0: np.ndarray | None = None):
        self.lf = lf
        self.REML = lf.REML if REML is None else bool(REML)
        rt = lf.reTrms
        self.lower = rt.lower.copy()
        if workspace is None:
            workspace = PLSWorkspace(lf.X, lf.y, rt.Zt, rt.Lambdat, rt.Lind,
                                     weights=lf.weights, offset=lf.offset, backend=backend,
                                     dense=dense)
        self.workspace = workspace
        if theta0 is None:
            start = moment_start(lf)
            theta0 = rt.theta.copy() if start is None else start
        self.theta0 = np.array(theta0, dtype=float)
        self.feval = 0

    def snapshot(self, theta, factor: bool = True) -> PLSSnapshot:
        """The penalized least squares solution at theta, copied: what ``mkMerMod`` keeps,
        and what the profile and Satterthwaite's derivatives evaluate (``factor=False``:
        without the factor's copy)."""
        theta = np.asarray(theta, dtype=float)
        ws = self.workspace
        if ws.theta is None or not np.array_equal(ws.theta, theta):
            self(theta)
        return ws.snapshot(factor)

    def __call__(self, theta) -> float:
        self.feval += 1
        theta = np.asarray(theta, dtype=float)
        if theta.shape != self.lower.shape:
            raise PylmerError(f"theta must have {len(self.lower)} elements, got {theta.shape}")
        try:
            value = float(self.workspace.set_theta(theta).deviance(self.REML))
        except np.linalg.LinAlgError:  # named here, off the path of a normal call
            if not np.isfinite(theta).all():
                raise PylmerError(f"theta must be finite numbers, got {theta.tolist()}") \
                    from None
            raise
        if not np.isfinite(value):
            # e.g. a response fitted exactly (zero residual sum of squares)
            raise PylmerError(
                f"the {'REML criterion' if self.REML else 'deviance'} is not finite at "
                f"theta = {theta.tolist()} (penalized residual sum of squares "
                f"{self.workspace.pwrss:g}); check the response and the model"
            )
        return value
