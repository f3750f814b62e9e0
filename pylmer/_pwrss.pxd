# The penalized weighted least-squares step of the compiled PIRLS loop (pylmer._pirls): see
# _pwrss.pyx.

from pylmer.linalg._factor cimport CompiledFactor


cdef class PwrssSolver:
    cdef readonly Py_ssize_t n, q, p
    cdef public double ldL2
    cdef object error  # an exception raised inside a Python-level step, for the loop

    cdef int step(self, const double *w, const double *ratio, const double *eta,
                  const double *offset, bint fit_beta, double *u,
                  double *b) noexcept nogil
    cdef void linpred(self, const double *offset, const double *u, const double *b,
                      bint fit_beta, double *eta) noexcept nogil
    cdef void finish(self) noexcept nogil


cdef class ScalarSolver(PwrssSolver):
    cdef const Py_ssize_t[::1] zp, zj
    cdef const double[::1] zx
    cdef const Py_ssize_t[::1] zobs, zcol
    cdef const double[::1] zval
    cdef double[::1] wz
    cdef const Py_ssize_t[::1] obs, slot
    cdef const double[::1] prod
    cdef const Py_ssize_t[::1] Cp, Ci, cr, cc, perm
    cdef double[::1] Cx, x, lamC, lam, rhs
    cdef CompiledFactor factor
    cdef const double[:, ::1] X
    cdef double[::1] ZtWX, Xtwz, RZX, bsol, wx, Xs, zs
    cdef double[:, ::1] M


cdef class WorkspaceSolver(PwrssSolver):
    cdef object owner, X_arr, L_diag
    cdef const double[:, ::1] X
