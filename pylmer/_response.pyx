# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The response kernel of the compiled GLMM loops: binomial(logit), poisson(log), Gamma(log),
and the cumulative-link (ordinal) family.

One pass over the observations gives, at a linear predictor eta, what PIRLS needs: mu, the
deviance residuals, the working weights and ``(y - mu) / mu_eta`` (the working response less
eta - offset), and the mu-dependent part of the log-likelihood; with lme4's floors (mu
clamped to [eps, 1 - eps] for the logit, exp(eta) floored at eps for the log link, dlogis
and the binomial variance floored at eps), so the numbers agree with lme4's to rounding.
:class:`pylmer.response.Response` uses it for these families, the compiled PIRLS loop
(``pylmer._pirls``) calls it at C level, and adaptive Gauss-Hermite quadrature asks it for
the deviance residuals at every knot (:meth:`ResponseKernel.devres_at`).
"""

from libc.math cimport erfc, exp, expm1, fabs, isfinite, log

import numpy as np

cdef double EPS = 2.220446049250313e-16
cdef double INV_SQRT_2PI = 0.398942280401432677939946059934
cdef double SQRT1_2 = 0.707106781186547524400844362105
cdef double TINY = 1e-300
# observations per step of the vectorized pass: its four scratch buffers hold this many
# values (2 MB), not four per observation (32 MB a million observations)
cdef Py_ssize_t VECTOR_CHUNK = 65536

KINDS = {("binomial", "logit"): BINOMIAL_LOGIT, ("poisson", "log"): POISSON_LOG,
         ("Gamma", "log"): GAMMA_LOG, ("cumulative", "logit"): CUMULATIVE,
         ("cumulative", "probit"): CUMULATIVE, ("cumulative", "cloglog"): CUMULATIVE}
LINKS = {"logit": 0, "probit": 1, "cloglog": 2}  # the cumulative family's links
# PIRLS's weights for the ordinal family: the observed information, floored at this share
# of the expected one (pylmer.family.ordinal explains why)
cdef double EXPECTED_FLOOR = 0.05
EXPECTED_FLOOR_VALUE = EXPECTED_FLOOR


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


cdef inline double _cumulative_obs(int link, const double *bounds, Py_ssize_t J, double y,
                                   double eta, double *score, double *info,
                                   double *expected) noexcept nogil:
    """P(Y = y | eta) of the cumulative family, with the score and the observed
    information in eta, and (unless ``expected`` is NULL) the expected information."""
    cdef Py_ssize_t c = <Py_ssize_t> y, j
    cdef double Fu, Su, fu, dfu, Fl, Sl, fl, dfl, p, N, up, lo, total
    cdef double Fa, Sa, fa, dfa, Fb, Sb, fb, dfb, p_j
    up = bounds[c + 1] - eta
    lo = bounds[c] - eta
    _cdf(link, up, &Fu, &Su, &fu, &dfu)
    _cdf(link, lo, &Fl, &Sl, &fl, &dfl)
    # the difference of F where both arguments are below their midpoint 0, of 1 - F above
    p = Fu - Fl if up + lo < 0.0 else Sl - Su
    if p < TINY:
        p = TINY
    N = fu - fl
    score[0] = -N / p
    info[0] = score[0] * score[0] - (dfu - dfl) / p
    if expected != NULL:
        total = 0.0
        _cdf(link, bounds[0] - eta, &Fb, &Sb, &fb, &dfb)
        for j in range(J):
            _cdf(link, bounds[j + 1] - eta, &Fa, &Sa, &fa, &dfa)
            up = bounds[j + 1] - eta
            lo = bounds[j] - eta
            p_j = Fa - Fb if up + lo < 0.0 else Sb - Sa
            if p_j > TINY:
                total += (fa - fb) * (fa - fb) / p_j
            Fb, Sb, fb = Fa, Sa, fa
        expected[0] = total
    return p


def cumulative_parts(int link, const double[::1] bounds, const double[::1] y,
                     const double[::1] eta, bint expected):
    """(P, score, observed information, expected information or None) at eta, for the
    cumulative family: ``bounds`` = (-inf, alpha_1, ..., alpha_{J-1}, +inf), ``y`` the
    category codes 0..J-1."""
    cdef Py_ssize_t n = eta.shape[0], J = bounds.shape[0] - 1, i
    P_arr, s_arr, h_arr = np.empty(n), np.empty(n), np.empty(n)
    e_arr = np.empty(n) if expected else np.empty(0)
    cdef double[::1] P = P_arr, s = s_arr, h = h_arr, ex = e_arr
    with nogil:
        for i in range(n):
            P[i] = _cumulative_obs(link, &bounds[0], J, y[i], eta[i], &s[i], &h[i],
                                   &ex[i] if expected else NULL)
    return P_arr, s_arr, h_arr, (e_arr if expected else None)


cdef class ResponseKernel:
    """The response pass for one response: ``kind`` (see ``KINDS``), y, the prior weights,
    ``dev0`` (each deviance residual's part that does not depend on mu) and the
    log-likelihood's coefficients ``llk`` and ``llf`` (of log mu and log(1 - mu), binomial;
    of y log mu - mu through ``llk`` = prior weights, Poisson; unused for Gamma). With
    ``vector`` the pass calls NumPy's vectorized exp and log between compiled passes."""

    def __init__(self, int kind, y, pw, dev0, llk, llf, bint vector=False, int link=0,
                 Py_ssize_t n_bounds=0):
        if kind not in (BINOMIAL_LOGIT, POISSON_LOG, GAMMA_LOG, CUMULATIVE):
            raise ValueError(f"ResponseKernel(): unknown kind {kind}")
        self.link = link
        self.bounds_arr = np.full(n_bounds, np.nan)
        self.bounds = self.bounds_arr
        if kind == CUMULATIVE:
            vector = False
        self.kind, self.n = kind, len(y)
        self.y, self.pw, self.dev0, self.llk, self.llf = y, pw, dev0, llk, llf
        y_arr, llk_arr, llf_arr = np.asarray(y), np.asarray(llk), np.asarray(llf)
        self.binary = bool(np.all((y_arr == 0.0) | (y_arr == 1.0))
                           and np.all(llk_arr[y_arr == 0.0] == 0.0)
                           and np.all(llf_arr[y_arr == 1.0] == 0.0))
        self.vector = vector
        chunk = min(len(y), VECTOR_CHUNK)
        self.vt_arr, self.ve_arr = np.empty(chunk), np.empty(chunk)
        self.vx_arr, self.vx2_arr = np.empty(chunk), np.empty(chunk)
        self.vt, self.ve, self.vx, self.vx2 = self.vt_arr, self.ve_arr, self.vx_arr, self.vx2_arr

    def take_error(self):
        """The exception a Python-level pass raised (once), or None."""
        exc, self.error = self.error, None
        return exc

    def set_bounds(self, bounds):
        """The cumulative family's (-inf, thresholds, +inf) for the passes that follow."""
        if not np.array_equal(self.bounds_arr, bounds):
            self.bounds_arr[:] = bounds
            self.generation += 1

    cdef double respond(self, const double *eta, double *mu, double *devres, double *w,
                         double *ratio, double *loglik) noexcept nogil:
        """mu, the deviance residuals, PIRLS's weights and ``(y - mu) / mu_eta`` (the
        working response less eta - offset) at eta; returns the residuals' sum, and the
        mu-dependent part of the log-likelihood in loglik. For the cumulative family mu is
        P(Y = y), the residual -2 w log P, and the weight and ratio Newton's (see
        pylmer.family.ordinal)."""
        if self.vector:
            return self._respond_vector(eta, mu, devres, w, ratio, loglik)
        if self.kind == CUMULATIVE:
            return self._respond_cumulative(eta, mu, devres, w, ratio, loglik)
        cdef Py_ssize_t i
        cdef double m, om, lm, lom, me, v, r, yi, total = 0.0, ll = 0.0
        # local pointers and flags (see _respond_chunk)
        cdef const double *y = &self.y[0]
        cdef const double *pw = &self.pw[0]
        cdef const double *dev0 = &self.dev0[0]
        cdef const double *llk = &self.llk[0]
        cdef const double *llf = &self.llf[0]
        cdef int kind = self.kind
        cdef bint binary = self.binary
        if self.n == 0:
            loglik[0] = 0.0
            return 0.0
        for i in range(self.n):
            yi = y[i]
            if kind == BINOMIAL_LOGIT:
                # lme4's quantities and rounding (1 - mu from the clamped mu, V = mu (1 - mu)),
                # with one exp and, for a 0/1 response, one log; written without branches
                # on y or on eta's sign, which are unpredictable
                m = _logit_mu(eta[i], exp(-fabs(eta[i])), &om, &me)
                v = m * om
                if v < EPS:
                    v = EPS
                if binary:  # y log mu + (1 - y) log(1 - mu) is one of the two logs
                    lm = log(yi * m + (1.0 - yi) * om)  # exactly m or 1 - m
                    r = dev0[i] - 2.0 * pw[i] * lm
                    ll += (llk[i] + llf[i]) * lm
                else:
                    lm = log(m) if yi != 0.0 or llk[i] != 0.0 else 0.0
                    lom = log(om) if yi != 1.0 or llf[i] != 0.0 else 0.0
                    r = _binomial_devres(dev0[i], pw[i], yi, lm, lom)
                    ll += llk[i] * lm + llf[i] * lom
            else:  # log link: Poisson (V = mu) or Gamma (V = mu^2)
                m = exp(eta[i])
                lm = eta[i]
                if m < EPS:
                    m, lm = EPS, log(EPS)
                me = m
                v = m if kind == POISSON_LOG else m * m
                r = _log_link_devres(kind, dev0[i], pw[i], yi, m, lm)
                if kind == POISSON_LOG:
                    ll += pw[i] * ((yi * lm if yi != 0.0 else 0.0) - m)
            mu[i] = m
            devres[i] = r
            total += r
            w[i] = pw[i] * me * me / v
            ratio[i] = (yi - m) / me
        loglik[0] = ll
        return total

    cdef double _respond_vector(self, const double *eta, double *mu, double *devres,
                                double *w, double *ratio, double *loglik) noexcept nogil:
        """:meth:`respond` for many observations: the same quantities, with NumPy's
        vectorized exp and log (several times faster than the C library's one value at a
        time) between compiled passes that do the rest, ``VECTOR_CHUNK`` observations at a
        time (the scratch buffers stay small; the sums run in the order of the
        observations, as in one pass)."""
        cdef Py_ssize_t start = 0, stop
        cdef double total = 0.0, ll = 0.0
        while start < self.n:
            stop = start + VECTOR_CHUNK if start + VECTOR_CHUNK < self.n else self.n
            self._respond_chunk(start, stop, eta, mu, devres, w, ratio, &total, &ll)
            start = stop
        loglik[0] = ll
        return total

    cdef void _respond_chunk(self, Py_ssize_t start, Py_ssize_t stop, const double *eta,
                             double *mu, double *devres, double *w, double *ratio,
                             double *total_, double *ll_) noexcept nogil:
        """:meth:`_respond_vector` on observations ``start:stop``, adding to the sums. The
        arrays are read through local pointers and the family's branches are taken once per
        chunk: Python's extensions are compiled without strict aliasing, so each store
        through an output pointer would otherwise reload every array from ``self``."""
        cdef Py_ssize_t i, k, m = stop - start  # k: i's place in the scratch buffers
        cdef double *t = &self.vt[0]
        cdef double *ev = &self.ve[0]
        cdef double *x = &self.vx[0]
        cdef double *x2 = &self.vx2[0]
        cdef const double *y = &self.y[0]
        cdef const double *pw = &self.pw[0]
        cdef const double *dev0 = &self.dev0[0]
        cdef const double *llk = &self.llk[0]
        cdef const double *llf = &self.llf[0]
        cdef double e, mm, om, me, v, yi, lm, lom, r
        cdef double total = total_[0], ll = ll_[0]
        cdef int kind = self.kind
        cdef bint binary = self.binary
        if kind == BINOMIAL_LOGIT:
            for i in range(start, stop):
                t[i - start] = -fabs(eta[i])
        else:
            for i in range(start, stop):
                t[i - start] = eta[i]
        with gil:
            np.exp(self.vt_arr[:m], out=self.ve_arr[:m])
        if kind != BINOMIAL_LOGIT:  # as in respond()
            for i in range(start, stop):
                yi = y[i]
                e = ev[i - start]
                mm = e
                if mm < EPS:
                    mm = EPS
                me = mm
                lm = eta[i] if e >= EPS else log(EPS)
                v = mm if kind == POISSON_LOG else mm * mm
                r = _log_link_devres(kind, dev0[i], pw[i], yi, mm, lm)
                if kind == POISSON_LOG:
                    ll += pw[i] * ((yi * lm if yi != 0.0 else 0.0) - mm)
                devres[i] = r
                total += r
                mu[i] = mm
                w[i] = pw[i] * me * me / v
                ratio[i] = (yi - mm) / me
            total_[0], ll_[0] = total, ll
            return
        # binomial(logit), as in respond(): mu and the weights, the logs' arguments in x
        # (x2), one vectorized log, then the deviance residuals
        for i in range(start, stop):
            k = i - start
            yi = y[i]
            mm = _logit_mu(eta[i], ev[k], &om, &me)
            v = mm * om
            if v < EPS:
                v = EPS
            if binary:
                x[k] = yi * mm + (1.0 - yi) * om
            else:
                x[k], x2[k] = mm, om
            mu[i] = mm
            w[i] = pw[i] * me * me / v
            ratio[i] = (yi - mm) / me
        with gil:
            np.log(self.vx_arr[:m], out=self.vx_arr[:m])
            if not binary:
                np.log(self.vx2_arr[:m], out=self.vx2_arr[:m])
        if binary:
            for i in range(start, stop):
                lm = x[i - start]
                r = dev0[i] - 2.0 * pw[i] * lm
                ll += (llk[i] + llf[i]) * lm
                devres[i] = r
                total += r
        else:
            for i in range(start, stop):
                k = i - start
                yi = y[i]
                lm, lom = x[k], x2[k]
                r = _binomial_devres(dev0[i], pw[i], yi, lm, lom)
                ll += (llk[i] * lm if llk[i] != 0.0 else 0.0) + (
                    llf[i] * lom if llf[i] != 0.0 else 0.0)
                devres[i] = r
                total += r
        total_[0], ll_[0] = total, ll

    cdef double _respond_cumulative(self, const double *eta, double *mu, double *devres,
                                    double *w, double *ratio,
                                    double *loglik) noexcept nogil:
        cdef Py_ssize_t i, J = self.bounds.shape[0] - 1
        cdef double p, s, h, e, floor, total = 0.0, ll = 0.0
        for i in range(self.n):
            p = _cumulative_obs(self.link, &self.bounds[0], J, self.y[i], eta[i], &s, &h, &e)
            floor = EXPECTED_FLOOR * e
            if floor < EPS:
                floor = EPS
            if h < floor:
                h = floor
            mu[i] = p
            devres[i] = -2.0 * self.pw[i] * log(p)
            total += devres[i]
            ll += self.pw[i] * log(p)
            w[i] = self.pw[i] * h
            ratio[i] = s / h
        loglik[0] = ll
        return total

    cdef void laplace_weights(self, const double *eta, double *w) noexcept nogil:
        """The cumulative family's Laplace weights at eta: the observed information, not
        floored (it is positive for these links' log-concave distributions)."""
        cdef Py_ssize_t i, J = self.bounds.shape[0] - 1
        cdef double s, h
        for i in range(self.n):
            _cumulative_obs(self.link, &self.bounds[0], J, self.y[i], eta[i], &s, &h, NULL)
            w[i] = self.pw[i] * h

    cdef double unit_devres(self, Py_ssize_t i, double eta) noexcept nogil:
        """Observation i's deviance residual at eta (as :meth:`respond` computes it)."""
        cdef double yi = self.y[i], m, om, me, lm, lom, s, h
        if self.kind == CUMULATIVE:
            return -2.0 * self.pw[i] * log(_cumulative_obs(
                self.link, &self.bounds[0], self.bounds.shape[0] - 1, yi, eta, &s, &h, NULL))
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


