"""The design many responses share (pylmer.many.design) and the compiled batch evaluation
built on it (``BatchLmm``: pylmer/linalg/_many.pyx, which pylmer.linalg.kernels re-exports)
against the single-model deviance (``LmerDevfun``, itself lme4's numbers) at
random thetas, on designs of every kind: scalar crossed and nested terms, correlated and
uncorrelated vector terms, prior weights, offsets, ML and REML. The batch search on the
same designs is test_many_newton.py's."""

from __future__ import annotations

import numpy as np
import pytest

from pylmer import lFormula, load_dataset, mkLmerDevfun
from pylmer.many.design import batch_design

DESIGNS = [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", {}),
    ("Reaction ~ Days + (Days || Subject)", "sleepstudy", {"REML": False}),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", {}),
    ("strength ~ 1 + (1 | batch/cask)", "Pastes", {"REML": False}),
    ("Reaction ~ Days + (1 | Subject)", "sleepstudy",
     {"weights": "w", "offset": "off"}),
]


def _data(name):
    data = load_dataset(name)
    rng = np.random.default_rng(11)
    return data.assign(w=rng.choice([0.5, 1.0, 3.0], len(data)),
                       off=rng.normal(0, 5, len(data)))


@pytest.mark.parametrize("formula,dataset,kwargs", DESIGNS)
def test_criterion_equals_single_model_devfun(formula, dataset, kwargs):
    data = _data(dataset)
    lf = lFormula(formula, data, **kwargs)
    response = formula.split("~")[0].strip()
    rng = np.random.default_rng(5)
    y0 = data[response].to_numpy(dtype=float)
    Y = y0[:, None] + rng.normal(0, y0.std() / 3, (len(y0), 4))
    Y[:, 0] = y0
    Y[:, 1] = y0 * 100 + 1e4  # a large mean and scale: no digits lost
    REML = kwargs.get("REML", True)
    design = batch_design(lf, Y, REML)
    k = len(lf.reTrms.theta)
    thetas = np.abs(rng.normal(0.8, 0.6, (6, k))) * np.where(lf.reTrms.lower == 0, 1, -0.5)
    thetas[0] = 0.0  # every variance zero
    for j in range(Y.shape[1]):
        data_j = data.assign(**{response: Y[:, j]})
        devfun = mkLmerDevfun(lFormula(formula, data_j, **kwargs), REML=REML)
        got = design.kernel.criterion(np.ascontiguousarray(thetas),
                                      np.full(len(thetas), j, dtype=np.intp))
        want = np.array([devfun(t) for t in thetas])
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-9)
        _crit, beta, vdiag, pwrss = design.kernel.solution(
            np.ascontiguousarray(thetas[1:2]), np.array([j], dtype=np.intp))
        snap = devfun.snapshot(thetas[1])
        np.testing.assert_allclose(beta[0] + design.beta_shift[j], snap.beta, rtol=1e-9,
                                   atol=1e-9 * np.abs(snap.beta).max())
        np.testing.assert_allclose(pwrss[0], snap.pwrss, rtol=1e-9)
        RXinv = np.linalg.inv(snap.RX)
        np.testing.assert_allclose(vdiag[0], np.sum(RXinv**2, axis=1), rtol=1e-9)
