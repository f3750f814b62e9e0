"""The fitted linear mixed model: lme4's ``lmerMod``.

An :class:`LmerMod` is a frozen snapshot: arrays are copied out of the objective's
workspace when the model is made, derived quantities are computed lazily and cached, and
nothing a caller does to it (or to the devfun that produced it) changes it.
"""

from __future__ import annotations

import warnings
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sps

from ..convergence import is_singular
from ..exceptions import DeprecatedUseWarning, PylmerError
from ..linalg.pls import PLSWorkspace, profiled_deviance
from ..validate import check_bool
from .varcorr import VarCorr

__all__ = ["LmerMod", "LogLik", "Ranef"]



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
        from .format import format_ranef

        return format_ranef(self)


def _update_formula(old: str, new: str) -> str:
    """R's ``update.formula``: ``.`` in the new formula is the old response (left) or the
    old right-hand side (right)."""
    from ..formula.rexpr import BinOp, Call, Name, Paren, UnaryOp, deparse, parse

    old_tree, new_tree = parse(old), parse(new)
    if not (isinstance(old_tree, BinOp) and old_tree.op == "~"):
        return new

    def substitute(node, dot):
        if isinstance(node, Name) and node.id == ".":
            return dot
        if isinstance(node, BinOp):
            return BinOp(node.op, substitute(node.left, dot), substitute(node.right, dot))
        if isinstance(node, UnaryOp):
            return UnaryOp(node.op, substitute(node.operand, dot))
        if isinstance(node, Paren):
            return Paren(substitute(node.inner, dot))
        if isinstance(node, Call):
            return Call(node.fn, tuple(substitute(a, dot) for a in node.args), node.kwargs)
        return node

    if isinstance(new_tree, UnaryOp) and new_tree.op == "~":  # "~ . - x": keep the response
        new_tree = BinOp("~", old_tree.left, new_tree.operand)
    if not (isinstance(new_tree, BinOp) and new_tree.op == "~"):
        return new
    rhs = _drop_subtracted(substitute(new_tree.right, old_tree.right))
    return deparse(BinOp("~", substitute(new_tree.left, old_tree.left), rhs))


def _drop_subtracted(rhs):
    """Cancel ``- term`` against an added ``term`` on a right-hand side, as R's
    ``update.formula`` simplifies ``Days + (Days | Subject) - Days`` to ``(Days | Subject)``.
    Subtractions with nothing to cancel (``- 1``) stay."""
    from ..formula.rexpr import BinOp, Num, deparse

    def signed_terms(node, sign):
        if isinstance(node, BinOp) and node.op in ("+", "-"):
            right_sign = sign if node.op == "+" else -sign
            return signed_terms(node.left, sign) + signed_terms(node.right, right_sign)
        return [(sign, node)]

    terms = signed_terms(rhs, 1)
    kept = []
    for sign, node in terms:
        added = [i for i, (s, n) in enumerate(kept) if s > 0 and deparse(n) == deparse(node)]
        if sign < 0 and added:
            del kept[added[0]]
        else:
            kept.append((sign, node))
    if len(kept) == len(terms):
        return rhs
    if not kept or kept[0][0] < 0:
        kept.insert(0, (1, Num("1")))
    out = kept[0][1]
    for sign, node in kept[1:]:
        out = BinOp("+" if sign > 0 else "-", out, node)
    return out


