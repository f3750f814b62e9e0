"""The penalized least squares kernel (pylmer.linalg.pls): the objective at lme4's theta, on
every path.

lme4's objective at its optimum theta must be reproduced to rtol 1e-9 by the dense path,
the sparse CHOLMOD path and the SciPy fallback backend alike. The compiled loops the
workspace calls (pylmer/linalg/_kernels.pyx, through pylmer.linalg.kernels) are checked
here against NumPy; the factorizations themselves are test_linalg_cholmod.py's and
test_linalg_blocked.py's.
"""

import numpy as np
import oracles
import pytest
from reference_data import load_json, model_ids

from pylmer import lFormula, load_dataset, mkLmerDevfun, mkMerMod, optimizeLmer
from pylmer.linalg.pls import PLSWorkspace

LMMS = model_ids("LMM")
BACKENDS = ["cholmod", "scipy"]


@pytest.fixture(scope="module")
def formulas():
    out = {}
    for model_id in LMMS:
        ref = load_json("models", model_id)
        out[model_id] = (ref, lFormula(ref["formula"], load_dataset(ref["dataset"]),
                                       REML=ref["REML"]))
    return out


def workspace(lf, **kwargs):
    rt = lf.reTrms
    return PLSWorkspace(lf.X, lf.y, rt.Zt, rt.Lambdat, rt.Lind, weights=lf.weights,
                        offset=lf.offset, **kwargs)


