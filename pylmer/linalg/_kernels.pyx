# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled loops of the penalized least squares workspace (see :mod:`pylmer.linalg.kernels`)."""

from libc.math cimport exp, log, sqrt

import numpy as np


def schur_downdate(double[:, ::1] S, const int[::1] indptr, const int[::1] indices,
                   const double[::1] values):
    """``S -= B B'`` on the lower triangle of the C-ordered ``S``, for B given by its
    compressed columns (``indptr``, ``indices`` sorted within each column, ``values``)."""
    cdef Py_ssize_t j, ia, ib, a, start, stop
    cdef double va
    cdef double *row
    with nogil:
        for j in range(indptr.shape[0] - 1):
            start = indptr[j]
            stop = indptr[j + 1]
            for ia in range(start, stop):
                a = indices[ia]
                va = values[ia]
                row = &S[a, 0]
                for ib in range(start, ia + 1):
                    row[indices[ib]] -= va * values[ib]


ctypedef fused z_index:  # Zt's index arrays (scipy's int32, or int64 when large)
    int
    long long

ctypedef fused c_index:  # Z'Z's
    int
    long long

ctypedef fused slot_index:
    int
    long long


def pair_slots(const z_index[::1] indptr, const z_index[::1] indices,
               const c_index[::1] Cp, const c_index[::1] Ci, slot_index[::1] out):
    """For each observation (column of Zt, CSC with sorted indices) and each ordered pair
    (a, b) of its non-zeros (a outer, b inner, a = b included), the slot of the entry
    (row a, column b) in C (CSC, sorted), written into ``out`` (length: the sum of the
    squared counts of the columns of Zt). Returns the number of pairs that have no slot in
    C (0 when C's pattern holds every product of Z's stored entries)."""
    cdef Py_ssize_t i, a, b, t = 0, lo, hi, mid, missing = 0
    cdef long long row
    with nogil:
        for i in range(indptr.shape[0] - 1):
            for a in range(indptr[i], indptr[i + 1]):
                row = indices[a]
                for b in range(indptr[i], indptr[i + 1]):
                    lo, hi = Cp[indices[b]], Cp[indices[b] + 1]
                    while lo < hi:  # the first of column b's rows at or after row a
                        mid = (lo + hi) // 2
                        if Ci[mid] < row:
                            lo = mid + 1
                        else:
                            hi = mid
                    if lo == Cp[indices[b] + 1] or Ci[lo] != row:
                        missing += 1
                        lo = 0
                    out[t] = lo
                    t += 1
    return missing


def accumulate_products(double[::1] out, const z_index[::1] indptr,
                        const double[::1] data, const slot_index[::1] slot,
                        const double[::1] w):
    """Z'WZ's stored values (into ``out``, zeroed first) from the products of each
    observation's pairs of non-zeros in Zt, weighted by ``w``, at the slots
    :func:`pair_slots` found: ``out[slot[t]] += z_a z_b w_i`` over observations i and
    their pairs t = (a, b), with no per-pair array but the slots."""
    cdef Py_ssize_t i, a, b, t = 0
    cdef double wi, za
    with nogil:
        out[:] = 0.0
        for i in range(indptr.shape[0] - 1):
            wi = w[i]
            for a in range(indptr[i], indptr[i + 1]):
                za = data[a]
                for b in range(indptr[i], indptr[i + 1]):
                    out[slot[t]] += za * data[b] * wi
                    t += 1


cdef Py_ssize_t _cholesky_lower(double[:, ::1] A, Py_ssize_t n) noexcept nogil:
    """A = L L' in place on the lower triangle of the row-major A (the strict upper triangle
    is zeroed); 0, or the 1-based index of the first non-positive pivot."""
    cdef Py_ssize_t i, j, k
    cdef double s, t
    for j in range(n):
        s = A[j, j]
        for k in range(j):
            s -= A[j, k] * A[j, k]
        if not s > 0.0:
            return j + 1
        s = sqrt(s)
        A[j, j] = s
        for i in range(j + 1, n):
            t = A[i, j]
            for k in range(j):
                t -= A[i, k] * A[j, k]
            A[i, j] = t / s
            A[j, i] = 0.0
    return 0


