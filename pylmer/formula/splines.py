"""Spline and polynomial bases as R computes them: ``splines::bs``, ``splines::ns``,
``splines::splineDesign`` and ``stats::poly``.

Every function follows R 4.2's source literally (``splines.c`` for the B-spline recursions,
the R code of ``bs``/``ns``/``poly``), because the columns of ``ns()`` and ``poly()`` are one
particular basis among many spanning the same space: a model fitted with a different but
equivalent basis has different coefficients, so only R's exact construction reproduces
lme4's fixed effects. Each basis function returns the state needed to evaluate the same
basis on new data (R's ``predvars`` / ``makepredictcall``).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import FormulaError, PylmerWarning, warn_user
from .linpack import dqrdc2, qr_qty, qr_qy

__all__ = ["bs", "ns", "poly", "quantile7", "spline_design"]


def quantile7(x: np.ndarray, probs) -> np.ndarray:
    """R's ``quantile(x, probs, type = 7, names = FALSE)``.

    Parameters
    ----------
    x : array_like
        Data without missing values (the caller removes NaN, as ``bs``/``ns`` do).
    probs : array_like
        Probabilities in [0, 1].

    Returns
    -------
    numpy.ndarray
        The quantiles, computed with R's arithmetic: ``(1 - h) * x[lo] + h * x[hi]``, and no
        interpolation at all where ``x[lo] == x[hi]`` (so ties give the tied value exactly).
    """
    xs = np.sort(np.asarray(x, dtype=float))
    p = np.atleast_1d(np.asarray(probs, dtype=float))
    n = xs.size
    if n == 0:
        return np.full(p.shape, np.nan)
    p = np.clip(p, 0.0, 1.0)
    index = 1.0 + max(n - 1, 0) * p  # 1-based, as in R
    lo = np.floor(index).astype(int)
    hi = np.ceil(index).astype(int)
    qs = xs[lo - 1]
    interp = (index > lo) & (xs[hi - 1] != qs)
    h = (index - lo)[interp]
    qs[interp] = (1.0 - h) * qs[interp] + h * xs[hi[interp] - 1]
    return qs


def _seq01_inner(n_inner: int) -> np.ndarray:
    """``seq.int(0, 1, length.out = n_inner + 2)[-c(1, n_inner + 2)]`` (R's ``from + i*by``)."""
    by = 1.0 / (n_inner + 1)
    return np.arange(1, n_inner + 1) * by


def _set_cursor(knots: np.ndarray, x: np.ndarray, ord_: int) -> tuple[np.ndarray, np.ndarray]:
    """``set_cursor`` of splines.c, vectorised: the index of the first knot > x, except that
    x equal to the last legitimate knot uses the last non-empty interval (``boundary``)."""
    nk = knots.size
    curs = np.searchsorted(knots, x, side="right")
    # No knot > x: C leaves curs at the last knot >= x, or -1 if x exceeds every knot.
    past = curs >= nk
    curs[past] = np.where(knots[-1] >= x[past], nk - 1, -1)
    last_legit = nk - ord_
    boundary = (curs > last_legit) & (x == knots[last_legit])
    curs[boundary] = last_legit
    return curs, boundary


def _basis_funcs(knots: np.ndarray, x: np.ndarray, curs: np.ndarray, ordm1: int) -> np.ndarray:
    """``basis_funcs`` of splines.c (Cox-de Boor values), one row per x."""
    rdel = np.stack([knots[curs + i] - x for i in range(ordm1)], axis=1) if ordm1 else None
    ldel = np.stack([x - knots[curs - (i + 1)] for i in range(ordm1)], axis=1) if ordm1 else None
    b = np.zeros((x.size, ordm1 + 1))
    b[:, 0] = 1.0
    for j in range(1, ordm1 + 1):
        saved = np.zeros(x.size)
        for r in range(j):
            den = rdel[:, r] + ldel[:, j - 1 - r]
            ok = den != 0
            term = b[:, r] / np.where(ok, den, 1.0)
            # C: on a zero denominator keep b[0] when rdel[0] == 0, else take `saved`.
            keep = (r != 0) | (rdel[:, r] != 0.0)
            b[:, r] = np.where(ok, saved + rdel[:, r] * term, np.where(keep, saved, b[:, r]))
            saved = np.where(ok, ldel[:, j - 1 - r] * term, 0.0)
        b[:, j] = saved
    return b


def _evaluate(knots: np.ndarray, x: np.ndarray, curs: np.ndarray, boundary: np.ndarray,
              ordm1: int, nder: int, a: np.ndarray) -> np.ndarray:
    """``evaluate`` of splines.c: the ``nder``-th derivative of the spline with local
    coefficients ``a`` (one row per x), by differencing then de Boor's recursion."""
    a = a.copy()
    outer = ordm1
    for _ in range(nder):
        for k in range(outer):
            a[:, k] = outer * (a[:, k + 1] - a[:, k]) / (knots[curs + k] - knots[curs - outer + k])
        outer -= 1
    rdel = [knots[curs + i] - x for i in range(outer)]
    ldel = [x - knots[curs - (i + 1)] for i in range(outer)]
    for o in range(outer - 1, -1, -1):
        for k in range(o + 1):
            a[:, k] = (a[:, k + 1] * ldel[o - k] + a[:, k] * rdel[k]) / (rdel[k] + ldel[o - k])
    # At the right boundary the (ord-1)-th derivative is a jump; R defines it as 0 there.
    return np.where(boundary & (nder == ordm1), 0.0, a[:, 0])


def spline_design(knots, x, ord: int = 4, derivs=0) -> np.ndarray:
    """``splines::splineDesign(knots, x, ord, derivs, outer.ok = FALSE)``.

    Parameters
    ----------
    knots : array_like
        Knot sequence (sorted if it is not), at least ``2 * ord - 1`` knots.
    x : array_like
        Points in ``[knots[ord - 1], knots[-ord]]``.
    ord : int, default 4
        Order of the spline (degree + 1).
    derivs : int or array_like of int, default 0
        Derivative order, one for all x or recycled along x (R's ``derivs[i % nd]``).

    Returns
    -------
    numpy.ndarray
        The ``len(x) x (len(knots) - ord)`` design matrix. At x equal to the last knot R's C
        code uses the last non-empty interval, so the basis is left-continuous there.

    Raises
    ------
    FormulaError
        For too few knots, bad ``ord``/``derivs``, or x outside the knot range.
    """
    def fail(msg: str) -> FormulaError:
        return FormulaError(f"splineDesign(): {msg}")

    # The checks of R's splineDesign(), in R's order and with R's words.
    kn = np.sort(np.asarray(knots, dtype=float).ravel())
    xv = np.atleast_1d(np.asarray(x, dtype=float)).ravel()
    nk, nx, ord_ = kn.size, xv.size, int(ord)
    dv = np.atleast_1d(np.asarray(derivs)).ravel().astype(int)
    if nk <= 0:
        raise fail("must have at least 'ord' knots")
    if dv.size > nx:
        raise fail("length of 'derivs' is larger than length of 'x'")
    if dv.size < 1:
        raise fail("empty 'derivs'")
    if ord_ > nk or ord_ < 1:
        raise fail("'ord' must be positive integer, at most the number of knots")
    if nk < 2 * ord_ - 1:
        raise fail(f"need at least 2*ord -1 (={2 * ord_ - 1}) knots")
    if np.isnan(xv).any():
        raise fail("missing values are not allowed in 'x'")
    lo, hi = kn[ord_ - 1], kn[nk - ord_]
    if np.any((xv < lo) | (xv > hi)):
        raise fail(f"the 'x' data must be in the range {lo:g} to {hi:g} unless you set "
                   "'outer.ok = TRUE'")
    der = dv[np.arange(nx) % dv.size]
    if np.any(der >= ord_):
        bad = int(der[der >= ord_][0])
        raise fail(f"derivs = {bad} >= ord = {ord_}, but should be in {{0,..,ord-1}}")
    ordm1 = ord_ - 1
    curs, boundary = _set_cursor(kn, xv, ord_)
    vals = np.empty((nx, ord_))
    with np.errstate(divide="ignore", invalid="ignore"):
        fast = der <= 0  # C: only derivs > 0 take the slow path
        if fast.any():
            vals[fast] = _basis_funcs(kn, xv[fast], curs[fast], ordm1)
        for d in np.unique(der[~fast]):
            rows = der == d
            for ii in range(ord_):
                a = np.zeros((int(rows.sum()), ord_))
                a[:, ii] = 1.0
                vals[rows, ii] = _evaluate(kn, xv[rows], curs[rows], boundary[rows],
                                           ordm1, int(d), a)
    # Row i has its ord non-zero values in columns curs - ord ... curs - 1.
    design = np.zeros((nx, nk - ord_))
    cols = (curs - ord_)[:, None] + np.arange(ord_)[None, :]
    design[np.repeat(np.arange(nx), ord_), cols.ravel()] = vals.ravel()
    return design


def _rpow(x: np.ndarray, p: int) -> np.ndarray:
    """R's ``x ^ p``: ``x * x`` for 2, else C ``powl`` rounded to double (R on x86-64).
    numpy's own float64 power differs from it in the last bit now and then."""
    if p == 2:
        return x * x
    return np.power(x.astype(np.longdouble), p).astype(float)


def _matprod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """R's ``a %*% b`` for finite values (reference BLAS dgemm): a running sum over the inner
    index, in the same order, so extrapolated bases agree with R to the last bit."""
    out = np.zeros((a.shape[0], b.shape[1]))
    for k in range(a.shape[1]):
        out += a[:, k:k + 1] * b[k:k + 1, :]
    return out


def _setup(fname: str, x, df, knots, boundary_knots, min_df: int):
    """What ``bs`` and ``ns`` share: drop NaN; boundary knots (``range(x)`` unless given,
    in which case x beyond them is flagged); interior knots at quantiles of the x inside
    when only ``df`` is given. ``min_df`` is the df of a basis without interior knots."""
    xv = np.asarray(x, dtype=float).ravel()
    nax = np.isnan(xv)
    xin = xv[~nax]
    if boundary_knots is not None:
        bk = np.sort(np.asarray(boundary_knots, dtype=float).ravel())
        ol, orr = xin < bk[0], xin > bk[1]
    else:
        if xin.size == 0:
            raise FormulaError(f"{fname}(): no non-missing values in 'x'")
        # R's ns(): a single point gets boundary knots x * c(7, 9) / 8 (distinct knots).
        single = fname == "ns" and xin.size == 1
        bk = xin * np.array([7.0, 9.0]) / 8 if single else np.array([xin.min(), xin.max()])
        ol = orr = np.zeros(xin.size, dtype=bool)
    if df is not None and knots is None:
        n_iknots = int(df) - min_df
        if n_iknots < 0:
            n_iknots = 0
            warn_user(f"{fname}(): 'df' was too small; have used {min_df}", PylmerWarning)
        if n_iknots > 0:
            knots = quantile7(xin[~(ol | orr)], _seq01_inner(n_iknots))
    iknots = np.array([], dtype=float) if knots is None else \
        np.asarray(knots, dtype=float).ravel()
    return nax, xin, bk, ol, orr, iknots


def _design_with_extension(aknots: np.ndarray, x: np.ndarray, ord_: int,
                           pivots: tuple, nterms: int) -> np.ndarray:
    """``splineDesign(aknots, x, ord_)`` continued beyond the boundary knots as R does: for
    each ``(mask, pivot)`` the x in ``mask`` get the Taylor polynomial with ``nterms`` terms
    (value, first derivative, ...) of every basis function about ``pivot``."""
    outside = np.zeros(x.size, dtype=bool)
    for mask, _ in pivots:
        outside |= mask
    if not outside.any():
        return spline_design(aknots, x, ord_)
    basis = np.zeros((x.size, aknots.size - ord_))
    scalef = np.cumprod(np.r_[1.0, np.arange(1, nterms)])  # R's gamma(1:n) = 0!, 1!, ...
    for mask, pivot in pivots:
        if mask.any():
            xl = np.column_stack([np.ones(int(mask.sum()))] +
                                 [_rpow(x[mask] - pivot, p) for p in range(1, nterms)])
            tt = spline_design(aknots, np.repeat(pivot, nterms), ord_, np.arange(nterms))
            basis[mask] = _matprod(xl, tt / scalef[:, None])
    if (~outside).any():
        basis[~outside] = spline_design(aknots, x[~outside], ord_)
    return basis


def _fill_na(basis: np.ndarray, nax: np.ndarray) -> np.ndarray:
    """Put the rows of the non-missing x back among NaN rows (R's ``nmat[!nax, ] <- basis``)."""
    if not nax.any():
        return basis
    out = np.full((nax.size, basis.shape[1]), np.nan)
    out[~nax] = basis
    return out


def bs(x, df: int | None = None, knots=None, degree: int = 3, intercept: bool = False,
       boundary_knots=None) -> tuple[np.ndarray, dict]:
    """``splines::bs``: B-spline basis for a polynomial spline.

    Parameters
    ----------
    x : array_like
        Predictor; NaN gives a NaN row and is ignored for knots and range.
    df : int, optional
        Degrees of freedom: ``df - degree - 1 + intercept`` interior knots at quantiles of x
        (ignored when ``knots`` is given).
    knots : array_like, optional
        Interior knots.
    degree : int, default 3
        Degree of the piecewise polynomial.
    intercept : bool, default False
        Keep the first basis column.
    boundary_knots : array_like of 2, optional
        Default ``range(x)``. When given (as in prediction), x beyond them is extrapolated as
        R does: the Taylor polynomial about a pivot a quarter of the way from the boundary
        knot to the next knot.

    Returns
    -------
    basis : numpy.ndarray
        ``len(x) x (len(knots) + degree + intercept)`` matrix.
    state : dict
        ``{"knots", "boundary_knots", "degree", "intercept"}``: ``bs(newx, **state)`` is
        R's ``predict(<bs>, newx)``.

    Warns
    -----
    PylmerWarning
        As R does, when ``df`` is too small (it is raised to ``degree + intercept``) and when
        some x lie beyond the boundary knots.
    """
    degree = int(degree)
    ord_ = 1 + degree
    if ord_ <= 1:
        raise FormulaError("bs(): 'degree' must be integer >= 1")
    nax, xin, bk, ol, orr, iknots = _setup("bs", x, df, knots, boundary_knots,
                                           degree + int(bool(intercept)))
    aknots = np.sort(np.concatenate([np.repeat(bk, ord_), iknots]))
    if (ol | orr).any():
        warn_user("bs(): some 'x' values beyond boundary knots may cause ill-conditioned "
                  "bases", PylmerWarning)
    e = 0.25
    pivots = ((ol, (1 - e) * bk[0] + e * aknots[ord_]),
              (orr, (1 - e) * bk[1] + e * aknots[aknots.size - ord_ - 1]))
    basis = _design_with_extension(aknots, xin, ord_, pivots, nterms=ord_)
    if not intercept:
        basis = basis[:, 1:]
    state = {"knots": [float(k) for k in iknots], "boundary_knots": [float(b) for b in bk],
             "degree": degree, "intercept": bool(intercept)}
    return _fill_na(basis, nax), state


def ns(x, df: int | None = None, knots=None, intercept: bool = False,
       boundary_knots=None) -> tuple[np.ndarray, dict]:
    """``splines::ns``: B-spline basis for a natural cubic spline.

    Parameters
    ----------
    x : array_like
        Predictor; NaN gives a NaN row and is ignored for knots and range.
    df : int, optional
        Degrees of freedom: ``df - 1 - intercept`` interior knots at quantiles of x (ignored
        when ``knots`` is given).
    knots : array_like, optional
        Interior knots.
    intercept : bool, default False
        Include the intercept in the basis.
    boundary_knots : array_like of 2, optional
        Default ``range(x)``; beyond them the basis is continued linearly.

    Returns
    -------
    basis : numpy.ndarray
        ``len(x) x (len(knots) + 1 + intercept)`` matrix, R's particular basis: the cubic
        B-splines rotated by Q' of R's LINPACK QR of their second derivatives at the
        boundary knots, without the first two (constrained) coordinates.
    state : dict
        ``{"knots", "boundary_knots", "intercept"}``: ``ns(newx, **state)`` is R's
        ``predict(<ns>, newx)``.

    Warns
    -----
    PylmerWarning
        As R does, when ``df`` is too small (it is raised to ``1 + intercept``).
    """
    nax, xin, bk, ol, orr, iknots = _setup("ns", x, df, knots, boundary_knots,
                                           1 + int(bool(intercept)))
    aknots = np.sort(np.concatenate([np.repeat(bk, 4), iknots]))
    # Linear continuation: value and slope of each basis function at the boundary knot.
    basis = _design_with_extension(aknots, xin, 4, ((ol, bk[0]), (orr, bk[1])), nterms=2)
    const = spline_design(aknots, bk, 4, derivs=[2, 2])
    if not intercept:
        const = const[:, 1:]
        basis = basis[:, 1:]
    # The first two coordinates after Q' carry the second derivatives at the boundaries;
    # the remaining ones span the natural splines (zero second derivative there).
    qr, qraux, rank, _ = dqrdc2(const.T)
    basis = qr_qty(qr, qraux, rank, basis.T).T[:, 2:]
    state = {"knots": [float(k) for k in iknots], "boundary_knots": [float(b) for b in bk],
             "intercept": bool(intercept)}
    return _fill_na(basis, nax), state


def _col_sums(x: np.ndarray) -> np.ndarray:
    """R's ``colSums()``: a running sum in long double per column, rounded to double."""
    return np.cumsum(x.astype(np.longdouble), axis=0)[-1].astype(float)


def _r_mean(x: np.ndarray) -> float:
    """R's ``mean()``: a long-double running sum, then one refinement pass."""
    xl = x.astype(np.longdouble)
    s = np.cumsum(xl)[-1] / x.size
    if np.isfinite(s):
        s += np.cumsum(xl - s)[-1] / x.size
    return float(s)


def poly(x, degree: int = 1, raw: bool = False,
         coefs: dict | None = None) -> tuple[np.ndarray, dict | None]:
    """``stats::poly`` for one variable.

    Parameters
    ----------
    x : array_like
        Predictor.
    degree : int, default 1
        Degree of the polynomial.
    raw : bool, default False
        Raw powers ``x, x^2, ...`` instead of orthogonal polynomials.
    coefs : dict, optional
        ``{"alpha": [...], "norm2": [...]}`` from an earlier call (R's ``attr(, "coefs")``):
        evaluate that orthogonal basis at x with the three-term recurrence
        (``predict(<poly>, newdata)``).

    Returns
    -------
    basis : numpy.ndarray
        ``len(x) x degree`` matrix.
    coefs : dict or None
        ``{"alpha", "norm2"}`` for the orthogonal basis, None when ``raw``.

    Raises
    ------
    FormulaError
        For ``degree < 1``, missing values (orthogonal basis) or too few unique points.
    """
    degree = int(degree)
    if degree < 1:
        raise FormulaError("poly(): 'degree' must be at least 1")
    xv = np.asarray(x, dtype=float).ravel()
    if raw:
        return np.column_stack([_rpow(xv, p) for p in range(1, degree + 1)]), None
    if coefs is None:
        if np.isnan(xv).any():
            raise FormulaError("poly(): missing values are not allowed in 'poly'")
        if degree >= np.unique(xv).size:
            raise FormulaError("poly(): 'degree' must be less than number of unique points")
        xbar = _r_mean(xv)
        xc = xv - xbar
        X = np.column_stack([np.ones(xc.size)] + [_rpow(xc, p) for p in range(1, degree + 1)])
        qr, qraux, rank, _ = dqrdc2(X)
        if rank < degree:
            raise FormulaError("poly(): 'degree' must be less than number of unique points")
        # Q applied to diag(R): columns are the orthogonal polynomials, scaled by R's diagonal.
        z = np.zeros_like(qr)
        d = np.arange(min(qr.shape))
        z[d, d] = qr[d, d]
        Z = qr_qy(qr, qraux, rank, z)
        norm2 = _col_sums(Z * Z)
        alpha = (_col_sums(xc[:, None] * (Z * Z)) / norm2 + xbar)[:degree]
        norm2 = np.concatenate([[1.0], norm2])
    else:
        alpha = np.asarray(coefs["alpha"], dtype=float)
        norm2 = np.asarray(coefs["norm2"], dtype=float)
        if alpha.size < degree or norm2.size < degree + 2:
            raise FormulaError("poly(): 'coefs' are too short for this 'degree'")
        Z = np.ones((xv.size, degree + 1))
        Z[:, 1] = xv - alpha[0]
        for i in range(1, degree):
            Z[:, i + 1] = (xv - alpha[i]) * Z[:, i] - (norm2[i + 1] / norm2[i]) * Z[:, i - 1]
    Z = Z / np.sqrt(norm2[1:])[None, :]
    return Z[:, 1:], {"alpha": [float(a) for a in alpha], "norm2": [float(v) for v in norm2]}
