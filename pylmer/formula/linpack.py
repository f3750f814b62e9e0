"""R's LINPACK QR decomposition: ``qr(x, LAPACK = FALSE)``, ``qr.qty`` and ``qr.qy``.

R's default ``qr()`` is not LAPACK's ``dgeqp3`` but ``dqrdc2``, a modified LINPACK ``dqrdc``
with *limited* column pivoting: a column whose remaining norm falls below ``tol`` times its
original norm is moved to the right-hand edge, and the other columns keep their order.
Results that depend on the particular Householder vectors (``splines::ns``, whose basis is
``t(qr.qty(qr(t(const)), t(basis)))``, and ``stats::poly``) are only reproduced column for
column, sign for sign, by following ``dqrdc2.f`` and ``dqrsl.f`` literally, which is what
this module does: same loop order, same sign conventions, same norm down-dating rule.

Storage follows R's ``qr`` object: ``qr`` holds R in its upper triangle and the Householder
vectors below the diagonal, with the first element of vector ``l`` in ``qraux[l]``.
``pivot`` is 0-based here (R's ``$pivot`` minus one).
"""

from __future__ import annotations

import numpy as np

__all__ = ["dqrdc2", "qr_qty", "qr_qy"]

# The reference BLAS that R is usually linked with (netlib 3.11) computes dnrm2 as the square
# root of a plain running sum of squares for mid-range values (Blue's algorithm) and scales
# only outside this range; ddot is a plain running sum too (the unrolling by 5 keeps the
# order). The Householder vectors of columns beyond the rank are built from rounding noise,
# so R's `$qr` there is reproduced only with the same summation order: running sums
# (np.cumsum), not numpy's pairwise or SIMD sums.
_SAFE_LO, _SAFE_HI = 1.4916681462400413e-154, 1.9979190722022350e146  # Blue's tsml, tbig


def _dnrm2(v: np.ndarray) -> float:
    """Euclidean norm of ``v`` (BLAS ``dnrm2``), safe from overflow and underflow."""
    if v.size == 0:
        return 0.0
    av = np.abs(v)
    amax = float(np.max(av))
    if amax == 0.0 or not np.isfinite(amax):
        return amax
    if amax <= _SAFE_HI and not np.any((av < _SAFE_LO) & (av > 0.0)):
        return float(np.sqrt(np.cumsum(v * v)[-1]))
    w = v / amax
    return amax * float(np.sqrt(np.cumsum(w * w)[-1]))


def _ddot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """BLAS ``ddot`` of vector ``a`` with ``b`` (a vector or the columns of a matrix)."""
    prod = a * b if b.ndim == 1 else a[:, None] * b
    return np.cumsum(prod, axis=0)[-1]


