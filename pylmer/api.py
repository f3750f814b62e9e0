"""The fitting functions users call: ``lmer()``, ``glmer()``, ``glmer_nb()``, ``clmm()``
and ``update()``.

Each is lme4's modular steps in order (:mod:`pylmer.modular`): the steps up to the
optimum in :mod:`pylmer.fitting`, then ``mkMerMod``.
"""

from __future__ import annotations

from collections.abc import Mapping

from .control import GlmerControl, LmerControl
from .exceptions import NotAvailableError
from .family import Family, NegativeBinomial
from .fitting import clmm_steps, glmer_steps, lmer_steps
from .formula.frame import is_dask
from .modular import mkMerMod
from .outofcore import lmer_outofcore
from .results.clmmmod import ClmmMod
from .results.glmermod import GlmerMod
from .results.lmermod import LmerMod
from .validate import check_model

__all__ = ["clmm", "glmer", "glmer_nb", "lmer", "update"]


def _refuse_dask(data: object, function: str) -> None:
    """Out-of-core fits are for LMMs: a Dask DataFrame given to ``function`` is an error
    saying so."""
    if is_dask(data):
        raise NotAvailableError(
            f"{function}() of a Dask DataFrame: out-of-core fitting covers linear mixed "
            "models only (lmer()); a GLMM's fit reweights the rows at every step, so they "
            f"must be in memory. .compute() the data to a pandas DataFrame and call "
            f"{function}() on that, if it fits in memory")


def lmer(formula: str, data, REML: bool = True, weights=None, offset=None,
         na_action: str = "omit", control: LmerControl | None = None, start=None,
         contrasts: Mapping[str, str] | None = None, verbose: int = 0) -> LmerMod:
    """Fit a linear mixed-effects model (R: ``lme4::lmer``).

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``.
    data : pandas.DataFrame or dask.dataframe.DataFrame
        The data (polars DataFrames and dicts of columns are accepted). Not modified. A
        Dask DataFrame is fitted out of core: its rows stay on dask's workers, two passes
        gather the factors' levels and the model's cross-products, and the estimates are
        those of the data in memory (see :mod:`pylmer.outofcore`; weights and offset
        then name columns, and the model cannot give what needs the rows, such as
        fitted values).
    REML : bool, default True
        Fit by REML (True) or maximum likelihood (False).
    weights : str or array-like, optional
        Prior weights (R: ``lmer(weights = )``): observation i has residual variance
        ``sigma**2 / weights[i]``. A column name (``weights="w"``), an R expression of
        columns evaluated by pylmer's own formula interpreter, never as Python
        (``weights="n / 10"``, ``weights="1 / sqrt(n)"``), or a vector of one value per row
        of ``data``. Non-negative and finite, not all zero; rows where it is missing are
        handled by ``na_action``.
    offset : str or array-like, optional
        An offset: a known part of the linear predictor, with coefficient 1 (R:
        ``lmer(offset = )``). A column name, an R expression of columns
        (``offset="log(n)"``), or a vector of one value per row of ``data``. It adds to the
        formula's ``offset()`` terms, if any.
    na_action : {"omit", "exclude", "fail"}
        What to do with rows holding missing values in model columns.
    control : LmerControl, optional
        Optimizer, tolerances and the action of each check (R: ``lmerControl()``).
    start : array-like or {"theta": array-like}, optional
        Starting theta (default: lme4's).
    contrasts : dict, optional
        Contrasts by factor, e.g. ``{"recipe": "contr.sum"}``.
    verbose : int, default 0
        1 or more prints the optimizer's progress, each evaluation's deviance (R: lme4's
        ``verbose = 1``).

    Returns
    -------
    LmerMod

    Examples
    --------
    >>> from pylmer import lmer, load_dataset
    >>> m = lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))
    >>> round(m.REMLcrit(), 4)
    1743.6283
    """
    if is_dask(data):
        return lmer_outofcore(formula, data, REML=REML, weights=weights, offset=offset,
                              na_action=na_action, control=control, start=start,
                              contrasts=contrasts, verbose=verbose)
    return mkMerMod(*lmer_steps(formula, data, REML=REML, weights=weights, offset=offset,
                                na_action=na_action, control=control, start=start,
                                contrasts=contrasts, verbose=verbose))


