"""What every fitted mixed model has: lme4's ``merMod``.

:class:`MerMod` is a frozen snapshot: arrays are copied out of the deviance function's
state when the model is made, derived quantities are computed lazily and cached, and
nothing a caller does to it (or to the devfun that produced it) changes it. The two kinds,
:class:`~pylmer.results.lmermod.LmerMod` and :class:`~pylmer.results.glmermod.GlmerMod`,
add what differs: the criteria, the scale, the fitted values and the residuals.

Methods that refit or simulate are thin: the work is a function of
:mod:`pylmer.inference` or :mod:`pylmer.predict` taking the model.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sps

from ..convergence import is_singular
from ..exceptions import PylmerError
from ..inference.confint import confint as _confint
from ..inference.kenward_roger import kenward_roger as _kenward_roger
from ..inference.profile import profile as _profile
from ..inference.refit import refit as _refit
from ..inference.refit import update as _update
from ..inference.satterthwaite import satterthwaite as _satterthwaite
from ..predict import predict as _predict
from ..predict import simulate as _simulate
from ..printing.format import format_lmermod, format_ranef, html_lmermod
from ..validate import check_bool

__all__ = ["LogLik", "MerMod", "Ranef"]


class LogLik(float):
    """A log-likelihood with its degrees of freedom (R: an object of class ``logLik``)."""

    def __new__(cls, value: float, df: int, nobs: int, REML: bool):
        out = super().__new__(cls, value)
        out.df, out.nobs, out.REML = df, nobs, REML
        return out

    def __repr__(self) -> str:
        return f"'log Lik.' {float(self):.7g} (df={self.df})"


class Ranef(dict):
    """Conditional modes of the random effects, one DataFrame per grouping factor.

    R: ``ranef(m, condVar = TRUE)``. ``postVar[group]`` holds the conditional covariance
    matrices, an array (levels, k, k); :meth:`condsd` gives their square-root diagonals.
    """

    def __init__(self, frames: dict[str, pd.DataFrame],
                 postVar: dict[str, np.ndarray] | None = None):
        super().__init__(frames)
        self.postVar = postVar or {}

    def condsd(self, group: str) -> pd.DataFrame:
        """Conditional standard deviations of ``group``'s random effects."""
        frame = self[group]
        sd = np.sqrt(np.diagonal(self.postVar[group], axis1=1, axis2=2))
        return pd.DataFrame(sd, index=frame.index, columns=frame.columns)

    def __repr__(self) -> str:
        """lme4's ``print(ranef(m))``."""
        return format_ranef(self)