def dqrdc2(x: np.ndarray, tol: float = 1e-7) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """QR decomposition with R's limited column pivoting (``qr(x, LAPACK = FALSE)``).

    A line-by-line port of R's ``src/appl/dqrdc2.f``.

    Parameters
    ----------
    x : numpy.ndarray
        The ``n x p`` matrix to decompose (a 1-d array is taken as one column). Not
        modified.
    tol : float, default 1e-7
        R's ``tol``: a column whose norm, after the transformations of the columns to its
        left, is below ``tol`` times its original norm is judged linearly dependent and moved
        to the end.

    Returns
    -------
    qr : numpy.ndarray
        R's ``$qr``: R in the upper triangle, Householder vectors below it (columns in
        pivoted order).
    qraux : numpy.ndarray
        R's ``$qraux`` (length ``p``).
    rank : int
        R's ``$rank``.
    pivot : numpy.ndarray
        R's ``$pivot`` minus one: ``pivot[j]`` is the original index of column ``j``.
    """
    a = np.array(x, dtype=float, order="F", copy=True)
    if a.ndim == 1:
        a = a.reshape(-1, 1, order="F")
    if a.ndim != 2:
        raise ValueError("dqrdc2: 'x' must be a matrix")
    n, p = a.shape
    qraux = np.zeros(p)
    work1 = np.zeros(p)  # work(j,1): the norm last recomputed from scratch
    work2 = np.ones(p)  # work(j,2): the original norm (1 for a zero column)
    jpvt = np.arange(p)

    # Column norms. work2 keeps the *original* norm, the yardstick of the pivoting test.
    if n > 0:
        for j in range(p):
            qraux[j] = _dnrm2(a[:, j])
            work1[j] = qraux[j]
            work2[j] = qraux[j] if qraux[j] != 0.0 else 1.0

    lup = min(n, p)
    k = p + 1  # Fortran: 1 + index of the first column moved to the end
    for l in range(lup):
        # Rotate negligible columns to the right edge. Fortran's test is `l .ge. k` with
        # 1-based l; with 0-based l it is `l + 1 >= k`. Moving only *negligible* columns
        # (instead of choosing the largest, as dqrdc does) keeps the others in their
        # original order, which R's model fitting relies on.
        while not (l + 1 >= k or qraux[l] >= work2[l] * tol):
            a[:, l:] = np.roll(a[:, l:], -1, axis=1)
            jpvt[l:] = np.roll(jpvt[l:], -1)
            qraux[l:] = np.roll(qraux[l:], -1)
            work1[l:] = np.roll(work1[l:], -1)
            work2[l:] = np.roll(work2[l:], -1)
            k -= 1
        if l == n - 1:
            # The last row: no transformation; qraux[l] keeps the (down-dated) norm.
            continue
        # Householder transformation for column l.
        nrmxl = _dnrm2(a[l:, l])
        if nrmxl == 0.0:
            continue
        if a[l, l] != 0.0:
            # Fortran SIGN(nrmxl, x(l,l)): the reflection avoids cancellation in 1 + x(l,l).
            nrmxl = abs(nrmxl) if a[l, l] > 0.0 else -abs(nrmxl)
        a[l:, l] *= 1.0 / nrmxl  # dscal multiplies by the reciprocal, not divides
        a[l, l] = 1.0 + a[l, l]
        v = a[l:, l]
        for j in range(l + 1, p):
            t = -_ddot(v, a[l:, j]) / a[l, l]
            a[l:, j] += t * v
            if qraux[j] != 0.0:
                r = abs(a[l, j]) / qraux[j]
                tt = 1.0 - r * r
                tt = max(tt, 0.0)
                # BDR 9/99: down-date the norm only while the reduction is modest; after a
                # large reduction the down-dated value is inaccurate, so recompute it (the
                # tolerance is on the squared norm).
                if abs(tt) >= 1e-6:
                    qraux[j] = qraux[j] * np.sqrt(tt)
                else:
                    qraux[j] = _dnrm2(a[l + 1:, j])
                    work1[j] = qraux[j]
        # Save the transformation: its first element goes to qraux, R's diagonal to x.
        qraux[l] = a[l, l]
        a[l, l] = -nrmxl
    rank = min(k - 1, n)
    return np.ascontiguousarray(a), qraux, int(rank), jpvt


def _dqrsl_apply(qr: np.ndarray, qraux: np.ndarray, rank: int, y: np.ndarray,
                 transpose: bool) -> np.ndarray:
    """Apply Q' (``transpose=True``, dqrsl job 1000) or Q (job 10000) to the columns of y."""
    qr = np.asarray(qr, dtype=float)
    if qr.ndim == 1:
        qr = qr.reshape(-1, 1)
    qraux = np.asarray(qraux, dtype=float)
    y = np.asarray(y, dtype=float)
    vector = y.ndim == 1
    out = np.array(y.reshape(-1, 1) if vector else y, dtype=float, copy=True)
    n = qr.shape[0]
    if out.shape[0] != n:
        raise ValueError("'qr' and 'y' must have the same number of rows")
    # dqrsl uses min(k, n-1) reflections: with n rows the n-th is the identity.
    ju = min(int(rank), n - 1)
    order = range(ju) if transpose else range(ju - 1, -1, -1)
    for j in order:
        if qraux[j] == 0.0:
            continue  # dqrdc2 left this column untransformed
        v = qr[j:, j].copy()
        v[0] = qraux[j]
        t = -_ddot(v, out[j:, :]) / v[0]
        out[j:, :] += np.outer(v, t)
    return out[:, 0] if vector else out


def qr_qty(qr: np.ndarray, qraux: np.ndarray, rank: int, y: np.ndarray) -> np.ndarray:
    """``qr.qty(QR, y)``: Q' y for a :func:`dqrdc2` decomposition (LINPACK ``dqrsl``).

    Parameters
    ----------
    qr, qraux, rank
        The first three results of :func:`dqrdc2`.
    y : numpy.ndarray
        A vector of length ``n`` or an ``n x m`` matrix (each column is transformed).

    Returns
    -------
    numpy.ndarray
        Q' y, with the shape of ``y``. As in R, only the first ``rank`` reflections are
        applied.
    """
    return _dqrsl_apply(qr, qraux, rank, y, transpose=True)


def qr_qy(qr: np.ndarray, qraux: np.ndarray, rank: int, y: np.ndarray) -> np.ndarray:
    """``qr.qy(QR, y)``: Q y for a :func:`dqrdc2` decomposition (LINPACK ``dqrsl``).

    Parameters
    ----------
    qr, qraux, rank
        The first three results of :func:`dqrdc2`.
    y : numpy.ndarray
        A vector of length ``n`` or an ``n x m`` matrix (each column is transformed).

    Returns
    -------
    numpy.ndarray
        Q y, with the shape of ``y``.
    """
    return _dqrsl_apply(qr, qraux, rank, y, transpose=False)
