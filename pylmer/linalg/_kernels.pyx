# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled loops for the blocked factorization (see :mod:`pylmer.linalg.kernels`)."""


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