cdef void _solve_lower(const double[:, ::1] L, double[:] x, Py_ssize_t n) noexcept nogil:
    """x <- L^-1 x, for the lower triangle of the row-major L."""
    cdef Py_ssize_t a, k
    cdef double s
    for a in range(n):
        s = x[a]
        for k in range(a):
            s -= L[a, k] * x[k]
        x[a] = s / L[a, a]


cdef void _solve_lower_t(const double[:, ::1] L, double[:] x, Py_ssize_t n) noexcept nogil:
    """x <- L'^-1 x, for the lower triangle of the row-major L."""
    cdef Py_ssize_t a, k
    cdef double s
    for a in range(n - 1, -1, -1):
        s = x[a]
        for k in range(a + 1, n):
            s -= L[k, a] * x[k]
        x[a] = s / L[a, a]


cdef int _dense_pls(const double[::1] values, const Py_ssize_t[::1] row_ptr,
                    const Py_ssize_t[::1] col, const Py_ssize_t[::1] at,
                    const double[:, ::1] ZtZ, const double[:, ::1] ZtXy,
                    const double[:, ::1] XtX, const double[::1] Xty, double yty,
                    double[:, ::1] T, double[:, ::1] L, double[:, ::1] RZXcu,
                    double[:, ::1] RX, double[::1] cbeta, double[::1] beta,
                    double *out) noexcept nogil:
    """:class:`DensePls`'s evaluation without the GIL; ``out`` receives ldL2, ldRX2,
    pwrss."""
    cdef Py_ssize_t q = ZtZ.shape[0], m = ZtXy.shape[1], p = XtX.shape[0]
    cdef Py_ssize_t a, b, c, k, r
    cdef double v, s, pwrss
    out[0] = 0.0
    out[1] = 0.0
    out[2] = 0.0
    # T = Z'Z Lambda (column b of Lambda is row b of Lambda'), then L = Lambda' T + I
    T[:, :] = 0.0
    for b in range(q):
        for k in range(row_ptr[b], row_ptr[b + 1]):
            c = col[k]
            v = values[at[k]]
            for a in range(q):
                T[a, b] += ZtZ[a, c] * v
    L[:, :] = 0.0
    RZXcu[:, :] = 0.0
    for a in range(q):
        for k in range(row_ptr[a], row_ptr[a + 1]):
            c = col[k]
            v = values[at[k]]
            for b in range(a + 1):
                L[a, b] += v * T[c, b]
            for r in range(m):
                RZXcu[a, r] += v * ZtXy[c, r]
        L[a, a] += 1.0
    if _cholesky_lower(L, q) != 0:
        return 1
    for a in range(q):
        out[0] += 2.0 * log(L[a, a])
    # forward solves L [RZX | cu] = Lambda'[Z'X | Z'y]
    for r in range(m):
        _solve_lower(L, RZXcu[:, r], q)
    # RX'RX = X'X - RZX'RZX, factored as lower, then stored transposed (upper)
    for a in range(p):
        for b in range(a + 1):
            s = XtX[a, b]
            for k in range(q):
                s -= RZXcu[k, a] * RZXcu[k, b]
            T[a, b] = s
    if _cholesky_lower(T, p) != 0:
        return 2
    for a in range(p):
        out[1] += 2.0 * log(T[a, a])
        for b in range(p):
            RX[b, a] = T[a, b] if b <= a else 0.0
    # RX' cbeta = X'y - RZX' cu; RX beta = cbeta
    for a in range(p):
        s = Xty[a]
        for k in range(q):
            s -= RZXcu[k, a] * RZXcu[k, p]
        cbeta[a] = s
    _solve_lower(T, cbeta, p)
    beta[:] = cbeta
    _solve_lower_t(T, beta, p)
    pwrss = yty
    for a in range(q):
        pwrss -= RZXcu[a, p] * RZXcu[a, p]
    for a in range(p):
        pwrss -= cbeta[a] * cbeta[a]
    if pwrss < 0.0:
        pwrss = 0.0
    out[2] = pwrss
    return 0


