"""The fitted linear mixed model: lme4's ``lmerMod``."""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from ..exceptions import DeprecatedUseWarning, PylmerError, warn_user
from ..inference.lmertest_anova import lmertest_anova
from ..linalg.solution import profiled_deviance
from ..validate import check_bool
from .mermod import LogLik, MerMod
from .summary import LmerSummary
from .varcorr import VarCorr

__all__ = ["LmerMod"]


class LmerMod(MerMod):
    """A fitted linear mixed-effects model (R: ``lmerMod``).

    Made by :func:`pylmer.lmer`. Methods carry lme4's names: ``fixef``, ``ranef``,
    ``VarCorr``, ``vcov``, ``sigma``, ``logLik``, ``getME``, ``summary`` ...
    """

    def __init__(self, lf, devfun, optinfo):
        snap = devfun.snapshot(optinfo.par)
        self._lf = lf
        self._REML = devfun.REML
        self._theta = optinfo.par.copy()
        self._beta, self._u, self._RX, self._RZX = snap.beta, snap.u, snap.RX, snap.RZX
        self._ldL2, self._ldRX2, self._pwrss, self._ldW = (snap.ldL2, snap.ldRX2, snap.pwrss,
                                                           snap.ldW)
        self._factor = snap.factor  # L at the estimates, for the conditional variances
        self._optinfo = optinfo
        self._freeze()

    def _make(self, lf, devfun, optinfo) -> LmerMod:
        return LmerMod(lf, devfun, optinfo)

    # ------------------------------------------------------------------ scale and criteria
    def sigma(self) -> float:
        """Residual standard deviation (R: ``sigma``)."""
        denom = self._n - self._p if self._REML else self._n
        return float(np.sqrt(self._pwrss / denom))

    def _ml_deviance(self) -> float:
        return profiled_deviance(self._ldL2, self._ldW, self._ldRX2, self._pwrss, self._n,
                                 self._p, False)

    def REMLcrit(self) -> float:
        """REML criterion at the estimates (R: ``REMLcrit``)."""
        return profiled_deviance(self._ldL2, self._ldW, self._ldRX2, self._pwrss, self._n,
                                 self._p, True)

    def deviance(self, REML: bool | None = None) -> float:
        """lme4 1.1-31: the REML criterion for REML fits, else the ML deviance.

        ``deviance(REML=False)`` of a REML fit is the ML deviance at the REML estimates.
        As lme4, ``deviance()`` of a REML fit warns (:class:`DeprecatedUseWarning`) that
        it is deprecated: ask for ``REMLcrit()`` or ``deviance(REML=False)``.
        """
        if REML is None and self._REML:
            warn_user("deviance() is deprecated for REML fits; use REMLcrit for the REML "
                      "criterion or deviance(.,REML=FALSE) for deviance calculated at "
                      "the REML fit", DeprecatedUseWarning)
        use_reml = self._REML if REML is None else REML
        return float(self.REMLcrit() if use_reml else self._ml_deviance())

    def logLik(self, REML: bool | None = None) -> LogLik:
        """Log-likelihood (the REML log-likelihood for REML fits), with its df."""
        use_reml = self._REML if REML is None else REML
        df = self._p + self._nth + 1
        return LogLik(-0.5 * self.deviance(use_reml), df, self._n, use_reml)

    # ------------------------------------------------------------------ fixed effects
    @cached_property
    def _RXinv(self) -> np.ndarray:
        return np.linalg.solve(self._RX, np.eye(self._p))

    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the fixed effects: ``sigma^2 (RX' RX)^{-1}``."""
        v = self.sigma() ** 2 * (self._RXinv @ self._RXinv.T)
        names = list(self._lf.X_colnames)
        return pd.DataFrame(v, index=names, columns=names)

    # ------------------------------------------------------------------ random effects
    def VarCorr(self) -> VarCorr:
        """Variances, standard deviations and correlations (R: ``VarCorr``)."""
        s = self.sigma()
        return VarCorr.from_theta(self._theta, self._lf.reTrms.cnms, sigma=s, scale=s)

    # ------------------------------------------------------------------ fitted values
    @cached_property
    def _fitted(self) -> np.ndarray:
        lf = self._lf
        eta = lf.X @ self._beta + np.asarray(lf.reTrms.Zt.T @ self._b)
        if lf.offset is not None:
            eta = eta + lf.offset
        return eta

    def fitted(self) -> pd.Series:
        """Conditional fitted values X beta + Z b (+ offset) (R: ``fitted``)."""
        return self._series(self._fitted.copy(), "fitted")

    def residuals(self, type: str = "response", scaled: bool = False) -> pd.Series:
        """Residuals (R: ``residuals(m, type, scaled)``, lme4's ``residuals.lmResp``):
        ``"response"`` and ``"working"`` are y - fitted; ``"pearson"`` and ``"deviance"``
        are those times sqrt(prior weights) (lme4's weighted residuals). ``scaled=True``
        divides by sigma. ``"partial"`` is not implemented, as in lme4."""
        scaled = check_bool(scaled, "scaled")
        if type == "partial":
            raise PylmerError("partial residuals are not implemented (nor in lme4)")
        if type not in ("response", "working", "pearson", "deviance"):
            raise PylmerError(f"type={type!r}: use 'response', 'working', 'pearson' or "
                              "'deviance'")
        r = self._lf.y - self._fitted
        if type in ("pearson", "deviance") and self._lf.weights is not None:
            r = r * np.sqrt(self._lf.weights)
        if scaled:
            r = r / self.sigma()
        return self._series(r, "residuals")

    # ------------------------------------------------------------------ getME, summary
    def devcomp(self) -> dict:
        """lme4's ``m@devcomp``: ``cmp`` (ldL2, ldRX2, wrss, ussq, pwrss, ...) and ``dims``."""
        out = super().devcomp()
        n, p = self._n, self._p
        out["cmp"].update({
            "wrss": self._pwrss - out["cmp"]["ussq"],
            "REML": self.REMLcrit() if self._REML else None,
            "dev": None if self._REML else self._ml_deviance(),
            "sigmaML": float(np.sqrt(self._pwrss / n)),
            "sigmaREML": float(np.sqrt(self._pwrss / (n - p))),
        })
        out["dims"].update({"useSc": 1, "REML": p if self._REML else 0, "GLMM": 0})
        return out

    def summary(self, ddf: str | None = None):
        """lme4's ``summary(m)``: print it, or read its parts.

        ``ddf="Satterthwaite"`` gives lmerTest's summary instead (R:
        ``summary(as_lmerModLmerTest(m))``): the fixed effects with Satterthwaite's df and
        the p-values of their t-tests; ``ddf="Kenward-Roger"`` the same with pbkrtest's
        adjusted standard errors and df (REML fits). None or "lme4": lme4's.
        """
        return LmerSummary(self, ddf=ddf)

    def anova(self, type=3, ddf: str = "Satterthwaite"):
        """lmerTest's F tests of the fixed terms (R: ``lmerTest::anova(m, type, ddf)``):
        type 1, 2 or 3 (or "I", "II", "III") hypotheses, "Satterthwaite" or
        "Kenward-Roger" denominator df, or ``ddf="lme4"`` for lme4's table. See
        :func:`pylmer.inference.lmertest_anova.lmertest_anova`; to compare models use
        :func:`pylmer.anova` (``anova(m1, m2)``)."""
        return lmertest_anova(self, type=type, ddf=ddf)