class LmerMod:
    """A fitted linear mixed-effects model (R: ``lmerMod``).

    Made by :func:`pylmer.lmer`. Methods carry lme4's names: ``fixef``, ``ranef``,
    ``VarCorr``, ``vcov``, ``sigma``, ``logLik``, ``getME``, ``summary`` ...
    """

    def __init__(self, lf, devfun, optinfo):
        ws = devfun.workspace
        if ws.theta is None or not np.array_equal(ws.theta, optinfo.par):
            devfun(optinfo.par)
        self._lf = lf
        self._REML = devfun.REML
        self._theta = optinfo.par.copy()
        self._beta = ws.beta.copy()
        self._u = ws.u().copy()
        self._RX = ws.RX.copy()
        self._RZX = ws.RZX.copy()
        self._ldL2, self._ldRX2, self._pwrss, self._ldW = ws.ldL2, ws.ldRX2, ws.pwrss, ws.ldW
        self._backend = None if ws.dense else ws.chol.backend
        self._optinfo = optinfo
        self._freeze()

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

    def sigma(self) -> float:
        """Residual standard deviation (R: ``sigma``)."""
        denom = self._n - self._p if self._REML else self._n
        return float(np.sqrt(self._pwrss / denom))

    # ------------------------------------------------------------------ criteria
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
            warnings.warn("deviance() is deprecated for REML fits; use REMLcrit for the REML "
                          "criterion or deviance(.,REML=FALSE) for deviance calculated at "
                          "the REML fit", DeprecatedUseWarning, stacklevel=2)
        use_reml = self._REML if REML is None else REML
        return float(self.REMLcrit() if use_reml else self._ml_deviance())

    def logLik(self, REML: bool | None = None) -> LogLik:
        """Log-likelihood (the REML log-likelihood for REML fits), with its df."""
        use_reml = self._REML if REML is None else REML
        df = self._p + self._nth + 1
        return LogLik(-0.5 * self.deviance(use_reml), df, self._n, use_reml)

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

    @cached_property
    def _RXinv(self) -> np.ndarray:
        return np.linalg.solve(self._RX, np.eye(self._p))

    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the fixed effects: ``sigma^2 (RX' RX)^{-1}``."""
        v = self.sigma() ** 2 * (self._RXinv @ self._RXinv.T)
        names = list(self._lf.X_colnames)
        return pd.DataFrame(v, index=names, columns=names)

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

    @cached_property
    def _workspace(self) -> PLSWorkspace:
        """A private workspace at the estimates, for solves with the factor L."""
        lf = self._lf
        rt = lf.reTrms
        ws = PLSWorkspace(lf.X, lf.y, rt.Zt, rt.Lambdat, rt.Lind, weights=lf.weights,
                          offset=lf.offset, backend=self._backend)
        return ws.set_theta(self._theta)

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
            W = self._workspace.solve_L(cols)
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

    def VarCorr(self) -> VarCorr:
        """Variances, standard deviations and correlations (R: ``VarCorr``)."""
        s = self.sigma()
        return VarCorr.from_theta(self._theta, self._lf.reTrms.cnms, sigma=s, scale=s)

    def isSingular(self, tol: float = 1e-4) -> bool:
        """True when a variance is (nearly) zero or a correlation is +-1 (R: ``isSingular``)."""
        return is_singular(self._theta, self._lf.reTrms.lower, tol)

    # ------------------------------------------------------------------ fitted values
    @cached_property
    def _fitted(self) -> np.ndarray:
        lf = self._lf
        eta = lf.X @ self._beta + np.asarray(lf.reTrms.Zt.T @ self._b)
        if lf.offset is not None:
            eta = eta + lf.offset
        return eta

    def _series(self, values: np.ndarray, name: str) -> pd.Series:
        # na_action="exclude": the dropped rows are back, as NaN (R's na.exclude)
        return self._lf.fr.padded(values, name)

    def fitted(self) -> pd.Series:
        """Conditional fitted values X beta + Z b (+ offset) (R: ``fitted``)."""
        return self._series(self._fitted.copy(), "fitted")

    def residuals(self, type: str = "response", scaled: bool = False) -> pd.Series:
        """Residuals: ``"response"`` (y - fitted) or ``"pearson"`` (times sqrt(weights));
        ``scaled=True`` divides by sigma (R: ``residuals``)."""
        scaled = check_bool(scaled, "scaled")
        if type not in ("response", "pearson"):
            raise PylmerError(f"type={type!r}: use 'response' or 'pearson'")
        r = self._lf.y - self._fitted
        if type == "pearson" and self._lf.weights is not None:
            r = r * np.sqrt(self._lf.weights)
        if scaled:
            r = r / self.sigma()
        return self._series(r, "residuals")

    def predict(self, newdata=None, re_form=None, allow_new_levels: bool = False,
                type: str = "link", se_fit: bool = False):
        """Predictions (R: ``predict``): see :func:`pylmer.predict.predict`."""
        from ..predict import predict

        return predict(self, newdata, re_form=re_form, allow_new_levels=allow_new_levels,
                       type=type, se_fit=se_fit)

    def simulate(self, nsim: int = 1, seed=None, use_u: bool = False, newdata=None,
                 allow_new_levels: bool = False):
        """Simulated responses (R: ``simulate``): see :func:`pylmer.predict.simulate`."""
        from ..predict import simulate

        return simulate(self, nsim=nsim, seed=seed, use_u=use_u, newdata=newdata,
                        allow_new_levels=allow_new_levels)

    def kenward_roger(self):
        """Fixed effects with Kenward-Roger adjusted SE, df, t and p (pbkrtest's method)."""
        from ..inference.kenward_roger import kenward_roger

        return kenward_roger(self)

    def satterthwaite(self):
        """Fixed effects with Satterthwaite df, t and p (lmerTest's ``summary()`` table)."""
        from ..inference.satterthwaite import satterthwaite

        return satterthwaite(self)

    def confint(self, method: str = "profile", level: float = 0.95, nsim: int = 500,
                seed=None, n_jobs: int = 1, oldNames: bool = True, progress: bool = True):
        """Confidence intervals (R: ``confint``): see :func:`pylmer.inference.confint.confint`."""
        from ..inference.confint import confint

        return confint(self, method=method, level=level, nsim=nsim, seed=seed, n_jobs=n_jobs,
                       oldNames=oldNames, progress=progress)

    def update(self, formula: str | None = None, **changes):
        """Fit again with some arguments changed (R: ``update(m, formula, REML = ...)``).

        ``formula`` is a whole new formula or R's shorthand (``. ~ . - x``, ``. ~ . + z``:
        ``.`` stands for the old response or right-hand side); other keywords are those of :func:`~pylmer.lmer` / :func:`~pylmer.glmer`
        (``REML``, ``data``, ``weights``, ``control``, ``nAGQ``, ``family`` ...).
        """
        from ..api import lmer
        from ..glmm import glmer

        args = dict(self._lf.call or {})
        old = args.get("formula", self.formula)
        args["formula"] = _update_formula(old, formula) if formula else old
        if hasattr(self, "family"):
            args.setdefault("family", self.family)
            args.setdefault("nAGQ", self.nAGQ)
            args.update(changes)
            return glmer(**args)
        args["REML"] = self.REML
        args.update(changes)
        return lmer(**args)

    def profile(self, alphamax: float = 0.01, npoints: int = 11, progress: bool = True):
        """Likelihood profiles (R: ``profile``): see :func:`pylmer.inference.profile.profile`."""
        from ..inference.profile import profile

        return profile(self, alphamax=alphamax, npoints=npoints, progress=progress)

    def refit(self, newresp):
        """The same model fitted to a new response (R: ``refit``)."""
        from ..inference.bootstrap import refit

        return refit(self, newresp)

    # ------------------------------------------------------------------ getME
    def devcomp(self) -> dict:
        """lme4's ``m@devcomp``: ``cmp`` (ldL2, ldRX2, wrss, ussq, pwrss, ...) and ``dims``."""
        n, p = self._n, self._p
        ussq = float(self._u @ self._u)
        cmp = {
            "ldL2": self._ldL2, "ldRX2": self._ldRX2, "wrss": self._pwrss - ussq,
            "ussq": ussq, "pwrss": self._pwrss, "drsum": None,
            "REML": self.REMLcrit() if self._REML else None,
            "dev": None if self._REML else self._ml_deviance(),
            "sigmaML": float(np.sqrt(self._pwrss / n)),
            "sigmaREML": float(np.sqrt(self._pwrss / (n - p))),
        }
        dims = {"N": n, "n": n, "p": p, "nmp": n - p, "q": self._lf.reTrms.q,
                "nth": self._nth, "useSc": 1, "reTrms": len(self._lf.reTrms.cnms), "spFe": 0,
                "REML": p if self._REML else 0, "GLMM": 0, "NLMM": 0}
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
            "L": lambda: self._workspace.L(),
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
        if name not in getters:
            raise PylmerError(f"getME: unknown component {name!r}; available: "
                             + ", ".join(getters))
        return getters[name]()

    # ------------------------------------------------------------------ printing
    def summary(self, ddf: str | None = None):
        """lme4's ``summary(m)``: print it, or read its parts.

        ``ddf="Satterthwaite"`` gives lmerTest's summary instead (R:
        ``summary(as_lmerModLmerTest(m))``): the fixed effects with Satterthwaite's df and
        the p-values of their t-tests; ``ddf="Kenward-Roger"`` the same with pbkrtest's
        adjusted standard errors and df (REML fits). None or "lme4": lme4's.
        """
        from .summary import LmerSummary

        return LmerSummary(self, ddf=ddf)

    def __repr__(self) -> str:
        from .format import format_lmermod

        return format_lmermod(self, data_name=self._lf.data_name)

    def _repr_html_(self) -> str:
        from .format import html_lmermod

        return html_lmermod(self, data_name=self._lf.data_name)
