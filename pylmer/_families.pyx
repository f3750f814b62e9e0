# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled kernels of the families with an extra parameter (:mod:`pylmer.family`).

:func:`trigamma`: psi'(x) for x > 0, which the observed information of ``nbinom1`` and
the expected information of ``beta_family`` need at every PIRLS step (SciPy's
``polygamma(1, x)`` goes through the Hurwitz zeta function and costs ten times more). The
ordinal family's kernel is the response kernel's (``pylmer._response``).
"""

import numpy as np

cdef inline double _trigamma(double x) noexcept nogil:
    """Recurrence up to x >= 10, then the asymptotic series (Bernoulli numbers B2..B14):
    relative error below 1e-15 for x > 0."""
    cdef double r = 0.0, z, z2
    while x < 10.0:
        r += 1.0 / (x * x)
        x += 1.0
    z = 1.0 / x
    z2 = z * z
    r += z + 0.5 * z2 + z * z2 * (1.0 / 6.0 - z2 * (1.0 / 30.0 - z2 * (1.0 / 42.0 - z2 * (
        1.0 / 30.0 - z2 * (5.0 / 66.0 - z2 * (691.0 / 2730.0 - z2 * 7.0 / 6.0))))))
    return r


def trigamma(x):
    """psi'(x), elementwise, for x > 0 (an array of any shape)."""
    arr = np.ascontiguousarray(x, dtype=float)
    out = np.empty_like(arr)
    cdef double[::1] xv = arr.reshape(-1)
    cdef double[::1] ov = out.reshape(-1)
    cdef Py_ssize_t i
    cdef double nan = float("nan")
    with nogil:
        for i in range(xv.shape[0]):
            ov[i] = _trigamma(xv[i]) if xv[i] > 0.0 else nan
    return out
