"""Predictions from a fitted model: lme4's ``predict.merMod``.

New data are encoded as the training data were: the formula's variables are evaluated on
them with the training state of each transform (``scale()``, ``poly()``, ``ns()`` keep the
training centre, coefficients and knots), factors take the training levels, and the fixed
part and the random terms' columns are coded by their training recipes. Levels of a grouping factor that
the model has not seen contribute no random effect when ``allow_new_levels=True``, and are
an error naming them otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .exceptions import FormulaError, PylmerError, PylmerWarning, warn_user
from .formula.bars import parse_mixed_formula
from .formula.evaluate import Evaluator
from .formula.frame import as_pandas
from .formula.rexpr import FormulaSyntaxError
from .formula.rvalue import as_character, from_column, match_levels
from .validate import check_bool, check_choice, check_count, check_seed

__all__ = ["predict", "simulate"]

_POPULATION = ("NA", "~0", "~ 0", "0")
_MAX_DRAWS = 5e7  # simulated values in one call (400 MB of doubles)


def _population_only(re_form) -> bool:
    if re_form is None:
        return False
    if re_form is False or (isinstance(re_form, float) and np.isnan(re_form)):
        return True
    return isinstance(re_form, str) and re_form.strip() in _POPULATION


def _selected_terms(model, re_form) -> list[int]:
    """Indices of the random terms to include (R: ``re.form``)."""
    rt = model.lf.reTrms
    if re_form is None:
        return list(range(len(rt.terms)))
    if _population_only(re_form):
        return []
    if not isinstance(re_form, str):
        raise TypeError(f"re_form must be None, 'NA', '~0' or a formula string such as "
                        f"'~(1 | Subject)', got {re_form!r} ({type(re_form).__name__})")
    text = re_form.strip()
    if not text.startswith("~"):
        raise PylmerError(f"re_form={re_form!r}: give None (all random effects), 'NA' or "
                         "'~0' (none), or a formula of random terms such as '~(1 | Subject)'")
    try:
        wanted = parse_mixed_formula("._response_ " + text).random
    except FormulaSyntaxError as exc:
        raise PylmerError(f"re_form={re_form!r} is not a formula of random terms: {exc}") from exc
    keys = [(t.group_name, t.lhs_text) for t in wanted]
    chosen = [k for k, t in enumerate(rt.terms) if (t.group_name, t.term.lhs_text) in keys]
    missing = set(keys) - {(rt.terms[k].group_name, rt.terms[k].term.lhs_text) for k in chosen}
    if missing:
        raise PylmerError(f"re_form: terms {sorted(missing)} are not random terms of the model; "
                         f"its terms are {[str(t.term) for t in rt.terms]}")
    return chosen


def _level_index(term, newdata: pd.DataFrame, allow_new_levels: bool):
    """Each new row's level of a term's grouping factor (-1 for a level the model has not
    seen), labelled as the training factor labels its levels (R: ``as.character``)."""
    variables = term.term.group
    missing = [v for v in variables if v not in newdata.columns]
    if missing:
        raise PylmerError(f"newdata lacks grouping column {missing[0]!r} of random term "
                          f"{term.term}; add it, or leave the term out with re_form")
    parts = [as_character(from_column(newdata[v], v)) for v in variables]
    absent = np.zeros(len(newdata), dtype=bool)
    for part in parts:
        absent |= pd.isna(part)
    if absent.any() and not allow_new_levels:
        raise PylmerError(f"NAs are not allowed in prediction data for grouping variables "
                          f"({term.group_name}) unless allow_new_levels=True")
    labels = parts[0].astype(object)
    for part in parts[1:]:
        labels = np.char.add(np.char.add(labels.astype(str), ":"), part.astype(str)).astype(object)
    labels[absent] = None
    index = match_levels(labels, term.factor.categories)
    unseen = sorted({str(lab) for lab in labels[(index < 0) & ~absent]})
    if unseen and not allow_new_levels:
        shown = ", ".join(unseen[:5]) + (" ..." if len(unseen) > 5 else "")
        raise PylmerError(f"new levels of {term.group_name} in newdata: {shown}; use "
                          "allow_new_levels=True to predict them with zero random effects")
    return index, labels.astype(str)


class _Design:
    """The fixed part and the random terms' columns and levels for the fitted or new data,
    computed once (simulation reuses them for every draw)."""

    def __init__(self, model, newdata, terms, allow_new_levels):
        lf = model.lf
        self.model, self.terms = model, terms
        self.newdata = newdata is not None
        if newdata is None:
            self.X, self.index = lf.X, lf.fr.data.index
            self.fixed = lf.X @ model.beta + (lf.offset if lf.offset is not None else 0.0)
            return
        raw = as_pandas(newdata)
        n = len(raw)
        wanted = list(lf.fixed.labels)
        for k in terms:
            wanted += [v for v in lf.reTrms.terms[k].plan.labels if v not in wanted]
        variables, offset = lf.fr.new_data(raw, wanted, lf.formula.offsets)
        self.X, self.index = lf.fixed.model_matrix(variables, n), raw.index
        self.fixed = self.X @ model.beta + offset
        self.parts = {}
        for k in terms:
            term = lf.reTrms.terms[k]
            # grouping values as given: levels unseen in fitting must stay visible
            level, labels = _level_index(term, raw, allow_new_levels)
            known = level >= 0
            unseen, which = np.unique(labels[~known], return_inverse=True)
            columns = term.plan.build(variables, n)
            self.parts[k] = (level, known, columns, len(unseen), which)

    def eta(self, b: np.ndarray, new_effects=None) -> np.ndarray:
        """X beta + offset + Z b over the chosen terms. ``new_effects(k, m)`` gives (m, nc)
        effects for m new levels of term k; without it new levels contribute nothing."""
        rt = self.model.lf.reTrms
        eta = self.fixed.copy()
        for k in self.terms:
            lo, hi = int(rt.Gp[k]), int(rt.Gp[k + 1])
            if not self.newdata:
                eta += np.asarray(rt.Zt[lo:hi].T @ b[lo:hi])
                continue
            term = rt.terms[k]
            level, known, mm, n_unseen, which = self.parts[k]
            values = b[lo:hi].reshape(term.nl, term.nc)
            eta[known] += np.sum(mm[known] * values[level[known]], axis=1)
            if new_effects is not None and n_unseen:
                eta[~known] += np.sum(mm[~known] * new_effects(k, n_unseen)[which], axis=1)
        return eta


def predict(model, newdata=None, re_form=None, allow_new_levels: bool = False,
            type: str = "link", se_fit: bool = False):
    """Predictions (R: ``predict(m, newdata, re.form, allow.new.levels, type)``).

    Parameters
    ----------
    newdata : DataFrame, optional
        Data to predict for (the response column is not needed); default: the fitted data.
    re_form : None, "NA" / "~0", or str
        None: all random effects (conditional predictions); "NA" or "~0": none
        (population level); a formula such as ``"~(1 | Subject)"``: those terms only.
    allow_new_levels : bool
        Whether grouping levels not seen in fitting are allowed (they get zero effects).
    type : {"link", "response"}
        For GLMMs, the linear predictor or the mean; the same for LMMs.
    se_fit : bool
        Also return standard errors of the fixed-effects part (the random effects taken as
        known, as lme4 and glmmTMB do): on the link scale, or with ``type="response"`` on
        the response scale by the delta method (the link-scale SE times
        ``|d mu / d eta|``, glmmTMB's ``predict(se.fit = TRUE, type = "response")``).

    Returns
    -------
    pandas.Series, or a DataFrame with columns fit and se_fit.
    """
    type = check_choice(type, "type", ("link", "response"))
    allow_new_levels = check_bool(allow_new_levels, "allow_new_levels")
    se_fit = check_bool(se_fit, "se_fit")
    design = _Design(model, newdata, _selected_terms(model, re_form), allow_new_levels)
    eta, X, index = design.eta(model.getME("b")), design.X, design.index
    fit = eta
    if type == "response" and model.isGLMM():
        fit = model.family.linkinv(eta)
    fit = np.asarray(fit, dtype=float)
    if newdata is None:
        out = model.lf.fr.padded(fit, "fit")  # na_action="exclude" pads, as R
    else:
        out = pd.Series(fit, index=index, name="fit")
        missing = int(np.isnan(fit).sum())
        if missing:
            warn_user(f"{missing} of {len(fit)} rows of newdata have missing values in "
                      "the model's variables: their predictions are NaN", PylmerWarning)
    if not se_fit:
        return out
    V = model.vcov().to_numpy()
    se = np.sqrt(np.einsum("ij,jk,ik->i", X, V, X))
    if type == "response" and model.isGLMM():
        # the delta method, as glmmTMB's predict(se.fit = TRUE, type = "response")
        se = se * np.abs(model.family.link.mu_eta(eta))
    se_out = model.lf.fr.padded(se, "se_fit") if newdata is None else \
        pd.Series(se, index=index, name="se_fit")
    return pd.DataFrame({"fit": out, "se_fit": se_out})


def simulate(model, nsim: int = 1, seed=None, use_u: bool = False, newdata=None,
             allow_new_levels: bool = False) -> pd.DataFrame:
    """Responses simulated from the fitted model (R: ``simulate(m, nsim, seed, newdata,
    use.u, allow.new.levels)``).

    ``use_u=False`` draws new random effects b ~ N(0, Sigma) (lme4's default);
    ``use_u=True`` keeps the conditional modes (new levels of ``newdata`` get 0). LMMs add
    N(0, sigma^2 / w) noise; GLMMs draw from the family (binomial as proportions of the
    trials, Poisson counts, Gamma with lme4's dispersion sigma^2). Randomness only through
    ``seed`` (an int or a numpy Generator).

    Returns
    -------
    DataFrame
        One column per simulation, ``sim_1``, ``sim_2``, ..., indexed like the data.
    """
    nsim = check_count(nsim, "nsim", 1)
    use_u = check_bool(use_u, "use_u")
    allow_new_levels = check_bool(allow_new_levels, "allow_new_levels")
    rows = model.lf.n if newdata is None else len(as_pandas(newdata))
    if nsim * rows > _MAX_DRAWS:
        raise PylmerError(f"nsim={nsim} simulations of {rows} rows is {nsim * rows:.3g} "
                          f"values, more than {_MAX_DRAWS:.0e}; simulate in batches")
    seed = check_seed(seed)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    lf = model.lf
    rt = lf.reTrms
    Lambdat = model.getME("Lambdat")
    family = model.family if model.isGLMM() else None
    scale = model.sigma() if (family is None or family.estimates_dispersion) else 1.0
    terms = list(range(len(rt.terms)))

    def new_effects(k, m):
        # b = Lambda_k u, u ~ N(0, scale^2 I), for m levels the model has not seen
        term = rt.terms[k]
        lo = int(rt.Gp[k])
        block = Lambdat[lo: lo + term.nc, lo: lo + term.nc].toarray().T
        return (rng.standard_normal((m, term.nc)) * scale) @ block.T

    design = _Design(model, newdata, terms, allow_new_levels)
    weights, trials = _weights_and_trials(model, newdata, len(design.index))
    out = {}
    for k in range(nsim):
        # b = Lambda u with u ~ N(0, sigma^2 I) (sigma = 1 for binomial and Poisson)
        u = model.getME("u") if use_u else rng.standard_normal(rt.q) * scale
        eta = design.eta(np.asarray(Lambdat.T @ u), None if use_u else new_effects)
        out[f"sim_{k + 1}"] = _draw(family, eta, scale, weights, trials, rng)
    return pd.DataFrame(out, index=design.index)


def _weights_and_trials(model, newdata, n):
    """Prior weights and binomial trials for the rows simulated."""
    lf = model.lf
    if newdata is None:
        weights = np.ones(n) if lf.weights is None else np.asarray(lf.weights, dtype=float)
        trials = getattr(model, "_n_trials", None)
        if trials is not None and not np.any(trials > 1):
            trials = model._pw
        return weights, trials
    trials = np.ones(n)
    if np.ndim(lf.y) == 2:  # cbind(s, f): trials from the new data, when it has them
        try:
            counts = Evaluator(as_pandas(newdata), dict(lf.fr.state), train=False).evaluate(
                lf.formula.response)
        except FormulaError as exc:
            raise PylmerError(f"simulating a binomial response on newdata needs its numbers "
                              f"of trials, the columns of {lf.fr.response_name}: {exc}") \
                from None
        trials = np.broadcast_to(counts.numbers("the response").sum(axis=1), (n,))
    return np.ones(n), trials


def _draw(family, eta, sigma, weights, trials, rng) -> np.ndarray:
    if family is None:  # gaussian LMM
        return eta + rng.standard_normal(len(eta)) * sigma / np.sqrt(weights)
    if family.has_extra:  # negative binomial, Beta, ordinal: their own draws
        return family.draw(eta, weights, rng)
    mu = family.linkinv(eta)
    name = family.family
    if name == "binomial":
        trials = np.round(np.asarray(trials, dtype=float)).astype(np.int64)
        return np.where(trials > 0, rng.binomial(trials, mu) / np.maximum(trials, 1), 0.0)
    if name == "poisson":
        return rng.poisson(mu * weights) / weights
    if name == "Gamma":
        shape = weights / sigma**2
        return rng.gamma(shape, mu / shape)
    if name == "gaussian":
        return mu + rng.standard_normal(len(mu)) * sigma / np.sqrt(weights)
    if name == "inverse.gaussian":
        return rng.wald(mu, weights / sigma**2)
    raise PylmerError(f"simulate: family {name!r} is not supported")
