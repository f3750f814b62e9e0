# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The profiled LMM criterion of many responses on one design, each at its own theta.

For an LMM, L(theta), RZX(theta) and RX(theta) do not depend on the response: a response
enters only through ``Z'y``, ``X'y`` and ``y'y``. :class:`BatchLmm` holds the design's
cross-products once and evaluates rows ``(theta, response)`` in one compiled loop:

1. ``C = Lambda' Z'Z Lambda + I`` in the factor's pattern, as a sum over the products
   ``theta_a theta_b`` (the pattern's coefficients are built once, in Python);
2. ``L`` by :class:`~pylmer.linalg._factor.CompiledFactor` (simplicial or blocked);
3. ``RZX = L^-1 P Lambda' Z'X`` and ``RX' RX = X'X - RZX' RZX``;
4. ``cu = L^-1 P Lambda' Z'y``, ``cbeta = RX'^-1 (X'y - RZX' cu)`` and
   ``pwrss = y'y - |cu|^2 - |cbeta|^2``.

Steps 1-3 depend on theta alone: consecutive rows at the same theta share them, so a
batch evaluated on a shared grid of thetas costs one factorization per grid point.
"""

from libc.math cimport INFINITY, log, sqrt, M_PI

from ._factor cimport CompiledFactor

import numpy as np

cdef double LOG_2PI = log(2.0 * M_PI)


cdef class BatchLmm:
    """The compiled evaluation of one design's profiled criterion for many responses.

    Parameters
    ----------
    Cp, Ci, q1 :
        The pattern of C's upper triangle (permuted, CSC) and the blocked layout's leading
        diagonal block (0: simplicial), as :class:`CompiledFactor` takes them.
    term_slot, term_a, term_b, term_coef :
        ``C[slot] += coef * theta[a] * theta[b]`` builds C's values.
    diag_slot : (q,) int
        The slot of each diagonal entry of C (permuted order).
    lt_ptr, lt_col, lt_theta :
        ``Lambda'`` by rows in the permuted order: row r of ``P Lambda'`` holds
        ``theta[lt_theta[e]]`` in column ``lt_col[e]`` for e in ``lt_ptr[r]:lt_ptr[r+1]``.
    ZtX : (q, p) float, XtX : (p, p) float
        The design's (weighted) cross-products, in the original order of Z's columns.
    Zty : (m, q), Xty : (m, p), yty : (m,)
        The responses' cross-products.
    n, REML, ldW :
        Observations, the criterion (REML or ML deviance), log-determinant of the weights.
    """

    cdef CompiledFactor factor
    cdef const Py_ssize_t[::1] term_slot, term_a, term_b, diag_slot, lt_ptr, lt_col
    cdef const Py_ssize_t[::1] lt_theta
    cdef const double[::1] term_coef, yty
    cdef const double[:, ::1] ZtX, XtX, Zty, Xty
    cdef readonly Py_ssize_t q, p, k, nresp
    cdef readonly double n, ldW
    cdef readonly bint REML
    # per-theta state: C's values, RZX (p rows of q, permuted), RX (upper, row-major)
    cdef double[::1] Cx, lam, RZXt, RX, last_theta, work, cbeta
    cdef double ldL2, ldRX2, pwrss  # pwrss: of the last response evaluated
    cdef int state  # 0: no theta yet, 1: factor and RX current, 2: not positive definite
    cdef object args

    def __init__(self, Cp, Ci, int q1, term_slot, term_a, term_b, term_coef,
                 diag_slot, lt_ptr, lt_col, lt_theta, ZtX, XtX, Zty, Xty, yty, double n,
                 bint REML, double ldW, Py_ssize_t k):
        self.args = (Cp, Ci, q1, term_slot, term_a, term_b, term_coef, diag_slot, lt_ptr,
                     lt_col, lt_theta, ZtX, XtX, Zty, Xty, yty, n, REML, ldW, k)
        factor = self.factor = CompiledFactor(Cp, Ci, q1)
        self.term_slot, self.term_a, self.term_b = term_slot, term_a, term_b
        self.term_coef, self.diag_slot = term_coef, diag_slot
        self.lt_ptr, self.lt_col, self.lt_theta = lt_ptr, lt_col, lt_theta
        self.ZtX, self.XtX, self.Zty, self.Xty, self.yty = ZtX, XtX, Zty, Xty, yty
        self.q, self.p, self.k = factor.q, XtX.shape[0], k
        self.nresp = Zty.shape[0]
        self.n, self.REML, self.ldW = n, REML, ldW
        self.Cx = np.zeros(len(Ci))
        self.lam = np.zeros(k)
        self.RZXt = np.zeros(max(self.p * self.q, 1))
        self.RX = np.zeros(max(self.p * self.p, 1))
        self.last_theta = np.zeros(k)
        self.work = np.zeros(self.q)
        self.cbeta = np.zeros(max(self.p, 1))
        self.state = 0

    cdef void _lambda_t(self, const double *theta, const double *v, double *out) noexcept nogil:
        """out = P Lambda' v."""
        cdef Py_ssize_t r, e
        cdef double s
        for r in range(self.q):
            s = 0.0
            for e in range(self.lt_ptr[r], self.lt_ptr[r + 1]):
                s = s + theta[self.lt_theta[e]] * v[self.lt_col[e]]
            out[r] = s

    cdef int _set_theta(self, const double *theta) noexcept nogil:
        """Factor, RZX and RX at theta (kept while theta does not change)."""
        cdef Py_ssize_t i, j, l, t, q = self.q, p = self.p
        cdef double s
        cdef double *RZXt = &self.RZXt[0]
        cdef double *RX = &self.RX[0]
        if self.state != 0:
            for i in range(self.k):
                if theta[i] != self.last_theta[i]:
                    break
            else:
                return self.state
        for i in range(self.k):
            self.last_theta[i] = theta[i]
        self.Cx[:] = 0.0
        for t in range(self.term_slot.shape[0]):
            self.Cx[self.term_slot[t]] += (self.term_coef[t] * theta[self.term_a[t]]
                                           * theta[self.term_b[t]])
        for i in range(q):
            self.Cx[self.diag_slot[i]] += 1.0
        self.state = 2
        if self.factor.factorize(self.Cx) != 0:
            return self.state
        self.ldL2 = self.factor.logdet()
        for j in range(p):  # RZX's column j = L^-1 P Lambda' (Z'X)[:, j]
            for i in range(q):
                self.work[i] = self.ZtX[i, j]
            self._lambda_t(theta, &self.work[0], RZXt + j * q)
            self.factor.forward(RZXt + j * q)
        # RX upper with RX' RX = X'X - RZX' RZX (Cholesky, row by row)
        self.ldRX2 = 0.0
        for i in range(p):
            for j in range(i, p):
                s = self.XtX[i, j]
                for l in range(q):
                    s = s - RZXt[i * q + l] * RZXt[j * q + l]
                for l in range(i):
                    s = s - RX[l * p + i] * RX[l * p + j]
                if i == j:
                    if not s > 0.0:
                        return self.state
                    RX[i * p + i] = sqrt(s)
                    self.ldRX2 += 2.0 * log(RX[i * p + i])
                else:
                    RX[i * p + j] = s / RX[i * p + i]
        self.state = 1
        return self.state

    cdef double _criterion(self, const double *theta, Py_ssize_t g,
                           double *cu) noexcept nogil:
        """The criterion of response g at theta (inf where it is not defined); cu and
        self.cbeta hold its solution."""
        cdef Py_ssize_t i, j, q = self.q, p = self.p
        cdef double s, pwrss, df
        cdef double *RX = &self.RX[0]
        cdef double *cbeta = &self.cbeta[0]
        if self._set_theta(theta) != 1:
            return INFINITY
        self._lambda_t(theta, &self.Zty[g, 0], cu)
        self.factor.forward(cu)
        pwrss = self.yty[g]
        for i in range(q):
            pwrss = pwrss - cu[i] * cu[i]
        for i in range(p):  # RX' cbeta = X'y - RZX' cu
            s = self.Xty[g, i]
            for j in range(q):
                s = s - self.RZXt[i * q + j] * cu[j]
            for j in range(i):
                s = s - RX[j * p + i] * cbeta[j]
            cbeta[i] = s / RX[i * p + i]
            pwrss = pwrss - cbeta[i] * cbeta[i]
        self.pwrss = pwrss
        if not pwrss > 0.0:
            return INFINITY
        df = self.n - p if self.REML else self.n
        s = self.ldL2 - self.ldW + df * (1.0 + LOG_2PI + log(pwrss / df))
        return s + self.ldRX2 if self.REML else s

    def criterion(self, const double[:, ::1] theta, const Py_ssize_t[::1] resp):
        """The criterion of response ``resp[i]`` at ``theta[i]``, for every row i (inf
        where Lambda'Z'Z Lambda + I or the fixed-effects part is not positive definite, or
        the response is fitted exactly)."""
        cdef Py_ssize_t i, m = theta.shape[0]
        out_arr = np.empty(m)
        cdef double[::1] out = out_arr
        with nogil:
            for i in range(m):
                out[i] = self._criterion(&theta[i, 0], resp[i], &self.work[0])
        return out_arr

    def solution(self, const double[:, ::1] theta, const Py_ssize_t[::1] resp):
        """(criterion, beta, diag((RX' RX)^-1), pwrss) of each row: the estimates, the
        unscaled variances of beta and the penalized residual sum of squares."""
        cdef Py_ssize_t i, j, l, t, m = theta.shape[0], p = self.p
        cdef double s
        crit_arr, beta_arr = np.empty(m), np.full((m, p), np.nan)
        vdiag_arr, pwrss_arr = np.full((m, p), np.nan), np.full(m, np.nan)
        cdef double[::1] crit = crit_arr, pwrss = pwrss_arr
        cdef double[:, ::1] beta = beta_arr, vdiag = vdiag_arr
        cdef double[::1] Rinv = np.zeros(max(p * p, 1))
        cdef double *RX
        with nogil:
            for i in range(m):
                crit[i] = self._criterion(&theta[i, 0], resp[i], &self.work[0])
                if crit[i] == INFINITY:
                    continue
                RX = &self.RX[0]
                pwrss[i] = self.pwrss
                for j in range(p - 1, -1, -1):  # RX beta = cbeta
                    s = self.cbeta[j]
                    for l in range(j + 1, p):
                        s = s - RX[j * p + l] * beta[i, l]
                    beta[i, j] = s / RX[j * p + j]
                for j in range(p):  # RX^-1, upper, column by column
                    for l in range(j, -1, -1):
                        s = 1.0 if l == j else 0.0
                        for t in range(l + 1, j + 1):
                            s = s - RX[l * p + t] * Rinv[t * p + j]
                        Rinv[l * p + j] = s / RX[l * p + l]
                for j in range(p):  # (RX'RX)^-1 = RX^-1 RX^-T: row sums of squares
                    s = 0.0
                    for l in range(j, p):
                        s = s + Rinv[j * p + l] * Rinv[j * p + l]
                    vdiag[i, j] = s
        return crit_arr, beta_arr, vdiag_arr, pwrss_arr

    def __reduce__(self):  # pickled for a worker: the arrays, not the buffers
        return (BatchLmm, self.args)

    def copy(self):
        """The same design with its own buffers (one per thread)."""
        return BatchLmm(*self.args)