cdef inline object _view(const double *x, Py_ssize_t n):
    """A NumPy array over n doubles (no copy)."""
    return np.asarray(<double[:n]> (<double *> x))


cdef class PythonResponse(ResponseKernel):
    """The response kernel's interface over Python, for the families without a compiled
    pass: ``owner.respond(eta) -> (sum of the deviance residuals, mu, the residuals, the
    working weights, (y - mu) / mu_eta)`` and ``owner.laplace_weights(eta)`` (None: PIRLS's
    weights). The loop's log-likelihood part is 0: the model's aic is computed from mu."""

    def __init__(self, owner, Py_ssize_t n):
        self.owner, self.n, self.kind = owner, n, 0

    cdef double respond(self, const double *eta, double *mu, double *devres, double *w,
                        double *ratio, double *loglik) noexcept nogil:
        cdef double total = 0.0
        cdef Py_ssize_t i
        cdef double[::1] m, d, ww, r
        loglik[0] = 0.0
        with gil:
            try:
                total, m_, d_, w_, r_ = self.owner.respond(_view(eta, self.n).copy())
                m, d = np.ascontiguousarray(m_, float), np.ascontiguousarray(d_, float)
                ww, r = np.ascontiguousarray(w_, float), np.ascontiguousarray(r_, float)
            except BaseException as exc:
                self.error = exc
                return float("nan")
            for i in range(self.n):
                mu[i], devres[i], w[i], ratio[i] = m[i], d[i], ww[i], r[i]
        return total

    cdef void laplace_weights(self, const double *eta, double *w) noexcept nogil:
        cdef Py_ssize_t i
        cdef double[::1] ww
        with gil:
            try:
                lw = self.owner.laplace_weights(_view(eta, self.n).copy())
                if lw is None:  # PIRLS's weights
                    lw = self.owner.respond(_view(eta, self.n).copy())[3]
                ww = np.ascontiguousarray(lw, float)
            except BaseException as exc:
                self.error = exc
                return
            for i in range(self.n):
                w[i] = ww[i]
