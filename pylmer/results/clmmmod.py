"""The fitted cumulative-link mixed model: ``ordinal::clmm``'s ``clmm`` object.

A :class:`~pylmer.results.glmermod.GlmerMod` whose family is the cumulative family: the
thresholds (``alpha``) join the fixed effects (``fixef``, no intercept), fitted values are
the probabilities of the observed categories, ``predict`` gives every category's
probability, and the summary reads as ordinal's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from ..exceptions import NotAvailableError, PylmerError
from ..predict import predict as _predict
from ..printing.format import print_coefmat, varcorr_lines
from ..printing.rprint import format_number
from ..validate import check_choice
from .glmermod import GlmerMod

__all__ = ["ClmmMod", "ClmmSummary"]


class ClmmMod(GlmerMod):
    """A fitted cumulative-link mixed model (R: ``ordinal::clmm``). Made by
    :func:`pylmer.clmm`."""

    def __init__(self, lf, devfun, optinfo):
        derivs = optinfo.derivs
        k = devfun.n_extra
        self._alpha_vcov = (_threshold_vcov(derivs.Hessian, optinfo.par[len(optinfo.par) - k:])
                            if devfun.nAGQ > 0 and derivs is not None and k else None)
        super().__init__(lf, devfun, optinfo)

    def _make(self, lf, devfun, optinfo):
        return ClmmMod(lf, devfun, optinfo)

    @property
    def alpha(self) -> pd.Series:
        """The thresholds, named ``"1|2"``, ``"2|3"``, ... (ordinal: ``m$alpha``)."""
        fam = self._family
        return pd.Series(np.asarray(fam.thresholds), index=fam.threshold_names,
                         name="alpha")

    @property
    def link(self) -> str:
        return self._family.link.name

    def sigma(self) -> float:
        """1: the latent scale is fixed by the link."""
        return 1.0

    def residuals(self, type: str = "deviance", scaled: bool = False):
        """Not defined for a cumulative-link model (nor in ordinal): a
        :class:`~pylmer.NotAvailableError` says what to use."""
        raise NotAvailableError("clmm fits have no residuals (nor in ordinal); use "
                                "fitted() (the probability of the observed category) or "
                                "predict(type='prob')")

    def threshold_table(self) -> pd.DataFrame:
        """Estimate, Std. Error and z value of the thresholds (delta method through the
        optimizer's ordered coordinates)."""
        est = self.alpha
        se = (np.sqrt(np.diag(self._alpha_vcov)) if self._alpha_vcov is not None
              else np.full(len(est), np.nan))
        return pd.DataFrame({"Estimate": est.to_numpy(), "Std. Error": se,
                             "z value": est.to_numpy() / se}, index=est.index)

    def predict(self, newdata=None, re_form=None, allow_new_levels: bool = False,
                type: str = "prob", se_fit: bool = False):
        """Predictions (R: ``predict`` of a clm): ``"prob"`` (a DataFrame with the
        probability of every category), ``"class"`` (the most probable category),
        ``"cum.prob"`` (P(Y <= j)), or ``"link"`` (the linear predictor x'beta + z'b,
        without the thresholds). ``re_form`` and ``allow_new_levels`` as for
        :func:`pylmer.predict.predict`."""
        type = check_choice(type, "type", ("prob", "class", "cum.prob", "link"))
        if se_fit:
            raise PylmerError("se_fit is not available for clmm predictions")
        eta = _predict(self, newdata, re_form=re_form, allow_new_levels=allow_new_levels,
                       type="link")
        if type == "link":
            return eta
        values = eta.to_numpy(dtype=float)
        ok = np.isfinite(values)
        fam = self._family
        probs = np.full((len(values), len(fam.levels)), np.nan)
        probs[ok] = fam.category_probabilities(values[ok])
        levels = list(fam.levels)
        if type == "prob":
            return pd.DataFrame(probs, index=eta.index, columns=levels)
        if type == "cum.prob":
            return pd.DataFrame(np.cumsum(probs, axis=1), index=eta.index, columns=levels)
        codes = np.where(ok, np.argmax(np.nan_to_num(probs, nan=-1.0), axis=1), -1)
        return pd.Series(pd.Categorical.from_codes(codes, categories=levels, ordered=True),
                         index=eta.index, name="class")

    def summary(self):
        """ordinal's ``summary(clmm)``: print it, or read its parts."""
        return ClmmSummary(self)

    def __repr__(self) -> str:
        return self.summary().format()


def _threshold_vcov(H: np.ndarray, par: np.ndarray) -> np.ndarray | None:
    """Covariance of the thresholds: the inverse Hessian (of -2 logLik) over the optimizer's
    coordinates ``par`` = (alpha_1, log differences), mapped by their Jacobian."""
    k = len(par)
    try:
        inv = 2.0 * np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return None
    cov = inv[-k:, -k:]
    J = np.zeros((k, k))
    J[:, 0] = 1.0
    for j in range(1, k):
        J[j:, j] = np.exp(par[j])  # alpha_i = alpha_1 + sum_{j <= i} exp(par_j)
    out = J @ cov @ J.T
    return 0.5 * (out + out.T)


class ClmmSummary:
    """ordinal's ``summary(clmm)``.

    Attributes
    ----------
    coefficients, thresholds : pandas.DataFrame
        Estimate, Std. Error, z value (and Pr(>|z|) for the coefficients).
    logLik, AIC : float
    varcor : VarCorr
    """

    def __init__(self, model: ClmmMod):
        self.model = model
        beta = model.fixef()
        se = np.sqrt(np.diag(model.vcov().to_numpy()))
        z = beta.to_numpy() / se
        self.coefficients = pd.DataFrame({"Estimate": beta.to_numpy(), "Std. Error": se,
                                          "z value": z, "Pr(>|z|)": 2.0 * ndtr(-np.abs(z))},
                                         index=beta.index)
        self.thresholds = model.threshold_table()
        self.logLik = float(model.logLik())
        self.AIC = model.AIC()
        self.varcor = model.VarCorr()

    def format(self, digits: int = 4, coefficients: bool = True) -> str:
        m = self.model
        nagq = m.nAGQ
        how = ("the Laplace approximation" if nagq == 1 else
               f"the adaptive Gauss-Hermite quadrature approximation with {nagq} "
               "quadrature points" if nagq > 1 else "nAGQ = 0")
        lines = [f"Cumulative Link Mixed Model fitted with {how}", ""]
        lines.append(f"formula: {m.formula}")
        if m.lf.data_name:
            lines.append(f"data:    {m.lf.data_name}")
        lines.append("")
        derivs = m.optinfo.derivs
        grad = (format_number(float(np.max(np.abs(derivs.gradient))), 3)
                if derivs is not None else "NA")
        cells = [["link", "threshold", "nobs", "logLik", "AIC", "niter", "max.grad"],
                 [m.link, "flexible", str(m.nobs()), f"{self.logLik:.2f}",
                  f"{self.AIC:.2f}", str(m.optinfo.feval), grad]]
        widths = [max(len(a), len(b)) for a, b in zip(*cells)]
        for row in cells:
            lines.append(" " + " ".join(c.ljust(w) for c, w in zip(row, widths)) + " ")
        lines += ["", "Random effects:"]
        lines += varcorr_lines(self.varcor, digits, comp=("Variance", "Std.Dev."))
        groups = "  ".join(f"{g} {n}" for g, n in m.ngrps().items())
        lines.append(f"Number of groups:  {groups} ")
        if coefficients and len(self.coefficients):
            lines += ["", "Coefficients:"]
            lines += print_coefmat(self.coefficients, digits)
        lines += ["", "Threshold coefficients:"]
        lines += print_coefmat(self.thresholds, digits, signif_stars=False)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()

    __repr__ = __str__
