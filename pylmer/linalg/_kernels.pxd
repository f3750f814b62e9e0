# The dense kernels of _kernels.pyx that other compiled modules call (pylmer._pirls).

cdef Py_ssize_t _cholesky_lower(double[:, ::1] A, Py_ssize_t n) noexcept nogil
cdef void _solve_lower(const double[:, ::1] L, double[:] x, Py_ssize_t n) noexcept nogil
cdef void _solve_lower_t(const double[:, ::1] L, double[:] x, Py_ssize_t n) noexcept nogil