@pytest.mark.parametrize("model_id", LMMS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_objective_at_lme4_theta(formulas, model_id, backend):
    ref, lf = formulas[model_id]
    theta = np.array(list(ref["theta"].values()), dtype=float)
    ws = workspace(lf, backend=backend, dense=False).set_theta(theta)
    np.testing.assert_allclose(ws.deviance(ref["REML"]), ref["minus2logLik"], rtol=1e-9)
    if lf.reTrms.q <= 200:
        dense = workspace(lf, dense=True).set_theta(theta)
        np.testing.assert_allclose(dense.deviance(ref["REML"]), ref["minus2logLik"], rtol=1e-9)
        np.testing.assert_allclose(dense.beta, ws.beta, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dense.u(), ws.u(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("model_id", ["sleepstudy_slope_reml", "penicillin_ml"])
def test_decomposition_matches_lme4s_devcomp(formulas, model_id):
    ref, lf = formulas[model_id]
    theta = np.array(list(ref["theta"].values()), dtype=float)
    ws = workspace(lf).set_theta(theta)
    cmp = ref["devcomp_cmp"]
    np.testing.assert_allclose(ws.ldL2, cmp["ldL2"], rtol=1e-10)
    np.testing.assert_allclose(ws.ldRX2, cmp["ldRX2"], rtol=1e-10)
    np.testing.assert_allclose(ws.pwrss, cmp["pwrss"], rtol=1e-10)
    np.testing.assert_allclose(ws.u() @ ws.u(), cmp["ussq"], rtol=1e-8)


def test_pls_solution_against_dense_normal_equations():
    # the penalized least squares problem written out densely, solved by numpy
    lf = lFormula("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))
    rt = lf.reTrms
    theta = np.array([0.9, -0.1, 0.3])
    ws = workspace(lf).set_theta(theta)
    Lambda = rt.Lambdat.copy()
    Lambda.data = theta[rt.Lind]
    ZL = (rt.Zt.T @ Lambda.T).toarray()
    q = ZL.shape[1]
    A = np.block([[ZL.T @ ZL + np.eye(q), ZL.T @ lf.X], [lf.X.T @ ZL, lf.X.T @ lf.X]])
    sol = np.linalg.solve(A, np.concatenate([ZL.T @ lf.y, lf.X.T @ lf.y]))
    np.testing.assert_allclose(ws.u(), sol[:q], rtol=1e-9)
    np.testing.assert_allclose(ws.beta, sol[q:], rtol=1e-11)
    r = lf.y - ZL @ sol[:q] - lf.X @ sol[q:]
    np.testing.assert_allclose(ws.pwrss, r @ r + sol[:q] @ sol[:q], rtol=1e-10)
    np.testing.assert_allclose(ws.ldL2, np.linalg.slogdet(ZL.T @ ZL + np.eye(q))[1], rtol=1e-12)


def test_weights_and_offset_enter_as_lme4():
    # with weights w the objective is that of sqrt(w)-scaled data minus sum(log w)
    lf = lFormula("Reaction ~ Days + (1 | Subject)", load_dataset("sleepstudy"))
    w = np.linspace(0.5, 2.0, lf.n)
    rt = lf.reTrms
    weighted = PLSWorkspace(lf.X, lf.y, rt.Zt, rt.Lambdat, rt.Lind, weights=w).set_theta([1.2])
    sw = np.sqrt(w)
    scaled = PLSWorkspace(lf.X * sw[:, None], lf.y * sw, rt.Zt @ np.diag(sw), rt.Lambdat,
                          rt.Lind).set_theta([1.2])
    np.testing.assert_allclose(weighted.deviance(False),
                               scaled.deviance(False) - np.sum(np.log(w)), rtol=1e-12)
    off = np.linspace(-3, 3, lf.n)
    shifted = PLSWorkspace(lf.X, lf.y + off, rt.Zt, rt.Lambdat, rt.Lind,
                           offset=off).set_theta([1.2])
    plain = workspace(lf).set_theta([1.2])
    np.testing.assert_allclose(shifted.deviance(True), plain.deviance(True), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_with_each_backend(backend):
    ref = load_json("models", "penicillin_reml")
    lf = lFormula(ref["formula"], load_dataset(ref["dataset"]))
    devfun = mkLmerDevfun(lf, backend=backend, dense=False)
    assert devfun.workspace.dense is False
    m = mkMerMod(lf, devfun, optimizeLmer(devfun))
    np.testing.assert_allclose(m.REMLcrit(), ref["REMLcrit"], rtol=1e-7)
    np.testing.assert_allclose(m.fixef().to_numpy(), list(ref["fixef"].values()), rtol=1e-5)


@pytest.mark.parametrize("formula,theta", [
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", [1.5, 3.2]),     # diagonal Lambda
    ("Reaction ~ Days + (Days | Subject)", [0.9, 0.1, 0.3]),         # a 2 x 2 block
])
@pytest.mark.parametrize("dense", [True, False])
def test_solve_u_is_the_penalized_weighted_least_squares_solution(formula, theta, dense):
    data = load_dataset("Penicillin" if "plate" in formula else "sleepstudy")
    lf = lFormula(formula, data)
    rt = lf.reTrms
    rng = np.random.default_rng(7)
    w, z = rng.uniform(0.2, 2.0, lf.n), rng.standard_normal(lf.n)
    ws = PLSWorkspace(lf.X, np.zeros(lf.n), rt.Zt, rt.Lambdat, rt.Lind,
                      weights=np.ones(lf.n), reweightable=True, dense=dense)
    u = ws.solve_u(theta, z, w)
    # u minimizes |W^(1/2)(z - Z Lambda u)|^2 + |u|^2: (Lambda'Z'WZ Lambda + I) u = Lambda'Z'Wz
    Lambdat = rt.Lambdat.copy()
    Lambdat.data = np.asarray(theta, dtype=float)[rt.Lind]
    ZL = (Lambdat @ rt.Zt).T.toarray()
    M = ZL.T @ (ZL * w[:, None]) + np.eye(rt.q)
    np.testing.assert_allclose(u, np.linalg.solve(M, ZL.T @ (w * z)), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ws.ldL2, np.linalg.slogdet(M)[1], rtol=1e-12)
    with pytest.raises(RuntimeError, match="reweight"):
        ws.set_theta(theta)
    with pytest.raises(RuntimeError, match="stale"):  # cu and RZX are from older weights
        ws.u_at(np.zeros(lf.X.shape[1]))
    ws.reweight(z, w).set_theta(theta, profile_beta=False)
    np.testing.assert_allclose(ws.u_at(np.zeros(lf.X.shape[1])), u, rtol=1e-10, atol=1e-12)


# the reference LMMs with at most DENSE_MAX_Q random effects (Exam and InstEval have more)
DENSE_LMMS = [m for m in LMMS if not m.startswith(("exam", "insteval"))]


@pytest.mark.parametrize("model_id", DENSE_LMMS)
def test_compiled_dense_evaluation_equals_numpy(formulas, model_id):
    """The compiled dense evaluation (one call) agrees with NumPy's products and factors."""
    from pylmer.linalg.pls import DENSE_MAX_Q

    ref, lf = formulas[model_id]
    assert lf.reTrms.q <= DENSE_MAX_Q
    theta = np.array(list(ref["theta"].values()), dtype=float) * 1.1
    compiled = workspace(lf, dense=True).set_theta(theta)
    plain = oracles.dense_pls(compiled, theta)
    # pwrss = y'y - |cu|^2 - |cbeta|^2 cancels: its last digits differ by summation order
    for name in ("ldL2", "ldRX2", "pwrss"):
        np.testing.assert_allclose(getattr(compiled, name), plain[name], rtol=1e-10)
    for name in ("L_dense", "RZX", "cu", "RX", "beta"):
        np.testing.assert_allclose(getattr(compiled, name), plain[name], rtol=1e-10,
                                   atol=1e-12)


def test_reweighting_by_the_pair_map_equals_the_sparse_product():
    """Z'WZ from the compiled pass over the pair map (one slot per pair of an observation's
    non-zeros) against scipy's product, when observations have 0 to 3 non-zeros in Z and
    some products cancel; the other cross-products against NumPy's."""
    import scipy.sparse as sps

    rng = np.random.default_rng(3)
    n, q = 300, 25
    counts = rng.integers(0, 4, n)
    rows = [np.sort(rng.choice(q, k, replace=False)) for k in counts]
    Zt = sps.csc_matrix((np.concatenate([rng.choice([-0.5, 0.5, 1.0, 2.0], k) for k in counts]),
                         np.concatenate(rows).astype(np.int32),
                         np.concatenate([[0], np.cumsum(counts)])), shape=(q, n))
    X = np.column_stack([np.ones(n), rng.standard_normal(n)])
    Lambdat = sps.identity(q, format="csc")
    ws = PLSWorkspace(X, np.zeros(n), Zt, Lambdat, np.zeros(q, dtype=int),
                      weights=np.ones(n), reweightable=True, dense=False)
    w, z = rng.uniform(0.1, 3.0, n), rng.standard_normal(n)
    ws.reweight(z, w)
    np.testing.assert_allclose(ws.ZtZ.toarray(), (Zt @ sps.diags(w) @ Zt.T).toarray(),
                               rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(ws.ZtXy, Zt @ (np.column_stack([X, z]) * w[:, None]),
                               rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(ws.XtX, X.T @ (X * w[:, None]), rtol=1e-13)
    np.testing.assert_allclose(ws.Xty, X.T @ (w * z), rtol=1e-13)


def test_pair_map_takes_mixed_index_types_and_refuses_wrong_weights():
    """A Zt whose index arrays differ in integer type (scipy leaves a given matrix's
    arrays as they are) reweights as one with int32 arrays; weights of the wrong length
    are refused before the compiled pass reads them."""
    import scipy.sparse as sps

    rng = np.random.default_rng(4)
    n, q = 50, 6
    Zt = sps.csc_matrix((np.ones(2 * n), np.concatenate(
        [rng.integers(0, 3, n), rng.integers(3, 6, n)]).reshape(2, n).T.ravel(),
        np.arange(0, 2 * n + 1, 2)), shape=(q, n))
    Zt.sort_indices()
    mixed = Zt.copy()
    mixed.indptr = mixed.indptr.astype(np.int64)
    mixed.indices = mixed.indices.astype(np.int32)
    X = np.ones((n, 1))
    w = rng.uniform(0.5, 2.0, n)
    spaces = [PLSWorkspace(X, np.zeros(n), Z, sps.identity(q, format="csc"),
                           np.zeros(q, dtype=int), weights=np.ones(n), reweightable=True,
                           dense=False) for Z in (Zt, mixed)]
    for ws in spaces:
        ws.reweight(np.zeros(n), w)
    np.testing.assert_array_equal(spaces[1].ZtZ.toarray(), spaces[0].ZtZ.toarray())
    with pytest.raises(ValueError, match="one per observation"):
        spaces[0].reweight(np.zeros(n), w[:-1])