cdef class DensePls:
    """The penalized least squares problem of a small model, bound to one set of
    cross-products (Z'Z, [Z'X | Z'y], X'X, X'y) and to Lambda' by rows (``row_ptr``,
    ``col``; ``values[at[k]]`` is the k-th stored value).

    :meth:`evaluate` fills L (``Lambda'Z'Z Lambda + I = L L'``), ``RZXcu = [RZX | cu] =
    L^-1 Lambda'[Z'X | Z'y]``, RX (upper: ``RX'RX = X'X - RZX'RZX``), cbeta and beta, the
    same arrays at every call (valid until the next). The constant inputs are converted
    once: a small model's evaluation is a few microseconds of arithmetic, so per-call
    conversions would cost as much."""

    cdef const Py_ssize_t[::1] row_ptr, col, at
    cdef const double[:, ::1] ZtZ, ZtXy, XtX
    cdef const double[::1] Xty
    cdef double[:, ::1] T, Lv, RZXcuv, RXv
    cdef double[::1] cbetav, betav
    cdef readonly object L, RZXcu, RX, cbeta, beta

    def __init__(self, row_ptr, col, at, ZtZ, ZtXy, XtX, Xty):
        self.row_ptr, self.col, self.at = row_ptr, col, at
        self.ZtZ, self.ZtXy = np.ascontiguousarray(ZtZ), np.ascontiguousarray(ZtXy)
        self.XtX, self.Xty = np.ascontiguousarray(XtX), np.ascontiguousarray(Xty)
        q, m, p = self.ZtZ.shape[0], self.ZtXy.shape[1], self.XtX.shape[0]
        self.T = np.empty((max(q, p, 1), max(q, p, 1)))
        self.L, self.RZXcu = np.empty((q, q)), np.empty((q, m))
        self.RX, self.cbeta, self.beta = np.empty((p, p)), np.empty(p), np.empty(p)
        self.Lv, self.RZXcuv, self.RXv = self.L, self.RZXcu, self.RX
        self.cbetav, self.betav = self.cbeta, self.beta

    def evaluate(self, const double[::1] values, double yty):
        """(0, ldL2, ldRX2, pwrss) at Lambda's stored ``values``; info 1 / 2 when L / RX is
        not positive definite."""
        cdef double out[3]
        cdef int info
        with nogil:
            info = _dense_pls(values, self.row_ptr, self.col, self.at, self.ZtZ, self.ZtXy,
                              self.XtX, self.Xty, yty, self.T, self.Lv, self.RZXcuv,
                              self.RXv, self.cbetav, self.betav, out)
        return info, out[0], out[1], out[2]


def weighted_normal_solve(const double[:, ::1] M, const double[::1] w, const double[::1] z,
                          Py_ssize_t q, double[:, ::1] L, double[::1] sol):
    """Solve ``(M'WM + diag(1 (first q), 0)) sol = M'Wz`` by a Cholesky factor L (lower,
    row-major, filled in): a small GLMM's PIRLS step, M = [Z Lambda | X]. Returns
    (0, log det of the first q rows' block ldL2) or (1, 0.0) if not positive definite."""
    cdef Py_ssize_t n = M.shape[0], m = M.shape[1], i, a, b, ka, kb, k
    cdef double wi, wm, ldL2 = 0.0
    cdef int info = 0
    # the non-zero columns of the current row: Z Lambda is sparse (a row of a vector-valued
    # term's Z Lambda has a non-zero per column of its level's block), and skipping exact
    # zeros leaves every sum as it was
    cdef Py_ssize_t[::1] nz = np.empty(max(m, 1), dtype=np.intp)
    with nogil:
        L[:, :] = 0.0
        sol[:] = 0.0
        for i in range(n):
            wi = w[i]
            k = 0
            for a in range(m):
                if M[i, a] != 0.0:
                    nz[k] = a
                    k += 1
            for ka in range(k):
                a = nz[ka]
                wm = wi * M[i, a]
                sol[a] += wm * z[i]
                for kb in range(ka + 1):
                    b = nz[kb]
                    L[a, b] += wm * M[i, b]
        for a in range(q):
            L[a, a] += 1.0
        if _cholesky_lower(L, m) != 0:
            info = 1
        else:
            for a in range(q):
                ldL2 += 2.0 * log(L[a, a])
            _solve_lower(L, sol, m)
            _solve_lower_t(L, sol, m)
    return info, ldL2


