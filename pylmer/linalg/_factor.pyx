# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The Cholesky factor ``P (C + I) P' = L L'`` that compiled loops refactor at every step.

C is the upper triangle of a symmetric matrix whose pattern is fixed (``Lambda Z'WZ
Lambda`` for scalar terms, permuted by the workspace's fill-reducing ordering). Two layouts:

- simplicial and sparse, on a symbolic analysis done once (the elimination tree and L's
  column counts, :func:`symbolic`), refactored up-looking as CSparse's ``cs_chol``;
- blocked, as :class:`pylmer.linalg.blocked.BlockCholesky`: a diagonal leading block of
  size q1, a dense L21 and a dense Cholesky of the rest with BLAS and LAPACK (through
  SciPy's Cython bindings).

A compiled loop (``pylmer._pirls``) fills C's values and calls :meth:`factorize`,
:meth:`forward` and :meth:`backward` at C level, without the GIL.
"""

from libc.math cimport log, sqrt
from scipy.linalg.cython_blas cimport dgemv, dsyrk, dtrsv
from scipy.linalg.cython_lapack cimport dpotrf

import numpy as np

# arguments of the BLAS / LAPACK calls (passed by address)
cdef char *_UPPER = b"U"
cdef char *_TRANS = b"T"
cdef char *_NOTRANS = b"N"
cdef int _ONE = 1
cdef double _MINUS_ONE = -1.0, _PLUS_ONE = 1.0


cdef Py_ssize_t _ereach(const Py_ssize_t[::1] Cp, const Py_ssize_t[::1] Ci, Py_ssize_t k,
                        const Py_ssize_t[::1] parent, Py_ssize_t[::1] s,
                        Py_ssize_t[::1] mark) noexcept nogil:
    """The pattern of row k of L (columns < k), in s[top:q], in topological order; the
    marks of those columns and of k are cleared again before returning."""
    cdef Py_ssize_t q = parent.shape[0], top = q, p, i, length
    mark[k] = 1
    for p in range(Cp[k], Cp[k + 1]):
        i = Ci[p]
        if i > k:
            continue
        length = 0
        while mark[i] == 0:
            s[length] = i
            length += 1
            mark[i] = 1
            i = parent[i]
        while length > 0:
            top -= 1
            length -= 1
            s[top] = s[length]
    for p in range(top, q):
        mark[s[p]] = 0
    mark[k] = 0
    return top


def symbolic(const Py_ssize_t[::1] Cp, const Py_ssize_t[::1] Ci):
    """Elimination tree and column pointers of L for the upper triangle C (CSC, sorted)."""
    cdef Py_ssize_t q = Cp.shape[0] - 1, k, p, i, inext, top
    parent_arr = np.full(q, -1, dtype=np.intp)
    ancestor_arr = np.full(q, -1, dtype=np.intp)
    counts_arr = np.ones(q, dtype=np.intp)
    cdef Py_ssize_t[::1] parent = parent_arr, ancestor = ancestor_arr, counts = counts_arr
    cdef Py_ssize_t[::1] s = np.empty(q, dtype=np.intp), mark = np.zeros(q, dtype=np.intp)
    with nogil:
        for k in range(q):  # Liu's algorithm with path compression (cs_etree)
            for p in range(Cp[k], Cp[k + 1]):
                i = Ci[p]
                while i != -1 and i < k:
                    inext = ancestor[i]
                    ancestor[i] = k
                    if inext == -1:
                        parent[i] = k
                    i = inext
        for k in range(q):  # row k of L holds a non-zero in each column its ereach gives
            top = _ereach(Cp, Ci, k, parent, s, mark)
            for p in range(top, q):
                counts[s[p]] += 1
    Lp = np.zeros(q + 1, dtype=np.intp)
    np.cumsum(counts_arr, out=Lp[1:])
    return parent_arr, Lp


cdef class CompiledFactor:
    """``P (C + I) P' = L L'`` for C's pattern (``Cp``, ``Ci``: its upper triangle, CSC,
    sorted); blocked when ``q1 > 0`` (C's first q1 columns hold only their diagonal)."""

    def __init__(self, Cp, Ci, int q1=0):
        q = len(Cp) - 1
        self.q, self.Cp, self.Ci = q, Cp, Ci
        self.q1, self.q2 = q1, (q - q1 if q1 > 0 else 0)
        self.sd, self.L21 = np.empty(max(q1, 1)), np.empty(max(self.q2 * q1, 1))
        self.S = np.empty(max(self.q2 * self.q2, 1))
        self.parent, self.Lp = symbolic(Cp, Ci) if q1 == 0 else (
            np.zeros(1, dtype=np.intp), np.zeros(q + 1, dtype=np.intp))
        nnzL = self.Lp[q]
        self.Li, self.Lx = np.empty(nnzL, dtype=np.intp), np.empty(nnzL)
        # the pattern of each row of L (its ereach, in topological order), computed once:
        # the numeric factorization then walks it without the elimination tree
        self.rp, self.ri = self._row_patterns() if q1 == 0 else (
            np.zeros(q + 1, dtype=np.intp), np.zeros(1, dtype=np.intp))
        self.work = np.zeros(q)
        self.cnext = np.empty(q, dtype=np.intp)

    def _row_patterns(self):
        cdef Py_ssize_t q = self.q, k, t, top, at = 0
        rp_arr = np.zeros(q + 1, dtype=np.intp)
        ri_arr = np.empty(max(self.Lp[q] - q, 1), dtype=np.intp)
        cdef Py_ssize_t[::1] rp = rp_arr, ri = ri_arr
        cdef Py_ssize_t[::1] s = np.empty(q, dtype=np.intp), mark = np.zeros(q, dtype=np.intp)
        for k in range(q):
            top = _ereach(self.Cp, self.Ci, k, self.parent, s, mark)
            for t in range(top, q):
                ri[at] = s[t]
                at += 1
            rp[k + 1] = at
        return rp_arr, ri_arr

    cdef double logdet(self) noexcept nogil:
        """log |L|^2 of the last factorization (summed in the order of L's columns)."""
        cdef Py_ssize_t j
        cdef double out = 0.0
        if self.q1 > 0:
            for j in range(self.q1):
                out += 2.0 * log(self.sd[j])
            for j in range(self.q2):
                out += 2.0 * log(self.S[j * self.q2 + j])
            return out
        for j in range(self.q):
            out += 2.0 * log(self.Lx[self.Lp[j]])
        return out

    def nnz(self):
        """Stored entries of L."""
        if self.q1 > 0:
            return self.q1 * (1 + self.q2) + self.q2 * (self.q2 + 1) // 2
        return self.Lp[self.q]

    cdef double diagonal(self, Py_ssize_t j) noexcept nogil:
        """L's j-th diagonal entry (permuted order)."""
        if self.q1 > 0:
            return self.sd[j] if j < self.q1 else self.S[(j - self.q1) * (self.q2 + 1)]
        return self.Lx[self.Lp[j]]

    cdef int factorize(self, const double[::1] Cx) noexcept nogil:
        """L of ``P (C + I) P'`` from C's values (the upper triangle, + I already on the
        diagonal); its log-determinant is :meth:`logdet`. 1 if not positive definite."""
        cdef Py_ssize_t q = self.q, t, i, p, k
        cdef double d, lki
        cdef double[::1] Lx = self.Lx, x = self.work
        cdef Py_ssize_t[::1] Li = self.Li, cnext = self.cnext
        cdef const Py_ssize_t[::1] rp = self.rp, ri = self.ri
        if self.q1 > 0:
            return self._blocked_factor(Cx)
        # up-looking Cholesky (cs_chol): row k of L from its pattern
        for k in range(q):
            cnext[k] = self.Lp[k]
        for k in range(q):
            x[k] = 0.0
            for p in range(self.Cp[k], self.Cp[k + 1]):
                if self.Ci[p] <= k:
                    x[self.Ci[p]] = Cx[p]
            d = x[k]
            x[k] = 0.0
            for t in range(rp[k], rp[k + 1]):
                i = ri[t]
                lki = x[i] / Lx[self.Lp[i]]
                x[i] = 0.0
                for p in range(self.Lp[i] + 1, cnext[i]):
                    x[Li[p]] -= Lx[p] * lki
                d -= lki * lki
                p = cnext[i]
                cnext[i] += 1
                Li[p] = k
                Lx[p] = lki
            if not d > 0.0:
                return 1
            p = cnext[k]
            cnext[k] += 1
            Li[p] = k
            Lx[p] = sqrt(d)
        return 0

    cdef int _blocked_factor(self, const double[::1] Cx) noexcept nogil:
        """:meth:`factorize` for the blocked layout (the permutation is the identity; C's
        columns below q1 hold only their diagonal)."""
        cdef int q1 = self.q1, q2 = self.q2, info = 0
        cdef Py_ssize_t j, p, i
        cdef double *sd = &self.sd[0]
        cdef double *L21 = &self.L21[0]
        cdef double *S = &self.S[0]
        for j in range(q1):
            sd[j] = sqrt(Cx[self.Cp[j + 1] - 1])
        self.L21[:] = 0.0
        self.S[:] = 0.0
        for j in range(q1, q1 + q2):  # column j of C: rows < q1 are A21', the rest A22
            for p in range(self.Cp[j], self.Cp[j + 1]):
                i = self.Ci[p]
                if i < q1:
                    L21[(j - q1) * q1 + i] = Cx[p] / sd[i]
                else:
                    S[(j - q1) * q2 + (i - q1)] = Cx[p]
        # S -= L21 L21' on S's lower triangle: the upper triangle of S as Fortran sees it,
        # with L21 (row-major) Fortran's q1 x q2 matrix L21'
        dsyrk(_UPPER, _TRANS, &q2, &q1, &_MINUS_ONE, L21, &q1, &_PLUS_ONE, S, &q2)
        dpotrf(_UPPER, &q2, S, &q2, &info)
        if info != 0:
            return 1
        return 0

    cdef void forward(self, double *x) noexcept nogil:
        """x <- L^-1 x (x in the permuted order)."""
        cdef Py_ssize_t j, p
        cdef int q1 = self.q1, q2 = self.q2
        if q1 > 0:  # x1 /= sd, x2 = L22^-1 (x2 - L21 x1)
            for j in range(q1):
                x[j] /= self.sd[j]
            dgemv(_TRANS, &q1, &q2, &_MINUS_ONE, &self.L21[0], &q1, x, &_ONE, &_PLUS_ONE,
                  x + q1, &_ONE)
            dtrsv(_UPPER, _TRANS, _NOTRANS, &q2, &self.S[0], &q2, x + q1, &_ONE)
            return
        for j in range(self.q):
            x[j] /= self.Lx[self.Lp[j]]
            for p in range(self.Lp[j] + 1, self.Lp[j + 1]):
                x[self.Li[p]] -= self.Lx[p] * x[j]

    cdef void backward(self, double *x) noexcept nogil:
        """x <- L'^-1 x (x in the permuted order)."""
        cdef Py_ssize_t j, p
        cdef int q1 = self.q1, q2 = self.q2
        if q1 > 0:  # x2 = L22'^-1 x2, x1 = (x1 - L21' x2) / sd
            dtrsv(_UPPER, _NOTRANS, _NOTRANS, &q2, &self.S[0], &q2, x + q1, &_ONE)
            dgemv(_NOTRANS, &q1, &q2, &_MINUS_ONE, &self.L21[0], &q1, x + q1, &_ONE,
                  &_PLUS_ONE, x, &_ONE)
            for j in range(q1):
                x[j] /= self.sd[j]
            return
        for j in range(self.q - 1, -1, -1):
            for p in range(self.Lp[j] + 1, self.Lp[j + 1]):
                x[j] -= self.Lx[p] * x[self.Li[p]]
            x[j] /= self.Lx[self.Lp[j]]
