# The compiled Cholesky factor of P (C + I) P' that compiled loops (pylmer._pirls) call at
# C level: see _factor.pyx.

cdef class CompiledFactor:
    cdef readonly Py_ssize_t q
    cdef readonly int q1, q2
    # the pattern: C's upper triangle (CSC, permuted), the elimination tree, L's columns
    cdef const Py_ssize_t[::1] Cp, Ci, parent, Lp
    cdef Py_ssize_t[::1] Li, cnext
    cdef double[::1] Lx, work
    # the blocked layout (q1 > 0): sqrt of the leading diagonal, L21 (q2 x q1, row-major)
    # and the dense rest (q2 x q2, its lower triangle row-major)
    cdef double[::1] sd, L21, S
    # each row of L's pattern (simplicial layout): columns ri[rp[k]:rp[k + 1]] of row k
    cdef const Py_ssize_t[::1] rp, ri

    cdef int factorize(self, const double[::1] Cx) noexcept nogil
    cdef int _blocked_factor(self, const double[::1] Cx) noexcept nogil
    cdef void forward(self, double *x) noexcept nogil
    cdef void backward(self, double *x) noexcept nogil
    cdef double diagonal(self, Py_ssize_t j) noexcept nogil
    cdef double logdet(self) noexcept nogil