cdef void _add_level_sums(const Py_ssize_t[::1] codes, const double[:, ::1] devres,
                          const double[::1] devc0, const double[:, ::1] uu,
                          const double[::1] logw, const double[::1] sign, double[::1] out,
                          double[::1] devc) noexcept nogil:
    """The knot loop of adaptive Gauss-Hermite quadrature: adds each knot's term
    ``sign_k exp(logw_k - (devc_kj - devc0_j) / 2)`` to ``out[j]`` of every level j
    (``devc`` is scratch of one value per level)."""
    cdef Py_ssize_t n = codes.shape[0], q = devc0.shape[0], K = logw.shape[0], i, j, k
    for k in range(K):
        devc[:] = 0.0
        for i in range(n):
            devc[codes[i]] += devres[k, i]
        for j in range(q):
            out[j] += sign[k] * exp(logw[k] - 0.5 * (devc[j] + uu[k, j] - devc0[j]))


def agq_level_sums(const Py_ssize_t[::1] codes, const double[:, ::1] devres,
                   const double[::1] devc0, const double[:, ::1] uu,
                   const double[::1] logw, const double[::1] sign, double[::1] out):
    """Adds, for each level j, ``sum_k sign_k exp(logw_k - (devc_kj - devc0_j) / 2)`` over
    the knots of one block to ``out`` (``devc0_j`` already holding |u_hat|^2): the knot loop
    of :func:`agq_accumulate`, for rules too large to take in one block."""
    cdef Py_ssize_t n = codes.shape[0], q = devc0.shape[0], K = logw.shape[0]
    if devres.shape[0] != K or devres.shape[1] != n or uu.shape[0] != K or \
            uu.shape[1] != q or sign.shape[0] != K or out.shape[0] != q:
        raise ValueError("agq_level_sums(): arrays of inconsistent lengths")
    devc_arr = np.zeros(q)
    cdef double[::1] devc = devc_arr
    with nogil:
        _add_level_sums(codes, devres, devc0, uu, logw, sign, out, devc)


def agq_accumulate(const Py_ssize_t[::1] codes, const double[:, ::1] devres,
                   const double[::1] devres0, const double[::1] uu0, const double[:, ::1] uu,
                   const double[::1] logw, const double[::1] sign, double w_zero,
                   double ldL2):
    """The adaptive Gauss-Hermite deviance ``sum_j devc0_j + ldL2 - 2 sum_j log(m_j)`` over
    the levels j of one grouping factor (see :mod:`pylmer.agq`).

    ``devres0`` are the deviance residuals at the conditional modes (observation i in level
    ``codes[i]``), ``uu0[j]`` the level's |u_hat|^2; for each knot k but the origin,
    ``devres[k]`` are the residuals with the level's effects moved to that knot, ``uu[k, j]``
    their |u|^2, ``logw[k]`` the log of its weight's size plus |z_k|^2 / 2 and
    ``sign[k]`` its sign; ``w_zero`` is the origin's weight.
    ``m_j = w_zero + sum_k sign_k exp(logw_k - (devc_kj - devc0_j) / 2)``; NaN when an
    m_j is not positive (a sparse grid's negative weights)."""
    cdef Py_ssize_t n = codes.shape[0], q = uu0.shape[0], K = logw.shape[0], i, j
    cdef double total = 0.0, logs = 0.0
    cdef bint positive = True
    if devres.shape[0] != K or devres.shape[1] != n or devres0.shape[0] != n or \
            uu.shape[0] != K or uu.shape[1] != q or sign.shape[0] != K:
        raise ValueError("agq_accumulate(): arrays of inconsistent lengths")
    devc0_arr, mult_arr, devc_arr = np.zeros(q), np.full(q, w_zero), np.zeros(q)
    cdef double[::1] devc0 = devc0_arr, mult = mult_arr, devc = devc_arr
    with nogil:
        for i in range(n):
            devc0[codes[i]] += devres0[i]
        for j in range(q):
            devc0[j] += uu0[j]
        _add_level_sums(codes, devres, devc0, uu, logw, sign, mult, devc)
        for j in range(q):
            total += devc0[j]
            if mult[j] <= 0.0:
                positive = False
            else:
                logs += log(mult[j])
    if not positive:
        return float("nan")
    return total + ldL2 - 2.0 * logs