class MerMod:
    """A fitted mixed-effects model (R: ``merMod``), the base of ``LmerMod`` and
    ``GlmerMod``.

    Methods carry lme4's names: ``fixef``, ``ranef``, ``VarCorr``, ``vcov``, ``sigma``,
    ``logLik``, ``getME``, ``summary`` ...
    """

    _REML = False
    # whether the model holds its rows (X, Z, y): False for an out-of-core fit, whose
    # summary then leaves out what needs them (the scaled residuals)
    keeps_rows = True

    def _make(self, lf, devfun, optinfo) -> MerMod:
        """A model of this kind from a refit's devfun and optimum (what ``mkMerMod``
        makes)."""
        raise NotImplementedError

    def isGLMM(self) -> bool:
        """Whether this is a generalized linear mixed model (R: ``isGLMM``)."""
        return False

    def isLMM(self) -> bool:
        """Whether this is a linear mixed model (R: ``isLMM``)."""
        return not self.isGLMM()

    def isREML(self) -> bool:
        """Whether the model was fitted by REML (R: ``isREML``)."""
        return self._REML

    def _freeze(self) -> None:
        """No attribute is set and no array changed after the fit (methods hand out copies,
        and a write into a held array raises)."""
        for value in vars(self).values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name, value):
        if getattr(self, "_frozen", False):
            raise AttributeError("a fitted model is immutable")
        object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ basics
    @property
    def factor(self):
        """The Cholesky factor L of ``P (Lambda'Z'WZ Lambda + I) P'`` at the estimates
        (``solve_L(B)`` = L^-1 P B, ``solve_Lt``, ``logdet``), for computations such as the
        hat matrix."""
        return self._factor

    @property
    def theta(self) -> np.ndarray:
        """Relative covariance parameters (copy), named in ``getME("theta")``."""
        return self._theta.copy()

    @property
    def beta(self) -> np.ndarray:
        """Fixed-effects coefficients (copy)."""
        return self._beta.copy()

    @property
    def formula(self) -> str:
        return self._lf.formula.text

    @property
    def optinfo(self):
        return self._optinfo

    @property
    def REML(self) -> bool:
        return self._REML

    @property
    def lf(self):
        """The :class:`~pylmer.modular.LFormula` the model was fitted from."""
        return self._lf

    def nobs(self) -> int:
        return self._lf.n

    @property
    def _n(self) -> int:
        return self._lf.n

    @property
    def _p(self) -> int:
        return self._lf.X.shape[1]

    @property
    def _nth(self) -> int:
        return len(self._theta)

    def ngrps(self) -> dict[str, int]:
        """Number of levels of each grouping factor (R: ``ngrps``)."""
        return {k: len(f.categories) for k, f in self._lf.reTrms.flist.items()}

    # ------------------------------------------------------------------ criteria
    def AIC(self) -> float:
        ll = self.logLik()
        return float(2 * ll.df - 2 * ll)

    def BIC(self) -> float:
        ll = self.logLik()
        return float(np.log(self._n) * ll.df - 2 * ll)

    def df_residual(self) -> int:
        return self._n - self.logLik().df

    # ------------------------------------------------------------------ fixed effects
    def fixef(self) -> pd.Series:
        """Fixed-effects estimates with R's names (R: ``fixef``)."""
        return pd.Series(self._beta.copy(), index=list(self._lf.X_colnames), name="fixef")

    # ------------------------------------------------------------------ random effects
    @cached_property
    def _Lambdat(self) -> sps.csc_matrix:
        rt = self._lf.reTrms
        out = rt.Lambdat.copy()
        out.data = self._theta[rt.Lind]
        return out

    @cached_property
    def _b(self) -> np.ndarray:
        return np.asarray(self._Lambdat.T @ self._u)

    def _term_postvar(self, k: int) -> np.ndarray:
        """Conditional covariances of term k's effects: (levels, nc, nc).

        Var(b | y) = sigma^2 Lambda (Lambda'Z'Z Lambda + I)^{-1} Lambda', the block of a
        level being crossprod(L^{-1} P Lambdat[:, cols]).
        """
        rt = self._lf.reTrms
        term = rt.terms[k]
        nc, nl = term.nc, term.nl
        lo = int(rt.Gp[k])
        out = np.empty((nl, nc, nc))
        chunk = max(1, 4096 // nc)  # levels per solve, bounding memory at q x 4096
        for start in range(0, nl, chunk):
            stop = min(nl, start + chunk)
            cols = self._Lambdat[:, lo + start * nc: lo + stop * nc].toarray()
            W = self._factor.solve_L(cols)
            W = W.reshape(W.shape[0], stop - start, nc)
            out[start:stop] = np.einsum("qli,qlj->lij", W, W)
        return out * self.sigma() ** 2

    def ranef(self, condVar: bool = True) -> Ranef:
        """Conditional modes of the random effects (R: ``ranef(m, condVar = TRUE)``).

        Terms on the same grouping factor are merged into one DataFrame (lme4's layout).
        """
        condVar = check_bool(condVar, "condVar")
        rt = self._lf.reTrms
        b = self._b
        frames: dict[str, list] = {}
        post: dict[str, list] = {}
        for k, term in enumerate(rt.terms):
            lo, hi = int(rt.Gp[k]), int(rt.Gp[k + 1])
            values = b[lo:hi].reshape(term.nl, term.nc)
            frame = pd.DataFrame(values, index=pd.Index(term.factor.categories, name=None),
                                 columns=list(term.columns))
            frames.setdefault(term.group_name, []).append(frame)
            if condVar:
                post.setdefault(term.group_name, []).append(self._term_postvar(k))
        merged = {g: pd.concat(fs, axis=1) if len(fs) > 1 else fs[0] for g, fs in frames.items()}
        postvar = {}
        for g, blocks in post.items():
            nl = blocks[0].shape[0]
            total = sum(b.shape[1] for b in blocks)
            arr = np.zeros((nl, total, total))
            at = 0
            for block in blocks:
                nc = block.shape[1]
                arr[:, at: at + nc, at: at + nc] = block
                at += nc
            postvar[g] = arr
        return Ranef(merged, postvar if condVar else None)

    def coef(self) -> dict[str, pd.DataFrame]:
        """Fixed plus random effects per level (R: ``coef``)."""
        fe = self.fixef()
        out = {}
        for group, re in self.ranef(condVar=False).items():
            frame = pd.DataFrame(np.tile(fe.to_numpy(), (len(re), 1)), index=re.index,
                                 columns=fe.index)
            for col in re.columns:
                if col in frame.columns:
                    frame[col] = frame[col] + re[col]
                else:
                    frame[col] = re[col]
            out[group] = frame
        return out

    def isSingular(self, tol: float = 1e-4) -> bool:
        """True when a variance is (nearly) zero or a correlation is +-1 (R: ``isSingular``)."""
        return is_singular(self._theta, self._lf.reTrms.lower, tol)

    # ------------------------------------------------------------------ fitted values
    def _series(self, values: np.ndarray, name: str) -> pd.Series:
        # na_action="exclude": the dropped rows are back, as NaN (R's na.exclude)
        return self._lf.fr.padded(values, name)

    def predict(self, newdata=None, re_form=None, allow_new_levels: bool = False,
                type: str = "link", se_fit: bool = False):
        """Predictions (R: ``predict``): see :func:`pylmer.predict.predict`."""
        return _predict(self, newdata, re_form=re_form, allow_new_levels=allow_new_levels,
                       type=type, se_fit=se_fit)

    def simulate(self, nsim: int = 1, seed=None, use_u: bool = False, newdata=None,
                 allow_new_levels: bool = False):
        """Simulated responses (R: ``simulate``): see :func:`pylmer.predict.simulate`."""
        return _simulate(self, nsim=nsim, seed=seed, use_u=use_u, newdata=newdata,
                        allow_new_levels=allow_new_levels)

    def kenward_roger(self):
        """Fixed effects with Kenward-Roger adjusted SE, df, t and p (pbkrtest's method)."""
        return _kenward_roger(self)

    def satterthwaite(self):
        """Fixed effects with Satterthwaite df, t and p (lmerTest's ``summary()`` table)."""
        return _satterthwaite(self)

    def confint(self, method: str = "profile", level: float = 0.95, nsim: int = 500,
                seed=None, n_jobs: int = 1, oldNames: bool = True, progress: bool = True):
        """Confidence intervals (R: ``confint``): see :func:`pylmer.inference.confint.confint`."""
        return _confint(self, method=method, level=level, nsim=nsim, seed=seed, n_jobs=n_jobs,
                       oldNames=oldNames, progress=progress)

    def update(self, formula: str | None = None, **changes):
        """Fit again with some arguments changed (R: ``update(m, formula, REML = ...)``).

        ``formula`` is a whole new formula or R's shorthand (``. ~ . - x``, ``. ~ . + z``:
        ``.`` stands for the old response or right-hand side); other keywords are those of :func:`~pylmer.lmer` / :func:`~pylmer.glmer`
        (``REML``, ``data``, ``weights``, ``control``, ``nAGQ``, ``family`` ...).
        """
        return _update(self, formula, **changes)

    def profile(self, alphamax: float = 0.01, npoints: int = 11, progress: bool = True):
        """Likelihood profiles (R: ``profile``): see :func:`pylmer.inference.profile.profile`."""
        return _profile(self, alphamax=alphamax, npoints=npoints, progress=progress)

    def refit(self, newresp):
        """The same model fitted to a new response (R: ``refit``)."""
        return _refit(self, newresp)

    # ------------------------------------------------------------------ getME
    def devcomp(self) -> dict:
        """lme4's ``m@devcomp``: ``cmp`` (ldL2, ldRX2, ussq, pwrss, ...) and ``dims``; each
        kind adds its own criteria."""
        n, p = self._n, self._p
        ussq = float(self._u @ self._u)
        cmp = {"ldL2": self._ldL2, "ldRX2": self._ldRX2, "ussq": ussq,
               "pwrss": self._pwrss, "drsum": None}
        dims = {"N": n, "n": n, "p": p, "nmp": n - p, "q": self._lf.reTrms.q,
                "nth": self._nth, "reTrms": len(self._lf.reTrms.cnms), "spFe": 0, "NLMM": 0}
        return {"cmp": cmp, "dims": dims}

    def getME(self, name: str):
        """Model components by lme4's names (R: ``getME``): X, Z, Zt, Lambda, Lambdat, Lind,
        theta, beta, u, b, L, RX, RZX, flist, cnms, lower, devcomp, y, n, p, q, ..."""
        lf, rt = self._lf, self._lf.reTrms
        getters = {
            "X": lambda: lf.X.copy(),
            "Z": lambda: sps.csc_matrix(rt.Zt.T),
            "Zt": lambda: rt.Zt.copy(),
            "Lambda": lambda: sps.csc_matrix(self._Lambdat.T),
            "Lambdat": lambda: self._Lambdat.copy(),
            "Lind": lambda: rt.Lind.copy(),
            "theta": lambda: pd.Series(self._theta.copy(), index=list(rt.theta_names)),
            "beta": lambda: self._beta.copy(),
            "fixef": self.fixef,
            "u": lambda: self._u.copy(),
            "b": lambda: self._b.copy(),
            "L": lambda: self._factor.L(),
            "RX": lambda: self._RX.copy(),
            "RZX": lambda: self._RZX.copy(),
            "flist": lambda: dict(rt.flist),
            "cnms": lambda: [(g, list(c)) for g, c in rt.cnms],
            "lower": lambda: rt.lower.copy(),
            "Gp": lambda: rt.Gp.copy(),
            "devcomp": self.devcomp,
            "y": lambda: np.array(lf.y, copy=True),
            "n": lambda: self._n, "N": lambda: self._n, "p": lambda: self._p,
            "q": lambda: rt.q, "REML": lambda: self._REML, "sigma": self.sigma,
            "offset": lambda: None if lf.offset is None else lf.offset.copy(),
            "weights": lambda: np.ones(self._n) if lf.weights is None else lf.weights.copy(),
        }
        family = getattr(self, "family", None)
        if getattr(family, "extra_name", None) == "theta" and family.extra is not None:
            getters["glmer.nb.theta"] = lambda: float(family.theta)
        if name not in getters:
            raise PylmerError(f"getME: unknown component {name!r}; available: "
                             + ", ".join(getters))
        return getters[name]()

    # ------------------------------------------------------------------ printing
    def __repr__(self) -> str:
        return format_lmermod(self, data_name=self._lf.data_name)

    def _repr_html_(self) -> str:
        return html_lmermod(self, data_name=self._lf.data_name)
