# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled PIRLS loops for the two canonical GLMMs, binomial(logit) and poisson(log).

Each pass does what :class:`pylmer.pirls._Response` does with several NumPy calls, in the
same order of operations and with lme4's floors (mu clamped to [eps, 1 - eps] for the
logit, exp(eta) floored at eps for the log link, dlogis and the binomial variance floored
at eps), so the numbers agree to rounding.
"""

from libc.math cimport exp, fabs, log

cdef double EPS = 2.220446049250313e-16

# the kinds
cdef enum:
    _BINOMIAL_LOGIT = 1
    _POISSON_LOG = 2

BINOMIAL_LOGIT = _BINOMIAL_LOGIT
POISSON_LOG = _POISSON_LOG


cdef inline double _xlogy(double x, double y) nogil:
    return x * log(y) if x != 0.0 else 0.0


def working(int kind, const double[::1] eta, const double[::1] mu, const double[::1] y,
            const double[::1] pw, const double[::1] offset, double[::1] w, double[::1] z):
    """PIRLS weights ``pw mu_eta^2 / V(mu)`` and working response
    ``eta - offset + (y - mu) / mu_eta`` into ``w`` and ``z``."""
    cdef Py_ssize_t i, n = eta.shape[0]
    cdef double e, me, v
    with nogil:
        for i in range(n):
            if kind == _BINOMIAL_LOGIT:
                e = exp(-fabs(eta[i]))
                me = e / ((1.0 + e) * (1.0 + e))
                if me < EPS:
                    me = EPS
                v = mu[i] * (1.0 - mu[i])
                if v < EPS:
                    v = EPS
            else:
                me = exp(eta[i])
                if me < EPS:
                    me = EPS
                v = mu[i]
            w[i] = pw[i] * me * me / v
            z[i] = eta[i] - offset[i] + (y[i] - mu[i]) / me


def deviance(int kind, const double[::1] eta, const double[::1] y, const double[::1] pw,
             const double[::1] dev0, double[::1] mu, double[::1] devres):
    """mu and the deviance residuals at ``eta`` into ``mu`` and ``devres``; returns their
    sum (``dev0`` holds the part of each residual that does not depend on mu)."""
    cdef Py_ssize_t i, n = eta.shape[0]
    cdef double m, r, total = 0.0
    with nogil:
        for i in range(n):
            if kind == _BINOMIAL_LOGIT:
                m = 1.0 / (1.0 + exp(-eta[i]))
                if m > 1.0 - EPS:
                    m = 1.0 - EPS
                if m < EPS:
                    m = EPS
                r = dev0[i] - 2.0 * pw[i] * (_xlogy(y[i], m) + _xlogy(1.0 - y[i], 1.0 - m))
            else:
                m = exp(eta[i])
                if m < EPS:
                    m = EPS
                r = dev0[i] - 2.0 * pw[i] * (_xlogy(y[i], m) - m)
            mu[i] = m
            devres[i] = r
            total += r
    return total
