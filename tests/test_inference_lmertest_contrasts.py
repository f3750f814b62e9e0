"""lmerTest's hypothesis matrices of the fixed terms of an LMM (``show_tests``), types I, II
and III, against R 4.2.2, lme4 1.1-31, lmerTest 3.1-3 (tests/reference/anova_types/,
written by scripts/anova_types_reference.R; the cases and their fits are those of
test_inference_lmertest_anova.py), and the Doolittle factorization they are built on.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_inference_lmertest_anova import IDS, fit, reference

from pylmer.inference.lmertest_contrasts import doolittle, lmertest_contrasts


@pytest.mark.parametrize("kind", [1, 2, 3])
@pytest.mark.parametrize("case_id", IDS)
def test_hypotheses_are_lmertests(case_id, kind):
    """The contrasts themselves (``show_tests(anova(m, type))``); type III's to 1e-6, as R
    rounds them to 7 significant digits (``zapsmall``) and pylmer does not."""
    m = fit(case_id)
    expected = reference(case_id)["hypotheses"][str(kind)]
    mine = lmertest_contrasts(m, kind)
    assert list(mine) == list(expected)
    for term, h in expected.items():
        assert h["colnames"] == list(m.fixef().index)
        np.testing.assert_allclose(mine[term], np.array(h["values"], dtype=float),
                                   rtol=1e-6, atol=1e-6, err_msg=term)


def test_doolittle_factors_the_matrix():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 4))
    A = X.T @ X
    L = doolittle(A)
    assert np.allclose(np.diag(L), 1) and np.allclose(np.triu(L, 1), 0)
    U = np.linalg.solve(L, A)
    np.testing.assert_allclose(L @ U, A, rtol=1e-12)
    assert np.allclose(np.tril(U, -1), 0, atol=1e-10)
