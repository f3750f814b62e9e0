"""lme4's bounded Nelder-Mead (R: ``lme4::Nelder_Mead``), lme4's default for glmer's stage 2.

A port of lme4's ``src/optimizer.cpp``, itself NLopt 2.2.4's ``nldrmd.c`` with lme4's
changes. It is ported step by step rather than replaced by scipy's or NLopt's Nelder-Mead
because the variants differ where glmer's stage 2 is sensitive (see :func:`nelder_mead`):
from the same start, the same steps and the same objective values it evaluates the same
points as lme4 and stops after the same number of evaluations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["NelderMeadResult", "nelder_mead", "MESSAGES"]

# lme4's reflection, contraction, expansion and shrink coefficients
ALPHA, BETA, GAMMA, DELTA = 1.0, 0.5, 2.0, 0.5

# lme4's Nelder_Mead() messages, by its NM.result code
MESSAGES = {
    -3: "nm_forced",
    -2: "cannot generate a feasible simplex",
    -1: "initial x is not feasible",
    1: "objective function went below allowed minimum",
    2: "objective function values converged to within tolerance",
    3: "parameter values converged to within tolerance",
    4: "failure to converge in {maxfun} evaluations",
}


@dataclass(frozen=True)
class NelderMeadResult:
    """What :func:`nelder_mead` found (the fields of lme4's ``Nelder_Mead()`` value).

    Attributes
    ----------
    par : numpy.ndarray
        The best point evaluated.
    fval : float
        The objective there.
    feval : int
        Objective evaluations.
    code : int
        lme4's ``NM.result``: 1 (below ``minf_max``), 3 (the simplex collapsed: converged)
        or 4 (``maxfun`` evaluations without converging).
    message : str
        lme4's message for ``code`` (for code 4 the words of lme4's warning, "failure to
        converge in 10000 evaluations").
    """

    par: np.ndarray
    fval: float
    feval: int
    code: int
    message: str

    @property
    def convergence(self) -> int:
        """lme4's ``optinfo$conv$opt`` after ``optwrap``: 4 when ``maxfun`` was reached,
        else 0."""
        return 4 if self.code == 4 else 0


class _Stop(Exception):
    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def _close(a, b):
    """lme4's ``close()``: equal up to a relative 1e-13."""
    return np.abs(a - b) <= 1e-13 * (np.abs(a) + np.abs(b))


def _initial_simplex(x0, lower, upper, xst) -> np.ndarray:
    """Vertices (rows): x0, then x0 moved by ``xst[i]`` along axis i; a step that would
    leave the box goes to the bound, or the other way when the bound is within a tenth of
    the step (lme4's constructor, verbatim)."""
    n = len(x0)
    pts = np.tile(x0, (n + 1, 1))
    for i in range(n):
        step, x, lo, hi = xst[i], x0[i], lower[i], upper[i]
        v = x + step
        if v > hi:
            v = hi if hi - x > abs(step) * 0.1 else x - abs(step)
        if v < lo:
            if x - lo > abs(step) * 0.1:
                v = lo
            else:
                v = x + abs(step)
                if v > hi:  # towards the farther bound
                    v = 0.5 * ((hi if hi - x > x - lo else lo) + x)
        if _close(v, x):
            raise ValueError(MESSAGES[-2])
        pts[i + 1, i] = v
    return pts


def nelder_mead(fn: Callable[[np.ndarray], float], x0, lower=None, upper=None, xst=None,
                xt=None, maxfun: int = 10000, xtol_rel: float = 1e-7,
                minf_max: float = -np.finfo(float).max) -> NelderMeadResult:
    """Minimize ``fn`` over a box with lme4's Nelder-Mead (R: ``lme4::Nelder_Mead``).

    Parameters
    ----------
    fn : callable
        The objective, of one 1-d array.
    x0 : array-like
        The start; it must lie in the box.
    lower, upper : array-like, optional
        Bounds (default: none).
    xst : array-like, optional
        Initial steps, one per coordinate (lme4's ``xst``; default 0.02).
    xt : array-like, optional
        Absolute tolerances on the simplex, one per coordinate (lme4's ``xt``; default
        ``xst * 5e-4``).
    maxfun : int, default 10000
        At most this many evaluations (plus the one that finds it out, as lme4).
    xtol_rel : float, default 1e-7
    minf_max : float
        Stop as soon as the objective is below this.

    Returns
    -------
    NelderMeadResult

    Notes
    -----
    Where lme4's variant differs from NLopt's ``nldrmd`` and from scipy's, and pylmer
    follows lme4:

    - it stops only when, along every coordinate, every vertex lies within ``xt`` of the
      centroid of the others (or a reflection falls on a vertex or the centroid). lme4's
      ``FtolAbs`` and ``FtolRel`` settings do not reach this test, so there is no
      objective-value tolerance here: a simplex straddling a jump of the objective (glmer's
      Laplace deviance jumps where PIRLS changes its iteration count) keeps shrinking;
    - an expansion is kept when it beats the worst vertex (NLopt: the reflected point);
    - a contraction is always the inside one, and after a shrink every vertex, the best
      included, is evaluated again;
    - points are clipped to the bounds (Richardson and Kuester's "complex method");
    - the result is the best point ever evaluated, not the best vertex.
    """
    x0 = np.array(x0, dtype=float)
    n = len(x0)
    lower = np.full(n, -np.inf) if lower is None else np.asarray(lower, dtype=float)
    upper = np.full(n, np.inf) if upper is None else np.asarray(upper, dtype=float)
    xst = np.full(n, 0.02) if xst is None else np.broadcast_to(np.asarray(xst, float), (n,))
    xt = xst * 5e-4 if xt is None else np.broadcast_to(np.asarray(xt, float), (n,))
    if n == 0 or np.any(xst == 0):
        raise ValueError("Nelder_Mead needs at least one parameter and non-zero steps xst")
    if np.any(x0 < lower) or np.any(x0 > upper):
        raise ValueError(MESSAGES[-1])
    pts = _initial_simplex(x0, lower, upper, xst)
    best = {"f": np.inf, "x": x0.copy(), "n": 0}

    def evaluate(x: np.ndarray) -> float:
        # lme4's newf(): count, remember the best point, then the stopping rules
        best["n"] += 1
        f = float(fn(x))
        if f < best["f"]:
            best["f"], best["x"] = f, x.copy()
            if f < minf_max:
                raise _Stop(1)
        if best["n"] > maxfun:
            raise _Stop(4)
        return f

    def reflect(c: np.ndarray, scale: float, xold: np.ndarray) -> np.ndarray:
        # c + scale (c - xold), clipped to the box; coinciding with c or with xold (every
        # coordinate within 1e-13 relative) means the simplex has collapsed
        xnew = np.minimum(np.maximum(c + scale * (c - xold), lower), upper)
        if np.all(_close(xnew, c)) or np.all(_close(xnew, xold)):
            raise _Stop(3)
        return xnew

    vals = np.empty(n + 1)
    try:
        while True:
            for j in range(n + 1):  # the start, and again after every shrink
                vals[j] = evaluate(pts[j])
            while True:
                il, ih = int(np.argmin(vals)), int(np.argmax(vals))
                fl, fh = vals[il], vals[ih]
                c = (pts.sum(axis=0) - pts[ih]) / n
                # converged when each coordinate's largest deviation from the centroid is
                # below xt (lme4's relstop(deviation, 0, xtol_rel, xt))
                dev = np.max(np.abs(pts - c), axis=0)
                if np.all(np.isfinite(dev) & ((dev < xt) | ((xtol_rel > 0) & (dev == 0)))):
                    raise _Stop(3)
                xr = reflect(c, ALPHA, pts[ih])
                fr = evaluate(xr)
                if fr < fl:  # a new best point: try twice as far
                    xe = reflect(c, GAMMA, pts[ih])
                    fe = evaluate(xe)
                    pts[ih], vals[ih] = (xe, fe) if fe < vals[ih] else (xr, fr)
                    continue
                if fr < fh:  # better than the worst: accept
                    pts[ih], vals[ih] = xr, fr
                    continue
                # no better than the worst: contract (lme4's sign test is always true here,
                # so the contraction is always inside)
                xc = reflect(c, -BETA if fh <= fr else BETA, pts[ih])
                fc = evaluate(xc)
                if fc < fr and fc < fh:
                    pts[ih], vals[ih] = xc, fc
                    continue
                for i in range(n + 1):  # shrink halfway towards the best vertex
                    if i != il:
                        pts[i] = reflect(pts[il], -DELTA, pts[i])
                break
    except _Stop as stop:
        code = stop.code
    return NelderMeadResult(best["x"], float(best["f"]), best["n"], code,
                            MESSAGES[code].format(maxfun=maxfun))

