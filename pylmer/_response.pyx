# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The response kernel of the compiled GLMM loops: binomial(logit), poisson(log), Gamma(log).

One pass over the observations gives, at a linear predictor eta, what PIRLS needs: mu, the
deviance residuals, the working weights and ``(y - mu) / mu_eta`` (the working response less
eta - offset), and the mu-dependent part of the log-likelihood; with lme4's floors (mu
clamped to [eps, 1 - eps] for the logit, exp(eta) floored at eps for the log link, dlogis
and the binomial variance floored at eps), so the numbers agree with lme4's to rounding.
:class:`pylmer.pirls._Response` uses it for these families, the compiled PIRLS loop
(``pylmer._pirls``) calls it at C level, and adaptive Gauss-Hermite quadrature asks it for
the deviance residuals at every knot (:meth:`ResponseKernel.devres_at`).
"""

from libc.math cimport exp, fabs, log

import numpy as np

cdef double EPS = 2.220446049250313e-16

KINDS = {("binomial", "logit"): BINOMIAL_LOGIT, ("poisson", "log"): POISSON_LOG,
         ("Gamma", "log"): GAMMA_LOG}


cdef inline double _logit_mu(double eta, double e, double *om, double *me) noexcept nogil:
    """mu = plogis(eta) from e = exp(-|eta|), clamped to [eps, 1 - eps] as lme4; 1 - mu (from
    the clamped mu, as lme4) in om, dlogis(eta) floored at eps in me."""
    cdef double inv = 1.0 / (1.0 + e)
    cdef double m = inv if eta >= 0.0 else e * inv
    if m > 1.0 - EPS:
        m = 1.0 - EPS
    elif m < EPS:
        m = EPS
    om[0] = 1.0 - m
    me[0] = e * inv * inv
    if me[0] < EPS:
        me[0] = EPS
    return m


cdef inline double _binomial_devres(double dev0, double pw, double y, double lm,
                                    double lom) noexcept nogil:
    """The binomial deviance residual from log mu and log(1 - mu) (a log not needed for
    y = 0 or y = 1 may be anything)."""
    return dev0 - 2.0 * pw * ((y * lm if y != 0.0 else 0.0)
                              + ((1.0 - y) * lom if y != 1.0 else 0.0))


cdef inline double _log_link_devres(int kind, double dev0, double pw, double y, double m,
                                    double lm) noexcept nogil:
    """The Poisson or Gamma deviance residual from mu and log mu (dev0: its part that does
    not depend on mu; Gamma's -2 pw (log(y / mu) - (y - mu) / mu) has dev0 = -2 pw log y)."""
    if kind == POISSON_LOG:
        return dev0 - 2.0 * pw * ((y * lm if y != 0.0 else 0.0) - m)
    return dev0 + 2.0 * pw * (lm + (y - m) / m)


cdef class ResponseKernel:
    """The response pass for one response: ``kind`` (see ``KINDS``), y, the prior weights,
    ``dev0`` (each deviance residual's part that does not depend on mu) and the
    log-likelihood's coefficients ``llk`` and ``llf`` (of log mu and log(1 - mu), binomial;
    of y log mu - mu through ``llk`` = prior weights, Poisson; unused for Gamma). With
    ``vector`` the pass calls NumPy's vectorized exp and log between compiled passes."""

    def __init__(self, int kind, y, pw, dev0, llk, llf, bint vector=False):
        if kind not in (BINOMIAL_LOGIT, POISSON_LOG, GAMMA_LOG):
            raise ValueError(f"ResponseKernel(): unknown kind {kind}")
        self.kind, self.n = kind, len(y)
        self.y, self.pw, self.dev0, self.llk, self.llf = y, pw, dev0, llk, llf
        y_arr, llk_arr, llf_arr = np.asarray(y), np.asarray(llk), np.asarray(llf)
        self.binary = bool(np.all((y_arr == 0.0) | (y_arr == 1.0))
                           and np.all(llk_arr[y_arr == 0.0] == 0.0)
                           and np.all(llf_arr[y_arr == 1.0] == 0.0))
        self.vector = vector
        self.vt_arr, self.ve_arr = np.empty(len(y)), np.empty(len(y))
        self.vx_arr, self.vx2_arr = np.empty(len(y)), np.empty(len(y))
        self.vt, self.ve, self.vx, self.vx2 = self.vt_arr, self.ve_arr, self.vx_arr, self.vx2_arr

    cdef double respond(self, const double *eta, double *mu, double *devres, double *w,
                         double *ratio, double *loglik) noexcept nogil:
        """mu, the deviance residuals, PIRLS's weights and ``(y - mu) / mu_eta`` (the
        working response less eta - offset) at eta; returns the residuals' sum, and the
        mu-dependent part of the log-likelihood in loglik."""
        if self.vector:
            return self._respond_vector(eta, mu, devres, w, ratio, loglik)
        cdef Py_ssize_t i
        cdef double m, om, lm, lom, me, v, r, yi, total = 0.0, ll = 0.0
        for i in range(self.n):
            yi = self.y[i]
            if self.kind == BINOMIAL_LOGIT:
                # lme4's quantities and rounding (1 - mu from the clamped mu, V = mu (1 - mu)),
                # with one exp and, for a 0/1 response, one log; written without branches
                # on y or on eta's sign, which are unpredictable
                m = _logit_mu(eta[i], exp(-fabs(eta[i])), &om, &me)
                v = m * om
                if v < EPS:
                    v = EPS
                if self.binary:  # y log mu + (1 - y) log(1 - mu) is one of the two logs
                    lm = log(yi * m + (1.0 - yi) * om)  # exactly m or 1 - m
                    r = self.dev0[i] - 2.0 * self.pw[i] * lm
                    ll += (self.llk[i] + self.llf[i]) * lm
                else:
                    lm = log(m) if yi != 0.0 or self.llk[i] != 0.0 else 0.0
                    lom = log(om) if yi != 1.0 or self.llf[i] != 0.0 else 0.0
                    r = _binomial_devres(self.dev0[i], self.pw[i], yi, lm, lom)
                    ll += self.llk[i] * lm + self.llf[i] * lom
            else:  # log link: Poisson (V = mu) or Gamma (V = mu^2)
                m = exp(eta[i])
                lm = eta[i]
                if m < EPS:
                    m, lm = EPS, log(EPS)
                me = m
                v = m if self.kind == POISSON_LOG else m * m
                r = _log_link_devres(self.kind, self.dev0[i], self.pw[i], yi, m, lm)
                if self.kind == POISSON_LOG:
                    ll += self.pw[i] * ((yi * lm if yi != 0.0 else 0.0) - m)
            mu[i] = m
            devres[i] = r
            total += r
            w[i] = self.pw[i] * me * me / v
            ratio[i] = (yi - m) / me
        loglik[0] = ll
        return total

    cdef double _respond_vector(self, const double *eta, double *mu, double *devres,
                                double *w, double *ratio, double *loglik) noexcept nogil:
        """:meth:`respond` for many observations: the same quantities, with NumPy's
        vectorized exp and log (several times faster than the C library's one value at a
        time) between compiled passes that do the rest."""
        cdef Py_ssize_t i, n = self.n
        cdef double *t = &self.vt[0]
        cdef double *ev = &self.ve[0]
        cdef double *x = &self.vx[0]
        cdef double *x2 = &self.vx2[0]
        cdef double e, inv, m, om, me, v, yi, lm, lom, r, total = 0.0, ll = 0.0
        cdef bint binomial = self.kind == BINOMIAL_LOGIT
        for i in range(n):
            t[i] = -fabs(eta[i]) if binomial else eta[i]
        with gil:
            np.exp(self.vt_arr, out=self.ve_arr)
        for i in range(n):
            yi = self.y[i]
            e = ev[i]
            if binomial:  # as in _respond
                m = _logit_mu(eta[i], e, &om, &me)
                v = m * om
                if v < EPS:
                    v = EPS
                if self.binary:
                    x[i] = yi * m + (1.0 - yi) * om
                else:
                    x[i], x2[i] = m, om
            else:  # as in _respond
                m = e
                if m < EPS:
                    m = EPS
                me = m
                lm = eta[i] if e >= EPS else log(EPS)
                v = m if self.kind == POISSON_LOG else m * m
                r = _log_link_devres(self.kind, self.dev0[i], self.pw[i], yi, m, lm)
                if self.kind == POISSON_LOG:
                    ll += self.pw[i] * ((yi * lm if yi != 0.0 else 0.0) - m)
                devres[i] = r
                total += r
            mu[i] = m
            w[i] = self.pw[i] * me * me / v
            ratio[i] = (yi - m) / me
        if binomial:
            with gil:
                np.log(self.vx_arr, out=self.vx_arr)
                if not self.binary:
                    np.log(self.vx2_arr, out=self.vx2_arr)
            for i in range(n):
                yi = self.y[i]
                if self.binary:
                    lm = x[i]
                    r = self.dev0[i] - 2.0 * self.pw[i] * lm
                    ll += (self.llk[i] + self.llf[i]) * lm
                else:
                    lm, lom = x[i], x2[i]
                    r = _binomial_devres(self.dev0[i], self.pw[i], yi, lm, lom)
                    ll += (self.llk[i] * lm if self.llk[i] != 0.0 else 0.0) + (
                        self.llf[i] * lom if self.llf[i] != 0.0 else 0.0)
                devres[i] = r
                total += r
        loglik[0] = ll
        return total

    cdef double unit_devres(self, Py_ssize_t i, double eta) noexcept nogil:
        """Observation i's deviance residual at eta (as :meth:`respond` computes it)."""
        cdef double yi = self.y[i], m, om, me, lm, lom
        if self.kind == BINOMIAL_LOGIT:
            m = _logit_mu(eta, exp(-fabs(eta)), &om, &me)
            lm = log(m) if yi != 0.0 else 0.0
            lom = log(om) if yi != 1.0 else 0.0
            return _binomial_devres(self.dev0[i], self.pw[i], yi, lm, lom)
        m = exp(eta)
        lm = eta
        if m < EPS:
            m, lm = EPS, log(EPS)
        return _log_link_devres(self.kind, self.dev0[i], self.pw[i], yi, m, lm)

    def devres_at(self, const double[:, ::1] eta):
        """The deviance residuals at each row of ``eta`` (k x n), as :meth:`respond`
        computes them: the response kernel of adaptive Gauss-Hermite quadrature."""
        if eta.shape[1] != self.n:
            raise ValueError("devres_at(): eta needs one column per observation")
        out_arr = np.empty((eta.shape[0], self.n))
        cdef double[:, ::1] out = out_arr
        cdef Py_ssize_t k, i
        with nogil:
            for k in range(eta.shape[0]):
                for i in range(self.n):
                    out[k, i] = self.unit_devres(i, eta[k, i])
        return out_arr

    def response(self, const double[::1] eta):
        """The response pass alone at eta (for tests): (sum of the deviance residuals, the
        log-likelihood part, mu, the residuals, the weights, (y - mu) / mu_eta)."""
        if eta.shape[0] != self.n:
            raise ValueError("response(): eta needs one value per observation")
        # NumPy's exp (the vectorized pass) overflows to inf quietly, as libm's
        errors = np.seterr(over="ignore") if self.vector else None
        out = [np.empty(self.n) for _ in range(4)]
        cdef double[::1] mu = out[0], devres = out[1], w = out[2], ratio = out[3]
        cdef double total, ll = 0.0
        total = self.respond(&eta[0], &mu[0], &devres[0], &w[0], &ratio[0], &ll)
        if errors is not None:
            np.seterr(**errors)
        return (total, ll, *out)