def glmer(formula: str, data, family: Family | str = "binomial", nAGQ: int = 1,
          weights=None, offset=None, na_action: str = "omit",
          control: GlmerControl | None = None, start=None,
          contrasts: Mapping[str, str] | None = None, verbose: int = 0) -> GlmerMod | LmerMod:
    """Fit a generalized linear mixed-effects model (R: ``lme4::glmer``).

    Parameters
    ----------
    formula : str
        lme4 formula; binomial responses as 0/1, logical, a two-level factor (first level =
        failure), ``cbind(successes, failures)``, or proportions with ``weights=`` trials.
    data : pandas.DataFrame
    family : str or Family
        ``"binomial"``, ``"poisson"``, ``"Gamma"``, ... or ``binomial(link="probit")``.
    nAGQ : int, default 1
        0: beta estimated inside PIRLS (fast, approximate); 1: the Laplace approximation;
        > 1: adaptive Gauss-Hermite quadrature with that many points per effect: the
        random effects of one grouping factor (``(1 | g)`` as lme4, and ``(1 + x | g)``)
        or two nested scalar terms (``(1 | a/b)``); see :mod:`pylmer.agq`.
    weights : str or array-like, optional
        Prior weights (R: ``glmer(weights = )``). For a binomial response given as
        proportions, the numbers of trials: ``glmer("prop ~ x + (1 | g)", data,
        weights="size")`` fits what ``cbind(y, size - y)`` fits. For other families each
        row's contribution to the deviance is multiplied by its weight. A column name, an R
        expression of columns evaluated by pylmer's own formula interpreter, never as Python
        (``weights="n / 10"``), or a vector of one value per row of ``data``. Non-negative
        and finite, not all zero; rows where it is missing are handled by ``na_action``.
    offset : str or array-like, optional
        An offset: a known part of the linear predictor (on the link scale), with
        coefficient 1 (R: ``glmer(offset = )``), e.g. ``offset="log(n)"`` for a Poisson rate
        per ``n`` units of exposure. A column name, an R expression of columns, or a vector
        of one value per row of ``data``. It adds to the formula's ``offset()`` terms, if
        any.
    control : GlmerControl, optional
        Optimizers for the two stages, ``tolPwrss``, check actions (R: ``glmerControl``).
    start : array-like or {"theta": ...}, optional
        Starting theta for stage 1.
    verbose : int, default 0
        1 or more prints the optimizers' progress (R: lme4's ``verbose = 1``).

    Returns
    -------
    GlmerMod

    Notes
    -----
    Dispersion families (Gamma, inverse Gaussian, gaussian with a link) are fitted as lme4
    fits them, which is not exact maximum likelihood: the Laplace deviance uses the family's
    ``aic()`` with the dispersion estimated as deviance / n, and ``sigma()`` is lme4's
    ``sqrt((Pearson chi-square + |u|^2) / n)``. On the shipped ``gamma_sim`` data (true
    random-effect sd 0.5) this gives lme4's 0.30, not the 0.5 an exact ML fit aims at;
    pylmer reproduces lme4 here on purpose.
    """
    _refuse_dask(data, "glmer")
    return mkMerMod(*glmer_steps(formula, data, family=family, nAGQ=nAGQ, weights=weights,
                                 offset=offset, na_action=na_action, control=control,
                                 start=start, contrasts=contrasts, verbose=verbose))


