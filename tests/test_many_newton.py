"""The batch search (pylmer.many.newton) against the single-model optimum, on the designs of
test_many_design.py: scalar crossed and nested terms, correlated and uncorrelated vector
terms, prior weights, offsets, ML and REML."""

from __future__ import annotations

import numpy as np
import pytest
from test_many_design import DESIGNS, _data

from pylmer import lFormula
from pylmer.many.design import batch_design
from pylmer.many.newton import grid_start, minimize


@pytest.mark.filterwarnings("ignore::pylmer.SingularFitWarning")  # lmer's, on Pastes
@pytest.mark.parametrize("formula,dataset,kwargs", DESIGNS)
def test_batch_search_reaches_the_single_model_optimum(formula, dataset, kwargs):
    """From the shared grid, the Newton search ends at the optimum pylmer's lmer finds
    (BOBYQA, lme4's numbers), or lower."""
    from pylmer import lmer
    data = _data(dataset)
    response = formula.split("~")[0].strip()
    rng = np.random.default_rng(2)
    y0 = data[response].to_numpy(dtype=float)
    Y = y0[:, None] + rng.normal(0, y0.std() / 2, (len(y0), 6))
    REML = kwargs.get("REML", True)
    lf = lFormula(formula, data, **kwargs)
    design = batch_design(lf, Y, REML)
    crit = design.kernel.criterion
    res = minimize(crit, grid_start(crit, Y.shape[1], design.diagonal, lf.reTrms.theta),
                   design.diagonal, design.columns)
    assert res.converged.all()
    assert np.all(res.theta[:, design.diagonal] >= 0)
    for j in range(Y.shape[1]):
        m = lmer(formula, data.assign(**{response: Y[:, j]}), **kwargs)
        best = m.REMLcrit() if REML else m.deviance()
        assert res.fval[j] <= best + 1e-6
        assert res.fval[j] == pytest.approx(best, abs=1e-4)
