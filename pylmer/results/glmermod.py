"""The fitted generalized linear mixed model: lme4's ``glmerMod``.

Shares :class:`~pylmer.results.mermod.MerMod`'s random-effects machinery (ranef,
condVar, coef, getME) with the LMM; what differs for a GLMM is here: the Laplace / AGQ
log-likelihood, lme4's GLMM ``deviance()`` (the sum of squared deviance residuals),
fitted values on the response scale, the residual types, and standard errors from the
finite-difference Hessian of the deviance.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from ..exceptions import PylmerError, PylmerWarning, warn_user
from ..objective import LmerDevfun
from ..validate import check_bool
from .lmermod import LmerMod
from .mermod import LogLik, MerMod
from .summary import GlmerSummary
from .varcorr import VarCorr

__all__ = ["GlmerMod"]


class GlmerMod(MerMod):
    """A fitted generalized linear mixed-effects model (R: ``glmerMod``).

    Made by :func:`pylmer.glmer`.
    """

    def __init__(self, lf, devfun, optinfo):
        snap = devfun.snapshot(optinfo.par)
        state, pls = snap.state, snap.pls
        ntheta = devfun.ntheta
        self._lf = lf
        self._REML = False
        self._family = devfun.family
        self._nAGQ = devfun.nAGQ
        self._theta = optinfo.par[:ntheta].copy()
        self._beta = (state.beta.copy() if devfun.nAGQ == 0
                      else optinfo.par[ntheta: ntheta + devfun.p].copy())
        self._n_extra = devfun.n_extra
        self._u = state.u.copy()
        self._eta = state.eta.copy()
        self._mu = state.mu.copy()
        self._devres = state.devres.copy()
        self._ldL2 = state.ldL2
        self._y, self._pw, self._n_trials = devfun.y.copy(), devfun.pw.copy(), devfun.n_trials
        self._objective = float(optinfo.fval)
        self._factor = pls.factor  # L at the PIRLS weights at the conditional modes
        self._hessian_vcov = None
        if devfun.nAGQ > 0 and optinfo.derivs is not None:
            H = optinfo.derivs.Hessian
            if devfun.n_extra and devfun.family.laplace == "fisher":
                H = H[:-1, :-1]  # lme4's glmer.nb: conditional on the NB theta
            self._hessian_vcov = _vcov_from_hessian(H, ntheta, devfun.p)
        self._RX, self._RZX, self._ldRX2 = pls.RX, pls.RZX, pls.ldRX2  # at the final weights
        self._pwrss = float(self._u @ self._u) + float(np.sum(self._devres))
        self._ldW = 0.0
        self._optinfo = optinfo
        self._freeze()

    def _make(self, lf, devfun, optinfo) -> MerMod:
        # update(family = gaussian) makes lme4's shortcut to an LMM
        if isinstance(devfun, LmerDevfun):
            return LmerMod(lf, devfun, optinfo)
        return GlmerMod(lf, devfun, optinfo)

    def isGLMM(self) -> bool:
        return True

    # ------------------------------------------------------------------ scale
    @property
    def family(self):
        return self._family

    @property
    def nAGQ(self) -> int:
        return self._nAGQ

    def sigma(self) -> float:
        """1 for binomial and Poisson. For dispersion families lme4's estimate
        ``sqrt((sum of squared Pearson residuals + |u|^2) / n)`` (not maximum likelihood).
        For ``nbinom2``, ``nbinom1`` and ``beta_family`` glmmTMB's ``sigma()``: theta or
        phi; 1 for ``glmer_nb`` and ``negative_binomial`` (lme4's)."""
        fam = self._family
        if fam.extra is not None and fam.laplace == "exact":
            return float(fam.extra)
        if not fam.estimates_dispersion:
            return 1.0
        r = (self._y - self._mu) * np.sqrt(self._pw / self._family.variance_lme4(self._mu))
        return float(np.sqrt((np.sum(r * r) + self._u @ self._u) / self._n))

    # ------------------------------------------------------------------ criteria
    def logLik(self, REML: bool | None = None) -> LogLik:
        """The Laplace (nAGQ <= 1) or AGQ approximation to the log-likelihood."""
        fam = self._family
        df = self._p + self._nth + (1 if fam.estimates_dispersion else 0) \
            + max(self._n_extra, getattr(fam, "df_scale", 0))
        return LogLik(-0.5 * self._objective, df, self._n, False)

    def deviance(self, REML: bool | None = None) -> float:
        """lme4's GLMM deviance: the sum of squared deviance residuals (not -2 logLik); for
        glmmTMB's families (nbinom2, nbinom1, Beta) glmmTMB's, -2 logLik."""
        if self._family.laplace == "exact" and self._family.family != "cumulative":
            return float(self._objective)
        return float(np.sum(self._devres))

    def REMLcrit(self) -> float:
        """Not defined for a GLMM (lme4's ``REMLcrit`` of a ``glmerMod`` is NULL); a
        :class:`~pylmer.PylmerError` says what to use."""
        raise PylmerError("REMLcrit is not defined for a GLMM: use logLik() or deviance()")

    def df_residual(self) -> int:
        return self._n - self.logLik().df

    # ------------------------------------------------------------------ fixed effects
    def vcov(self) -> pd.DataFrame:
        """Covariance of the fixed effects.

        As lme4: from the finite-difference Hessian of the deviance over (theta, beta) when
        nAGQ > 0 (``use.hessian``), otherwise ``sigma^2 (RX' RX)^{-1}`` at the PIRLS weights.
        """
        names = list(self._lf.X_colnames)
        v = self._hessian_vcov
        if v is not None and not (np.all(np.isfinite(v)) and np.all(np.linalg.eigvalsh(v) > 0)):
            # lme4's vcov.merMod: a Hessian-based matrix that is not positive definite
            # (e.g. at a variance on the boundary) is replaced by the one from RX
            warn_user("variance-covariance matrix computed from finite-difference Hessian "
                      "is not positive definite or contains NA values: falling back to "
                      "var-cov estimated from RX", PylmerWarning)
            v = None
        if v is None:
            RXinv = np.linalg.solve(self._RX, np.eye(self._p))
            v = self.sigma() ** 2 * RXinv @ RXinv.T
        return pd.DataFrame(v, index=names, columns=names)

    # ------------------------------------------------------------------ random effects
    def VarCorr(self) -> VarCorr:
        if self._family.estimates_dispersion:
            s = self.sigma()
            return VarCorr.from_theta(self._theta, self._lf.reTrms.cnms, sigma=s, scale=s)
        return VarCorr.from_theta(self._theta, self._lf.reTrms.cnms, sigma=None)

    # ------------------------------------------------------------------ fitted values
    @cached_property
    def _fitted(self) -> np.ndarray:
        return self._mu

    def fitted(self) -> pd.Series:
        """Conditional means on the response scale (R: ``fitted``)."""
        return self._series(self._mu.copy(), "fitted")

    def residuals(self, type: str = "deviance", scaled: bool = False) -> pd.Series:
        """Residuals: ``"deviance"`` (default), ``"pearson"``, ``"response"`` or
        ``"working"`` (R: ``residuals(m, type)``)."""
        scaled = check_bool(scaled, "scaled")
        y, mu, fam = self._y, self._mu, self._family
        if type == "deviance":
            if fam.family in ("nbinom1", "beta"):
                raise PylmerError(f"deviance residuals are not defined for the {fam.family} "
                                  "family (no closed-form saturated likelihood; glmmTMB "
                                  "refuses them too): use type='pearson' or 'response'")
            r = np.sign(y - mu) * np.sqrt(np.maximum(self._devres, 0.0))
        elif type == "pearson":
            r = (y - mu) * np.sqrt(self._pw / fam.variance(mu))
        elif type == "response":
            r = y - mu
        elif type == "working":
            r = (y - mu) / fam.link.mu_eta(self._eta)
        else:
            raise PylmerError(f"type={type!r}: use 'deviance', 'pearson', 'response' or "
                             "'working'")
        if scaled and self._family.estimates_dispersion:  # the others' scale is 1
            r = r / self.sigma()
        return self._series(r, "residuals")

    def devcomp(self) -> dict:
        out = super().devcomp()
        out["cmp"].update({"drsum": self.deviance(), "REML": None, "dev": self._objective,
                           "sigmaML": None, "sigmaREML": None,
                           "wrss": float(np.sum(self._devres)),
                           "pwrss": self._pwrss})
        out["dims"].update({"GLMM": 1, "REML": 0, "useSc": int(
            self._family.estimates_dispersion), "nAGQ": self._nAGQ})
        return out

    def summary(self):
        """lme4's ``summary(m)`` for a GLMM: print it, or read its parts."""

        return GlmerSummary(self)

    # repr(m) is MerMod's: lme4's print.merMod, which prints the family line for a GLMM


def _vcov_from_hessian(H: np.ndarray, ntheta: int, p: int) -> np.ndarray:
    """lme4's ``calc.vcov.hess``: the beta block of ``solve(H / 2)``, symmetrized. With an
    estimated extra parameter in the Hessian, its uncertainty is included (glmmTMB's
    ``vcov``, from the Hessian over all parameters)."""
    try:
        inv = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return np.full((p, p), np.nan)
    block = inv[ntheta: ntheta + p, ntheta: ntheta + p]
    return block + block.T