def glmer_nb(formula: str, data, init_theta: float | None = None, link: str = "log",
             nAGQ: int = 1, weights=None, offset=None, na_action: str = "omit",
             control: GlmerControl | None = None, start=None,
             contrasts: Mapping[str, str] | None = None, verbose: int = 0) -> GlmerMod:
    """Fit a negative binomial GLMM with theta estimated (R: ``lme4::glmer.nb``).

    The objective is lme4's: the Laplace approximation of ``glmer(..., family =
    negative.binomial(theta))``, with PIRLS's (Fisher-scoring) weights in the
    log-determinant. lme4 alternates between optimizing theta and refitting the GLMM;
    here log(theta) is a parameter of the same optimizer as the random-effects and fixed
    parameters, and PIRLS converges to 1e-12, so the optimum is the one lme4's loop
    approaches (its default tolerances stop 7e-4 to 9e-4 short in logLik).

    Parameters
    ----------
    formula, data, nAGQ, weights, offset, na_action, control, start, contrasts, verbose
        As :func:`glmer`.
    init_theta : float, optional
        The starting NB theta (R: ``init.theta``); from the moments of the response when
        omitted.
    link : str, default "log"
        ``"log"``, ``"sqrt"`` or ``"identity"``.

    Returns
    -------
    GlmerMod
        Its family is ``NegativeBinomial`` with the estimate: ``m.family.theta``, or
        lme4's ``getME(m, "glmer.nb.theta")``. ``glmer(..., family=nbinom2())`` fits the
        same distribution with glmmTMB's Laplace approximation instead.
    """
    _refuse_dask(data, "glmer_nb")
    family = NegativeBinomial(link, theta=init_theta, estimated=True)
    return glmer(formula, data, family=family, nAGQ=nAGQ, weights=weights, offset=offset,
                 na_action=na_action, control=control, start=start, contrasts=contrasts,
                 verbose=verbose)


def clmm(formula: str, data, link: str = "logit", nAGQ: int = 1, weights=None,
         offset=None, na_action: str = "omit", control: GlmerControl | None = None,
         start=None, contrasts: Mapping[str, str] | None = None,
         verbose: int = 0) -> ClmmMod:
    """Fit a cumulative-link mixed model for an ordered response (R: ``ordinal::clmm``).

    ``P(Y <= j | x, u) = F(alpha_j - x'beta - z'u)``: one threshold alpha_j per pair of
    adjacent categories, no intercept, F the link's distribution function. The
    likelihood is ordinal's Laplace approximation (the observed information in the
    log-determinant); the conditional modes come from the same penalized Newton
    iterations as :func:`glmer`'s.

    Parameters
    ----------
    formula : str
        E.g. ``"rating ~ temp + contact + (1 | judge)"``. The response must be an
        ordered categorical (pandas ``Categorical`` with ``ordered=True``, or
        ``ordered(x)`` in the formula).
    data : pandas.DataFrame
    link : {"logit", "probit", "cloglog"}
    nAGQ : int, default 1
        1: the Laplace approximation; > 1: adaptive Gauss-Hermite quadrature (the effects
        of one grouping factor, or nested terms; see :mod:`pylmer.agq`); 0: beta
        estimated with the conditional modes.
    weights, offset, na_action, control, start, contrasts, verbose
        As :func:`glmer`.

    Returns
    -------
    ClmmMod
        Thresholds in ``m.alpha`` (named ``"1|2"``, ...), coefficients in ``fixef(m)``,
        ``predict(m, type="prob")`` for category probabilities.
    """
    _refuse_dask(data, "clmm")
    return mkMerMod(*clmm_steps(formula, data, link=link, nAGQ=nAGQ, weights=weights,
                                offset=offset, na_action=na_action, control=control,
                                start=start, contrasts=contrasts, verbose=verbose))


def update(model: LmerMod | GlmerMod, formula: str | None = None,
           **changes) -> LmerMod | GlmerMod:
    """Fit a model again with some arguments changed (R: ``update(m, formula, ...)``).

    The same as ``model.update(formula, **changes)``: see
    :meth:`pylmer.LmerMod.update`.
    """
    return check_model(model).update(formula, **changes)
