"""Fits shared by the whole test session.

Each reference model of ``tests/reference/models`` is fitted once per run, whichever test
files ask for it (InstEval's fit takes seconds): :func:`reference_fit` returns the
reference, the fitted model and the warnings the fit gave. Fitted models are immutable,
so sharing them between tests cannot couple the tests.
"""

from __future__ import annotations

import functools
import warnings

from reference_data import load_json

from pylmer import glmer, lmer, load_dataset
from pylmer.family import Gamma


def _family(ref):
    return Gamma(link=ref["link"]) if ref["family"] == "Gamma" else ref["family"]


@functools.cache
def reference_fit(model_id: str):
    """(reference, model, warnings) for a reference model fitted as lme4 fitted it."""
    ref = load_json("models", model_id)
    data = load_dataset(ref["dataset"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if ref["model_type"] == "GLMM":
            m = glmer(ref["formula"], data, family=_family(ref), nAGQ=ref["nAGQ"])
        else:
            m = lmer(ref["formula"], data, REML=ref["REML"])
    return ref, m, tuple(caught)
