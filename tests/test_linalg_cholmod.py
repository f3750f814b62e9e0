"""The sparse Cholesky factorization (pylmer.linalg.cholmod): scikit-sparse's CHOLMOD is
installed, its factor is a Cholesky factor, and the SciPy fallback says how to install it."""

import numpy as np
import pytest

from pylmer import lFormula, load_dataset
from pylmer.linalg.cholmod import HAVE_CHOLMOD, SparseCholesky


def test_cholmod_is_installed():
    # the project's set-up installs scikit-sparse; the fallback must not hide its absence
    assert HAVE_CHOLMOD


def test_cholmod_factor_is_a_cholesky_factor():
    lf = lFormula("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))
    ZtZ = (lf.reTrms.Zt @ lf.reTrms.Zt.T).tocsc()
    chol = SparseCholesky(ZtZ)
    L, P = chol.L().toarray(), chol.P()
    M = ZtZ.toarray() + np.eye(ZtZ.shape[0])
    np.testing.assert_allclose(L @ L.T, M[np.ix_(P, P)], rtol=1e-12, atol=1e-10)
    assert chol.ordering in ("amd", "metis")


def test_unknown_backend():
    with pytest.raises(ValueError, match="backend 'magic'"):
        SparseCholesky(np.eye(3), backend="magic")


def test_fallback_backend_warns_once_with_the_install_command(monkeypatch):
    import warnings

    from pylmer.linalg import cholmod

    monkeypatch.setattr(cholmod, "HAVE_CHOLMOD", False)
    monkeypatch.setattr(cholmod, "_warned", False)
    A = np.eye(4) * 2.0
    with pytest.warns(cholmod.BackendWarning, match="pip install 'scikit-sparse"):
        chol = SparseCholesky(A)
    assert chol.backend == "scipy"
    np.testing.assert_allclose(chol.logdet(), 4 * np.log(3.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SparseCholesky(A)  # only once per process


@pytest.mark.parametrize("ordering", ["amd", "metis"])
def test_analysis_alone_counts_the_factor_and_factors_on_demand(ordering):
    """factor=False keeps CHOLMOD's analysis only: the column counts of L, from the
    elimination tree, are those of the numeric factor; the factor is refused until
    factorize(), and then equals the one factored at construction."""
    import scipy.sparse as sps

    lf = lFormula("y ~ service + (1 | s) + (1 | d)", load_dataset("InstEval").iloc[:6000])
    Zt = lf.reTrms.Zt
    A = sps.csc_matrix(0.3 * (Zt @ Zt.T))
    full = SparseCholesky(A, ordering=ordering)
    alone = SparseCholesky(A, ordering=ordering, factor=False)
    np.testing.assert_array_equal(alone._colcounts, np.diff(full.L().indptr))
    assert alone.factor_nnz() == full.L().nnz
    np.testing.assert_array_equal(alone.P(), full.P())
    with pytest.raises(RuntimeError, match="factorize"):
        alone.logdet()
    alone.factorize(A)
    assert alone.logdet() == full.logdet()
    b = np.linspace(-1, 1, A.shape[0])
    np.testing.assert_array_equal(alone.solve_L(b), full.solve_L(b))
