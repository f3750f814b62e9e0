# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled kernels of the families with an extra parameter (:mod:`pylmer.family`).

- :func:`trigamma`: psi'(x) for x > 0, which the observed information of ``nbinom1`` and
  the expected information of ``beta_family`` need at every PIRLS step (SciPy's
  ``polygamma(1, x)`` goes through the Hurwitz zeta function and costs ten times more);
- :func:`cumulative_parts`: for the cumulative-link (ordinal) family, one pass giving
  P(Y = y | eta), the score and the observed and expected information in eta.
"""

from libc.math cimport erfc, exp, expm1, fabs, isfinite

import numpy as np

cdef double INV_SQRT_2PI = 0.398942280401432677939946059934
cdef double SQRT1_2 = 0.707106781186547524400844362105
cdef double TINY = 1e-300

LINKS = {"logit": 0, "probit": 1, "cloglog": 2}


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


cdef inline void _cdf(int link, double x, double *F, double *S, double *f,
                      double *df) noexcept nogil:
    """F(x), 1 - F(x), the density and its derivative; exact 0 / 1 at +-infinity."""
    cdef double e, ex
    if not isfinite(x):
        F[0] = 1.0 if x > 0 else 0.0
        S[0] = 1.0 - F[0]
        f[0] = 0.0
        df[0] = 0.0
        return
    if link == 0:  # logistic
        e = exp(-fabs(x))
        if x >= 0:
            F[0] = 1.0 / (1.0 + e)
            S[0] = e / (1.0 + e)
        else:
            F[0] = e / (1.0 + e)
            S[0] = 1.0 / (1.0 + e)
        f[0] = F[0] * S[0]
        df[0] = f[0] * (S[0] - F[0])
    elif link == 1:  # standard normal
        F[0] = 0.5 * erfc(-x * SQRT1_2)
        S[0] = 0.5 * erfc(x * SQRT1_2)
        f[0] = INV_SQRT_2PI * exp(-0.5 * x * x)
        df[0] = -x * f[0]
    else:  # complementary log-log: F = 1 - exp(-exp(x))
        ex = exp(x) if x < 700.0 else exp(700.0)
        S[0] = exp(-ex)
        F[0] = -expm1(-ex)
        f[0] = ex * S[0]
        df[0] = f[0] * (1.0 - ex)


def cumulative_parts(int link, const double[::1] bounds, const double[::1] y,
                     const double[::1] eta, bint expected):
    """(P, score, observed information, expected information or None) at eta.

    ``bounds`` = (-inf, alpha_1, ..., alpha_{J-1}, +inf); ``y`` the category codes
    0..J-1. P is the difference of F where both arguments are below their midpoint 0 and
    of 1 - F above it, so that neither tail loses digits.
    """
    cdef Py_ssize_t n = eta.shape[0], J = bounds.shape[0] - 1, i, j, c
    P_arr, s_arr, h_arr = np.empty(n), np.empty(n), np.empty(n)
    e_arr = np.empty(n) if expected else None
    cdef double[::1] P = P_arr, s = s_arr, h = h_arr
    cdef double[::1] ex
    if expected:
        ex = e_arr
    cdef double Fu, Su, fu, dfu, Fl, Sl, fl, dfl, p, N, total, Fa, Sa, fa, dfa, Fb, Sb, fb, dfb
    cdef double up, lo
    with nogil:
        for i in range(n):
            c = <Py_ssize_t> y[i]
            up = bounds[c + 1] - eta[i]
            lo = bounds[c] - eta[i]
            _cdf(link, up, &Fu, &Su, &fu, &dfu)
            _cdf(link, lo, &Fl, &Sl, &fl, &dfl)
            p = Fu - Fl if up + lo < 0.0 else Sl - Su
            if p < TINY:
                p = TINY
            N = fu - fl
            P[i] = p
            s[i] = -N / p
            h[i] = s[i] * s[i] - (dfu - dfl) / p
            if expected:
                total = 0.0
                _cdf(link, bounds[0] - eta[i], &Fb, &Sb, &fb, &dfb)
                for j in range(J):
                    _cdf(link, bounds[j + 1] - eta[i], &Fa, &Sa, &fa, &dfa)
                    up = bounds[j + 1] - eta[i]
                    lo = bounds[j] - eta[i]
                    p = Fa - Fb if up + lo < 0.0 else Sb - Sa
                    if p > TINY:
                        total += (fa - fb) * (fa - fb) / p
                    Fb, Sb, fb = Fa, Sa, fa
                ex[i] = total
    return P_arr, s_arr, h_arr, e_arr
