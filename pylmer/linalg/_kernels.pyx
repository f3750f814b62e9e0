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


def accumulate_pairs(double[::1] out, const Py_ssize_t[::1] obs, const Py_ssize_t[::1] slot,
                     const double[::1] prod, const double[::1] w):
    """``out[slot[t]] += prod[t] * w[obs[t]]`` for every t, after zeroing ``out``: Z'WZ's
    stored values from the observations' pairs of non-zeros (``np.bincount`` with weights,
    without building the weights)."""
    cdef Py_ssize_t t
    with nogil:
        out[:] = 0.0
        for t in range(slot.shape[0]):
            out[slot[t]] += prod[t] * w[obs[t]]
