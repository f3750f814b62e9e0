"""The response of a GLMM for PIRLS: y, prior weights and family, with mu, the working
weights, the deviance residuals and the AIC at a linear predictor.

binomial(logit), poisson(log) and Gamma(log) have a compiled response kernel, shared with
the compiled PIRLS loop; R's other GLM families use their own methods; the families with an
extra parameter (:mod:`pylmer.family.extra`) give the score and weights of their
log-likelihood, and a Laplace log-determinant weight that can differ from PIRLS's.
"""

from __future__ import annotations

import copy

import numpy as np

from . import _response, scalar_pirls

__all__ = ["Response"]


class Response:
    """y, prior weights and family for the PIRLS loop, with per-fit constants cached.

    Deviance residuals and the aic of binomial and Poisson models split into a part that
    depends on mu and one that does not (``y log y``, ``log choose(m, k)``, ``log y!``);
    the constant part is computed once per fit. binomial(logit), poisson(log) and
    Gamma(log) have a compiled response kernel (``kernel``, shared with the compiled PIRLS
    loop); other families use their own methods. Values equal the family's to rounding
    (tests check this).
    """

    def __init__(self, family, y, pw, n_trials, compiled: bool = True):
        self.family, self.y, self.pw, self.n_trials = family, y, pw, n_trials
        self.link = family.link
        # the families of pylmer.family.extra: their own score, weights and log density
        self.extra = family.has_extra
        self.kind = family.family if family.family in ("binomial", "poisson") else None
        if self.kind == "binomial":
            from scipy.special import gammaln

            self._dev0 = 2 * pw * (_xlogx(y) + _xlogx(1 - y))
            m = n_trials if np.any(n_trials > 1) else pw
            k = np.round(m * y)
            share = np.divide(pw, m, out=np.zeros_like(pw), where=m > 0)
            self._aic_k, self._aic_f = share * k, share * (np.round(m) - k)
            mr = np.round(m)
            self._aic0 = float(np.sum(share * (gammaln(mr + 1) - gammaln(k + 1)
                                               - gammaln(mr - k + 1))))
        elif self.kind == "poisson":
            from scipy.special import gammaln

            self._dev0 = 2 * pw * (_xlogx(y) - y)
            self._aic0 = float(np.sum(pw * gammaln(y + 1)))
        self.kernel = None
        if compiled and scalar_pirls.kind_of(family) is not None:
            if self.kind == "binomial":
                dev0, llk, llf = self._dev0, self._aic_k, self._aic_f
            elif family.family == "cumulative":  # -2 pw log P: nothing is constant
                dev0 = llk = llf = np.zeros(len(y))
            elif self.kind == "poisson":
                dev0, llk, llf = self._dev0, pw, np.zeros(len(y))
            else:  # Gamma(log): -2 pw log(y) of each residual; no log-likelihood part is used
                with np.errstate(divide="ignore", invalid="ignore"):
                    dev0 = -2.0 * pw * np.log(y)
                llk = llf = np.zeros(len(y))
            self.kernel = scalar_pirls.response_kernel(family, y, pw, dev0, llk, llf)
        self.loop_kernel = self._loop_kernel()

    def _loop_kernel(self):
        """The PIRLS loop's response kernel: the compiled one, or this object's
        :meth:`respond` and :meth:`laplace_weights` behind the same interface."""
        if self.kernel is not None:
            return self.kernel
        return _response.PythonResponse(self, len(self.y))

    def with_family(self, family) -> Response:
        """This response with another value of an extra-parameter family's parameter."""
        out = copy.copy(self)
        out.family = family  # a shared compiled kernel is set by GlmerDevfun per evaluation
        out.loop_kernel = out._loop_kernel()
        return out

    def respond(self, eta):
        """One response pass at eta: (sum of the deviance residuals, mu, the residuals,
        PIRLS's weights, (y - mu) / mu_eta), the working response being
        ``eta - offset + (y - mu) / mu_eta`` (the loop's interface, for the families
        without a compiled pass)."""
        total, mu, devres = self.deviance(eta)
        return (total, mu, devres, *self._weights(eta, mu))

    def laplace_weights(self, eta):
        """The weights of the Laplace log-determinant at the modes' eta where they are not
        the PIRLS weights (glmmTMB's observed information); None where they are."""
        if self.extra and self.family.laplace == "exact":
            return self.family.laplace_weights(self.y, self.pw, eta)
        return None

    def mu(self, eta):
        """mu at eta (any shape)."""
        return self.family.mean(self.y, eta) if self.extra else self.link.linkinv_lme4(eta)

    def mu_parts(self, eta, mu=None):
        """mu (unless given: PIRLS has it from the last step), d mu / d eta, variance."""
        if mu is None:
            mu = self.link.linkinv_lme4(eta)
        return mu, self.link.mu_eta_lme4(eta), self.family.variance_lme4(mu)

    def working(self, eta, mu, offset):
        """PIRLS weights and working response at eta (mu = linkinv(eta), if known)."""
        w, ratio = self._weights(eta, mu)
        return w, eta - offset + ratio

    def _weights(self, eta, mu):
        """PIRLS weights and (y - mu) / mu_eta at eta (mu = linkinv(eta), if known)."""
        if self.extra:
            _, w, ratio = self.family.working(self.y, self.pw, eta, mu)
            return w, ratio
        if self.kernel is not None:
            _, _, _, _, w, ratio = self.kernel.response(np.ascontiguousarray(eta))
            return w, ratio
        mu, mu_eta, var = self.mu_parts(eta, mu)
        return self.pw * mu_eta * mu_eta / var, (self.y - mu) / mu_eta

    def deviance(self, eta):
        """(sum of the deviance residuals, mu, the residuals) at eta."""
        if self.kernel is not None:
            total, _, mu, devres, _, _ = self.kernel.response(np.ascontiguousarray(eta))
            return total, mu, devres
        mu = self.mu(eta)
        devres = self.devres(mu)
        return float(np.sum(devres)), mu, devres

    def devres_at(self, eta: np.ndarray) -> np.ndarray:
        """Deviance residuals at each row of eta (K, n): the compiled kernel's where there
        is one (adaptive Gauss-Hermite quadrature's knots)."""
        if self.kernel is not None:
            return np.ascontiguousarray(self.kernel.devres_at(eta))
        return np.ascontiguousarray(self.devres(self.mu(eta)))

    def devres(self, mu):
        y, pw = self.y, self.pw
        if self.kind == "binomial":
            return self._dev0 - 2 * pw * (_xlogy(y, mu) + _xlogy(1 - y, 1 - mu))
        if self.kind == "poisson":
            return self._dev0 - 2 * pw * (_xlogy(y, mu) - mu)
        return self.family.dev_resids(y, mu, pw)

    def aic_from_loglik(self, loglik: float) -> float:
        """The aic from the compiled kernel's log-likelihood part: binomial's
        ``sum k log mu + (m - k) log(1 - mu)``, Poisson's ``sum pw (y log mu - mu)``, the
        ordinal family's whole ``sum pw log P``; None for the other kernels."""
        if self.kernel is None:
            return None
        if self.family.family == "cumulative":
            return -2.0 * loglik
        if self.kind is None:
            return None
        if self.kind == "binomial":
            return -2.0 * (self._aic0 + loglik)
        return -2.0 * (loglik - self._aic0)

    def aic(self, mu, devres) -> float:
        if self.kind == "binomial":
            return -2.0 * (self._aic0 + float(self._aic_k @ np.log(mu)
                                              + self._aic_f @ np.log1p(-mu)))
        if self.kind == "poisson":
            return -2.0 * (float(self.pw @ (_xlogy(self.y, mu) - mu)) - self._aic0)
        return self.family.aic(self.y, self.n_trials, mu, self.pw, float(np.sum(devres)))


def _xlogx(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)


def _xlogy(x, y):
    """x log y, 0 where x = 0 (whatever y)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x * np.log(y)
    if not np.isfinite(out).all():  # rare (y = 0 or inf): only then look where x = 0
        out = np.where(x != 0, out, 0.0)
    return out
