"""Fitting a model again: lme4's ``refit``, ``refitML`` and ``update``.

Each runs the fitting steps (:mod:`pylmer.fitting`) on a changed
:class:`~pylmer.lformula.LFormula` or changed arguments, and hands the devfun and the optimum
to the model's own ``_make``: a refit is a model of the same kind, built as ``mkMerMod``
builds one.
"""

from __future__ import annotations

import inspect
from dataclasses import replace

import numpy as np

from ..exceptions import PylmerError
from ..fitting import clmm_steps, fit_glmer, fit_lmer, glmer_steps, lmer_steps
from ..formula.update import update_formula
from ..validate import check_model, check_response

__all__ = ["refit", "refit_ML", "refit_REML", "update"]


def refit(model, newresp):
    """The model refitted to a new response (R: ``refit(m, newresp)``), same structure,
    starting from the fitted theta."""
    lf = check_model(model).lf
    fr = lf.fr
    if fr.n_dropped and fr.data_index is not None and np.shape(newresp)[:1] == (
            len(fr.data_index),):  # one value per data row: the model's rows, as lme4
        newresp = np.asarray(newresp)[fr.rows]
    if model.isGLMM() and hasattr(model.family, "codes"):  # an ordinal response
        newresp = model.family.codes(newresp)
    newresp = check_response(newresp, lf.n)
    if not model.isGLMM() and (newresp.ndim != 1 or np.ptp(newresp) == 0):
        raise PylmerError("newresp must be one varying number per row for a linear mixed "
                          "model (a constant response has nothing to model)")
    if np.ndim(lf.y) == 2 and newresp.ndim == 1:  # binomial counts: proportions -> cbind
        trials = lf.y.sum(axis=1)
        newresp = np.column_stack([newresp * trials, (1.0 - newresp) * trials])
    new_lf = replace(lf, fr=replace(lf.fr, response=newresp))
    if model.isGLMM():
        devfun, opt = fit_glmer(new_lf, model.family, nAGQ=model.nAGQ, start=model.theta)
    else:
        devfun, opt = fit_lmer(new_lf, REML=model.REML, start=model.theta)
    return model._make(new_lf, devfun, opt)


def refit_ML(model):
    """The same LMM fitted by maximum likelihood (R: ``refitML``); other models unchanged."""
    if not model.isREML():
        return model
    devfun, opt = fit_lmer(model.lf, REML=False)
    return model._make(model.lf, devfun, opt)


def refit_REML(model):
    """The same LMM fitted by REML (pbkrtest's ``update(m, REML = TRUE)``); a REML fit or
    a GLMM unchanged."""
    if model.isGLMM() or model.isREML():
        return model
    devfun, opt = fit_lmer(model.lf, REML=True)
    return model._make(model.lf, devfun, opt)


def update(model, formula: str | None = None, **changes):
    """Fit again with some arguments changed (R: ``update(m, formula, REML = ...)``)."""
    args = dict(model.lf.call or {})
    old = args.get("formula", model.formula)
    args["formula"] = update_formula(old, formula) if formula else old
    if model.isGLMM() and model.family.family == "cumulative":
        unknown = sorted(set(changes) - set(inspect.signature(clmm_steps).parameters))
        if unknown:
            raise PylmerError(f"update() of a clmm fit: {', '.join(unknown)} cannot be "
                              "changed (clmm takes link, nAGQ, weights, offset, data, ...)")
        args.setdefault("link", model.family.link.name)
        args.setdefault("nAGQ", model.nAGQ)
        args.update(changes)
        return model._make(*clmm_steps(**args))
    if model.isGLMM():
        args.setdefault("family", model.family)
        args.setdefault("nAGQ", model.nAGQ)
        args.update(changes)
        return model._make(*glmer_steps(**args))
    args["REML"] = model.REML
    args.update(changes)
    return model._make(*lmer_steps(**args))
