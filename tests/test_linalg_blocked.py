"""The blocked Cholesky factorization (pylmer.linalg.blocked): a Cholesky factor by either
product, the product chosen by the block's shape, and lme4's fit with the blocked backend."""

import numpy as np
import pytest
from reference_data import load_json
from test_linalg_pls import workspace

from pylmer import lFormula, load_dataset, mkLmerDevfun, mkMerMod, optimizeLmer


@pytest.mark.parametrize("method", ["dense", "compiled"])
@pytest.mark.parametrize("formula,dataset", [
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin"),  # a full cross block
    ("strength ~ 1 + (1 | sample) + (1 | batch)", "Pastes"),       # a sparse one
])
def test_blocked_factor_is_a_cholesky_factor(method, formula, dataset):
    from pylmer.linalg.blocked import BlockCholesky

    lf = lFormula(formula, load_dataset(dataset))
    rt = lf.reTrms
    ws = workspace(lf, dense=False).set_theta([1.5, 3.2])
    A = ws._A
    chol = BlockCholesky(A, int(rt.Gp[1]), method=method)
    assert chol.method == method
    M = A.toarray() + np.eye(rt.q)
    L = chol.L().toarray()
    np.testing.assert_allclose(L @ L.T, M, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(chol.logdet(), np.linalg.slogdet(M)[1], rtol=1e-12)
    B = np.random.default_rng(3).standard_normal((rt.q, 3))
    np.testing.assert_allclose(chol.solve_L(B), np.linalg.solve(L, B), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(chol.solve_Lt(B), np.linalg.solve(L.T, B), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(chol.solve_A(B), np.linalg.solve(M, B), rtol=1e-10,
                               atol=1e-12)
    with pytest.raises(ValueError, match="not diagonal"):
        BlockCholesky(A, rt.q)


def test_blocked_factor_chooses_its_product_by_shape():
    from pylmer.linalg.blocked import BlockCholesky

    # Penicillin: every plate meets every sample, a full 6 x 24 block: one dense product
    lf = lFormula("diameter ~ 1 + (1 | plate) + (1 | sample)", load_dataset("Penicillin"))
    A = workspace(lf, dense=False).set_theta([1.5, 3.2])._A
    assert BlockCholesky(A, int(lf.reTrms.Gp[1])).method == "dense"
    # Pastes: each of 30 samples meets one of 10 batches, a sparse block
    lf = lFormula("strength ~ 1 + (1 | sample) + (1 | batch)", load_dataset("Pastes"))
    A = workspace(lf, dense=False).set_theta([1.5, 3.2])._A
    assert BlockCholesky(A, int(lf.reTrms.Gp[1])).method == "compiled"


def test_blocked_backend_fits_as_lme4():
    ref = load_json("models", "penicillin_ml")
    lf = lFormula(ref["formula"], load_dataset(ref["dataset"]), REML=False)
    devfun = mkLmerDevfun(lf, backend="blocked", dense=False)
    assert devfun.workspace.chol.backend == "blocked"
    m = mkMerMod(lf, devfun, optimizeLmer(devfun))
    np.testing.assert_allclose(m.deviance(), ref["deviance"], rtol=1e-7)
    np.testing.assert_allclose(m.fixef().to_numpy(), list(ref["fixef"].values()), rtol=1e-5)
    re = m.ranef()
    np.testing.assert_allclose(re.condsd("plate").to_numpy(), ref["ranef"]["plate"]["condsd"],
                               rtol=1e-4)
