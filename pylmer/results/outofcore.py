"""The linear mixed model fitted out of core, to a Dask DataFrame.

An out-of-core fit (:func:`pylmer.lmer` given a Dask DataFrame; see
:mod:`pylmer.outofcore`) keeps what the estimates are made of, the q x q penalized least
squares system, and none of the rows. :class:`OutOfCoreLmerMod` is an
:class:`~pylmer.results.lmermod.LmerMod` whose methods that need the rows (fitted values,
residuals, simulation, refits, profiles) raise :class:`~pylmer.exceptions.NotAvailableError`
saying why and what to do; everything else (``fixef``, ``ranef``, ``VarCorr``, ``vcov``,
``logLik``, ``summary`` ...) is lme4's, computed as for a model in memory. R has no
equivalent: lme4 fits data in memory.
"""

from __future__ import annotations

from ..exceptions import NotAvailableError
from .lmermod import LmerMod
from .summary import LmerSummary

__all__ = ["OutOfCoreLmerMod", "ROW_COMPONENTS", "rows_not_kept"]

# getME's components with one value (or row) per observation
ROW_COMPONENTS = ("X", "Z", "Zt", "y", "weights", "offset", "flist")


def rows_not_kept(what: str) -> NotAvailableError:
    """The error for ``what`` (a method or component needing the rows) of an out-of-core
    fit: why it is not there, and what to do."""
    return NotAvailableError(
        f"{what} needs the model's rows, which an out-of-core fit (lmer() of a Dask "
        "DataFrame) does not keep: it holds the q x q cross-products and the estimates "
        f"only. If the data fit in memory, fit lmer(formula, ddf.compute()) for {what}")


class OutOfCoreLmerMod(LmerMod):
    """A linear mixed model fitted out of core to a Dask DataFrame (lme4's ``lmerMod``
    otherwise; R has no out-of-core fit).

    Made by :func:`pylmer.lmer` when ``data`` is a Dask DataFrame. ``fixef``, ``ranef``,
    ``coef``, ``VarCorr``, ``sigma``, ``vcov``, ``logLik``, ``REMLcrit``, ``deviance``,
    ``AIC``, ``BIC``, ``nobs``, ``ngrps``, ``isSingular``, ``getME`` (theta, beta, u, b,
    Lambda, Lambdat, Lind, L, RX, RZX, cnms, lower, devcomp, ...), ``predict(newdata)``,
    ``confint(method="Wald")`` and ``summary()`` (without lme4's "Scaled residuals",
    which need the rows) are those of a model fitted in memory. ``fitted``,
    ``residuals``, ``predict()`` of the fitted rows, ``simulate``, ``refit``, ``update``,
    ``profile``, ``bootMer``, profile or bootstrap intervals and the Satterthwaite and
    Kenward-Roger tests need the rows: they raise
    :class:`~pylmer.exceptions.NotAvailableError`.

    Attributes
    ----------
    npartitions : int
        The partitions of the Dask DataFrame, each read twice (levels, cross-products).
    """

    keeps_rows = False

    @property
    def npartitions(self) -> int:
        return self._lf.npartitions

    @property
    def _p(self) -> int:
        return len(self._lf.X_colnames)  # X itself (n x p) is not kept

    def _make(self, lf, devfun, optinfo):
        raise rows_not_kept("a refit")

    # ------------------------------------------------------------------ row methods
    def fitted(self):
        """Not available: fitted values are one per row (R: ``fitted``)."""
        raise rows_not_kept("fitted()")

    def residuals(self, type: str = "response", scaled: bool = False):
        """Not available: residuals are one per row (R: ``residuals``)."""
        raise rows_not_kept("residuals()")

    def predict(self, newdata=None, re_form=None, allow_new_levels: bool = False,
                type: str = "link", se_fit: bool = False):
        """Predictions for ``newdata`` (a pandas DataFrame), as for a model in memory (R:
        ``predict(m, newdata)``); the fitted rows' predictions are not available."""
        if newdata is None:
            raise rows_not_kept("predict() of the fitted rows (without newdata)")
        return super().predict(newdata, re_form=re_form, allow_new_levels=allow_new_levels,
                               type=type, se_fit=se_fit)

    def simulate(self, nsim: int = 1, seed=None, use_u: bool = False, newdata=None,
                 allow_new_levels: bool = False):
        """Not available: a simulated response is one value per row (R: ``simulate``)."""
        raise rows_not_kept("simulate() (and bootMer(), which refits simulated responses)")

    def refit(self, newresp):
        """Not available: a new response is one value per row (R: ``refit``)."""
        raise rows_not_kept("refit()")

    def update(self, formula: str | None = None, **changes):
        """Not available: call :func:`pylmer.lmer` on the Dask DataFrame again, with the
        changed arguments (R: ``update``)."""
        raise NotAvailableError(
            "update() of an out-of-core fit: the Dask DataFrame is not refitted implicitly "
            "(each fit reads it twice); call lmer(formula, ddf, ...) again with the changed "
            "arguments")

    def profile(self, alphamax: float = 0.01, npoints: int = 11, progress: bool = True):
        """Not available: profiles refit the model to its rows (R: ``profile``)."""
        raise rows_not_kept("profile()")

    def confint(self, method: str = "profile", level: float = 0.95, nsim: int = 500,
                seed=None, n_jobs: int = 1, oldNames: bool = True, progress: bool = True):
        """Wald intervals, as for a model in memory (R: ``confint(m, method = "Wald")``);
        profile and bootstrap intervals refit the model to its rows and are not
        available."""
        if method != "Wald":
            raise rows_not_kept(f"confint(method={method!r}) (use method='Wald')")
        return super().confint(method=method, level=level, nsim=nsim, seed=seed,
                               n_jobs=n_jobs, oldNames=oldNames, progress=progress)

    def satterthwaite(self):
        """Not available here (lmerTest's tests are computed from the model's rows)."""
        raise rows_not_kept("satterthwaite()")

    def kenward_roger(self):
        """Not available here (pbkrtest's adjustment is computed from X and Z)."""
        raise rows_not_kept("kenward_roger()")

    def getME(self, name: str):
        """lme4's ``getME`` for the components that do not need the rows; ``X``, ``Z``,
        ``Zt``, ``y``, ``weights``, ``offset`` and ``flist`` do and raise."""
        if name in ROW_COMPONENTS:
            raise rows_not_kept(f"getME({name!r})")
        return super().getME(name)

    def summary(self, ddf: str | None = None) -> LmerSummary:
        """lme4's ``summary(m)``, without the "Scaled residuals" block (the residuals are
        one per row). Only lme4's own t-tests (``ddf=None``)."""
        if ddf not in (None, "lme4"):
            raise rows_not_kept(f"summary(ddf={ddf!r})")
        return LmerSummary(self, ddf=ddf)
