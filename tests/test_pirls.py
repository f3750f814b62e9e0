"""PIRLS (pylmer._pirls, one compiled loop) with each of its solvers (pylmer._pwrss: the
scalar one set up by pylmer.scalar_pirls, and the workspace's, pylmer.pwrss) and response
kernels (pylmer.response: compiled, or the family's NumPy methods), against lme4's
pwrssUpdate written in NumPy (tests/oracles.py), and its parts against mathematics.

The tests of pylmer.pirls, pylmer.scalar_pirls, pylmer.pwrss and pylmer.response, and of the
compiled modules they wrap: pylmer/_pirls.pyx, pylmer/_pwrss.pyx, pylmer/_response.pyx (and
pylmer/linalg/_factor.pyx's factor, which the scalar solver uses)."""

from __future__ import annotations

import numpy as np
import oracles
import pandas as pd
import pytest

from pylmer import (
    Gamma,
    _pwrss,
    binomial,
    glFormula,
    load_dataset,
    nbinom2,
    poisson,
    scalar_pirls,
)
from pylmer.exceptions import PirlsError
from pylmer.family import get_family
from pylmer.linalg import pls
from pylmer.pirls import GlmerDevfun
from pylmer.scalar_pirls import _interleaved, build

MODELS = {
    # the workspace's blocked factor with a dense L21: the loop keeps that layout
    "verbagg": ("r2 ~ Anger + Gender + btype + situ + (1|id) + (1|item)", "VerbAgg",
                "binomial", "blocked"),
    # CHOLMOD's fill-reducing permutation, the loop's own sparse factor
    "grouseticks": ("TICKS ~ YEAR + scale(HEIGHT) + (1|BROOD) + (1|INDEX) + (1|LOCATION)",
                    "grouseticks", "poisson", "sparse"),
    # a small model (dense workspace): the identity permutation
    "cbpp": ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
             "binomial", "sparse"),
    # Gamma(log): the family's own aic (with the dispersion) after the loop
    "gamma_sim": ("y ~ x + (1 | g)", "gamma_sim", Gamma(link="log"), "sparse"),
}


def _devfuns(name, nAGQ):
    formula, data, family, _ = MODELS[name]
    fam = get_family(family)
    lf = glFormula(formula, load_dataset(data), family=fam)
    return (GlmerDevfun(lf, fam, nAGQ=nAGQ),
            GlmerDevfun(lf, fam, nAGQ=nAGQ, scalar_solver=False))


def _scalar(devfun) -> bool:
    return isinstance(devfun._loop.solver, _pwrss.ScalarSolver)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("nAGQ", [0, 1])
def test_scalar_solver_equals_workspace_solver(name, nAGQ):
    """The loop with either solver: same conditional modes, beta, deviance,
    log-determinant and diag(L), at the start and away from it (nAGQ = 0: beta estimated
    with u; 1: beta fixed)."""
    compiled, plain = _devfuns(name, nAGQ)
    assert _scalar(compiled) and not _scalar(plain)
    np.testing.assert_allclose(compiled.beta0, plain.beta0, rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(compiled.lp0, plain.lp0, rtol=1e-10, atol=1e-11)
    for k in range(3):
        theta = compiled.theta0 * (1.0 + 0.4 * k) + 0.1 * k
        pars = theta if nAGQ == 0 else np.concatenate([theta, compiled.beta0 * (1 - 0.2 * k)])
        a, b = compiled(pars), plain(pars)
        np.testing.assert_allclose(a, b, rtol=1e-12)
        sa, sb = compiled.state, plain.state
        assert sa.iterations == sb.iterations
        for field in ("u", "beta", "eta", "mu", "devres"):
            np.testing.assert_allclose(getattr(sa, field), getattr(sb, field), rtol=1e-9,
                                       atol=1e-11, err_msg=field)
        np.testing.assert_allclose(sa.ldL2, sb.ldL2, rtol=1e-12)
        np.testing.assert_allclose(sa.pdev, sb.pdev, rtol=1e-12)
        L_diag = sb.L_diag if sb.L_diag is not None else plain.ws.L_diagonal()
        np.testing.assert_allclose(sa.L_diag, L_diag, rtol=1e-11)
        # the aic from the loop's log-likelihood sum is the family's (Gamma: the family's)
        if sa.aic is not None:
            np.testing.assert_allclose(sa.aic, plain.response.aic(sb.mu, sb.devres),
                                       rtol=1e-12)
        else:
            assert compiled.response.kind is None


@pytest.mark.parametrize("name", ["cbpp", "gamma_sim"])
@pytest.mark.parametrize("nAGQ", [2, 9, 25])
def test_agq_with_either_solver(name, nAGQ):
    """The quadrature at the modes of either solver (diag(L) from the scalar factor or
    from the workspace)."""
    compiled, plain = _devfuns(name, nAGQ)
    for k in range(3):
        theta = compiled.theta0 * (1.0 + 0.4 * k) + 0.1 * k
        pars = np.concatenate([theta, compiled.beta0 * (1 - 0.2 * k)])
        np.testing.assert_allclose(compiled(pars), plain(pars), rtol=1e-12)


def test_factor_layout_follows_the_workspace():
    """The blocked layout where the workspace factors blocked with a dense L21; otherwise
    the sparse factor, whose pattern under CHOLMOD's permutation is CHOLMOD's."""
    for name, (_, _, _, layout) in MODELS.items():
        devfun, _ = _devfuns(name, 1)
        ws, loop = devfun.ws, devfun._loop.solver
        if layout == "blocked":
            assert ws.chol.backend == "blocked" and loop.q1 == ws.chol.q1 > 0
            q1, q2 = ws.chol.q1, ws.q - ws.chol.q1
            assert loop.factor_nnz() == q1 * (1 + q2) + q2 * (q2 + 1) // 2
        else:
            assert loop.q1 == 0
            if ws.chol is not None:
                assert ws.chol.backend == "cholmod"
                assert loop.factor_nnz() == ws.chol.factor_nnz()


def _slope_data(rng, n_groups, per, zero_group=None):
    g = np.repeat(np.arange(n_groups), per)
    x = rng.normal(size=g.size)
    if zero_group is not None:
        x[g == zero_group] = 0.0  # a level whose column of Z is zero
    data = pd.DataFrame({"g": [f"g{k:03d}" for k in g], "x": x})
    data["y"] = rng.poisson(np.exp(0.3 + 0.4 * x)).astype(float)
    return data


@pytest.mark.parametrize("n_groups", [10, 100])  # a dense and a sparse workspace
def test_a_level_with_a_zero_column_of_Z(n_groups):
    """(0 + x | g) with x = 0 throughout one group: that level's diagonal is 0 + 1."""
    data = _slope_data(np.random.default_rng(4), n_groups, 5, zero_group=3)
    fam = get_family("poisson")
    lf = glFormula("y ~ x + (0 + x | g)", data, family=fam)
    compiled = GlmerDevfun(lf, fam, nAGQ=1)
    plain = GlmerDevfun(lf, fam, nAGQ=1, scalar_solver=False)
    assert _scalar(compiled)
    for scale in (1.0, 2.5):
        pars = np.concatenate([compiled.theta0 * scale, compiled.beta0])
        np.testing.assert_allclose(compiled(pars), plain(pars), rtol=1e-12)
        np.testing.assert_allclose(compiled.state.u, plain.state.u, atol=1e-11)


def test_crossed_products_that_cancel_keep_their_slot(monkeypatch):
    """(1 | subj) + (0 + cond | item) with cond = -0.5, 0.5 for every subject and item: the
    (subj, item) entries of Z'Z are exactly 0, but Z'WZ's are not. Both PIRLS loops, and
    the NumPy loop's sparse and dense workspaces, give the same deviance."""
    rng = np.random.default_rng(2)
    rows = [(f"s{s}", f"i{i}", c) for s in range(20) for i in range(12) for c in (-0.5, 0.5)]
    data = pd.DataFrame(rows, columns=["subj", "item", "cond"])
    effect = rng.normal(0, 1, 20)[data.subj.str[1:].astype(int)]
    data["y"] = (rng.uniform(size=len(data)) < 1 / (1 + np.exp(-(0.8 * data.cond + effect)))
                 ).astype(float)
    fam = get_family("binomial")
    lf = glFormula("y ~ cond + (1 | subj) + (0 + cond | item)", data, family=fam)
    compiled = GlmerDevfun(lf, fam, nAGQ=1)
    plain = GlmerDevfun(lf, fam, nAGQ=1, scalar_solver=False)
    assert _scalar(compiled) and plain.ws._pairs is not None  # Z'WZ by slots
    # the reference: one dense product [Z X]' W [Z X], no slots
    monkeypatch.setattr(pls, "DENSE_CROSSPRODUCT_FLOPS", 1e12)
    dense = GlmerDevfun(lf, fam, nAGQ=1, scalar_solver=False)
    assert dense.ws.dense_crossproducts
    for theta in ([1.0, 1.0], [0.5, 2.0]):
        pars = np.concatenate([theta, compiled.beta0])
        expected = dense(pars)
        np.testing.assert_allclose(compiled(pars), expected, rtol=1e-12)
        np.testing.assert_allclose(plain(pars), expected, rtol=1e-12)


def test_interleaved_scatter_sums_like_bincount():
    """Reordered scatter-add terms still give every target its sum, in the same order."""
    rng = np.random.default_rng(3)
    obs = np.repeat(np.arange(200), 3)
    target = rng.integers(0, 17, obs.size)
    value = rng.standard_normal(obs.size)
    w = rng.uniform(0.5, 2.0, 200)
    o, t, v = _interleaved(obs, target, value)
    assert sorted(zip(o, t, v)) == sorted(zip(obs, target, value))
    out = np.zeros(17)
    for oi, ti, vi in zip(o, t, v):
        out[ti] += vi * w[oi]
    np.testing.assert_array_equal(out, np.bincount(target, weights=value * w[obs],
                                                   minlength=17))
    # consecutive terms go to different targets while every target still has terms
    assert np.all(t[1:17] != t[:16])


def test_which_solver_and_kernel():
    """Scalar terms take the scalar solver whatever the family (probit: the family's NumPy
    response pass behind the kernel interface); random slopes take the workspace's."""
    cbpp = load_dataset("cbpp")
    lf = glFormula("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                   family="binomial")
    devfun = GlmerDevfun(lf, binomial(link="probit"))
    assert _scalar(devfun) and devfun.response.kernel is None
    assert devfun._loop.response is devfun.response.loop_kernel
    sleep = load_dataset("sleepstudy").assign(y=lambda d: (d.Reaction > 300).astype(float))
    lf = glFormula("y ~ Days + (Days | Subject)", sleep, family="binomial")
    devfun = GlmerDevfun(lf, get_family("binomial"))
    assert not devfun.ws.diagonal and not _scalar(devfun)
    assert build(devfun.ws) is None


def _oracle_cases():
    rng = np.random.default_rng(11)
    sleep = load_dataset("sleepstudy").assign(y=lambda d: (d.Reaction > 300).astype(float))
    counts = _slope_data(rng, 30, 6)
    return {
        "cbpp_probit": ("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                        load_dataset("cbpp"), binomial(link="probit")),
        "grouseticks": (MODELS["grouseticks"][0], load_dataset("grouseticks"),
                        get_family("poisson")),
        "slope_binomial": ("y ~ Days + (Days | Subject)", sleep, get_family("binomial")),
        "slope_poisson_sqrt": ("y ~ x + (x | g)", counts, poisson(link="sqrt")),
        "nb_exact_laplace": ("y ~ x + (1 | g)", counts, nbinom2(theta=2.0)),
    }


@pytest.mark.parametrize("name", sorted(_oracle_cases()))
@pytest.mark.parametrize("scalar_solver", [True, False])
@pytest.mark.parametrize("nAGQ", [0, 1])
def test_loop_equals_numpy_pwrss_update(name, scalar_solver, nAGQ):
    """The compiled loop, with each solver and with compiled or NumPy response passes,
    against lme4's pwrssUpdate in NumPy: the same iterations, modes, beta, deviance and
    log-determinant (at the observed-information weights for the negative binomial),
    away from the start (at the start lp0 is already the modes: the second step changes
    the deviance by rounding alone, and the two computations may halve it differently),
    with a PIRLS tolerance of 1e-10."""
    formula, data, fam = _oracle_cases()[name]
    lf = glFormula(formula, data, family=fam)
    devfun = GlmerDevfun(lf, fam, nAGQ=nAGQ, scalar_solver=scalar_solver)
    devfun.tol = min(devfun.tol, 1e-10)
    for k in range(1, 4):
        theta = devfun.theta0 * (1.0 + 0.3 * k) + 0.05 * k
        beta = None if nAGQ == 0 else devfun.beta0 * (1 - 0.2 * k)
        got = devfun.pirls(theta, beta, devfun.lp0)
        want = oracles.pirls(devfun, theta, beta, devfun.lp0)
        assert got.iterations == want["iterations"]
        # the modes are where the last step left them: within that step's size (about
        # 1e-7 here) of each other, where the deviance agrees to rounding
        for field in ("u", "beta", "eta", "mu", "devres"):
            np.testing.assert_allclose(getattr(got, field), want[field], rtol=1e-5,
                                       atol=1e-6, err_msg=field)
        np.testing.assert_allclose(got.ldL2, want["ldL2"], rtol=1e-7)
        np.testing.assert_allclose(got.pdev, want["pdev"], rtol=1e-11)


def test_python_pass_errors_reach_the_caller():
    """An exception inside the family's NumPy response pass, called from the compiled
    loop, is raised by the deviance function as it was raised."""
    cbpp = load_dataset("cbpp")
    lf = glFormula("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                   family="binomial")
    devfun = GlmerDevfun(lf, binomial(link="probit"), nAGQ=1)

    class Boom(Exception):
        pass

    def fail(eta):
        raise Boom("in the response pass")

    devfun.response.respond = fail
    pars = np.concatenate([devfun.theta0 * 1.5, devfun.beta0])
    with pytest.raises(Boom, match="in the response pass"):
        devfun(pars)


def test_compiled_pirls_errors_are_lme4s():
    """PIRLS's failures raise lme4's errors, as the NumPy loop does: no convergence within
    maxit, and step halvings that cannot reduce the deviance (forced with a tolerance
    below any change)."""
    compiled, plain = _devfuns("grouseticks", 1)
    pars = np.concatenate([compiled.theta0 * 3.0, compiled.beta0 + 2.0])
    for devfun in (compiled, plain):
        devfun.maxit = 1
        with pytest.raises(PirlsError, match="pwrssUpdate did not converge in 1 iterations"):
            devfun(pars)
        devfun.maxit, devfun.tol = 100, -1e300
        with pytest.raises(PirlsError, match="PIRLS step-halvings failed to reduce deviance"):
            devfun(pars)


@pytest.mark.parametrize("vector", [False, True])
@pytest.mark.parametrize("family", ["binomial", "binomial trials", "poisson", "Gamma"])
def test_response_pass_equals_the_family_with_lme4s_clamps(family, vector, monkeypatch):
    """The loop's response pass (one exp and at most two logs per observation) against
    the family's own functions, far into the tails where lme4 clamps mu and mu_eta."""
    fam = Gamma(link="log") if family == "Gamma" else get_family(family.split()[0])
    rng = np.random.default_rng(17)
    n = 400
    data = load_dataset("cbpp").iloc[np.zeros(n, dtype=int)].reset_index(drop=True)
    data["herd"] = np.repeat(np.arange(40), 10).astype(str)
    data["y"] = (rng.integers(0, 2, n) if family == "binomial"
                 else rng.gamma(2.0, 1.5, n) if family == "Gamma"
                 else rng.poisson(3.0, n)).astype(float)
    data["size"] = data["y"] + rng.integers(0, 4, n)  # successes out of 0 to 3 more trials
    response = "cbind(y, size - y)" if family == "binomial trials" else "y"
    lf = glFormula(f"{response} ~ 1 + (1 | herd)", data, family=fam)
    # the C library's exp and log one value at a time, or NumPy's vectorized ones
    monkeypatch.setattr(scalar_pirls, "VECTOR_MIN_N", 1 if vector else 10**9)
    devfun = GlmerDevfun(lf, fam, nAGQ=1)
    eta = np.concatenate([rng.normal(0, 3, n - 6), [-40.0, 40.0, -36.5, 36.5, 30.0, -30.0]])
    if fam.family != "binomial":
        eta = np.clip(eta, -50, 6)
    total, ll, mu, devres, w, ratio = devfun.response.kernel.response(np.ascontiguousarray(eta))
    link, y, pw = fam.link, devfun.y, devfun.pw
    mu_expected = link.linkinv_lme4(eta)
    mu_eta = link.mu_eta_lme4(eta)
    np.testing.assert_allclose(mu, mu_expected, rtol=1e-15, atol=0)
    np.testing.assert_allclose(w, pw * mu_eta**2 / fam.variance_lme4(mu_expected),
                               rtol=1e-13, atol=0)
    np.testing.assert_allclose(ratio, (y - mu_expected) / mu_eta, rtol=1e-13, atol=1e-13)
    expected = fam.dev_resids(y, mu_expected, pw)
    np.testing.assert_allclose(devres, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(total, expected.sum(), rtol=1e-12)
    if fam.family != "Gamma":  # Gamma's aic is the family's, from mu after the loop
        np.testing.assert_allclose(devfun.response.aic_from_loglik(ll),
                                   devfun.response.aic(mu_expected, expected), rtol=1e-12)


@pytest.mark.parametrize("kind", ["binary", "binomial trials", "poisson", "Gamma"])
def test_vectorized_response_pass_runs_in_chunks_like_one_pass(kind):
    """The vectorized response pass works through 65,536 observations at a time: over
    three chunks (the last one partial) it equals the one-value-at-a-time pass, and the
    sums run in the same order."""
    from pylmer import _response

    rng = np.random.default_rng(5)
    n = 2 * 65536 + 1001
    eta = np.ascontiguousarray(rng.normal(0, 2, n))
    pw = np.ones(n)
    if kind in ("binary", "binomial trials"):
        trials = np.ones(n) if kind == "binary" else rng.integers(1, 5, n).astype(float)
        y = rng.binomial(trials.astype(int), 0.4) / trials
        pw = trials
        llk, llf = pw * y, pw * (1 - y)
        dev0 = np.zeros(n)
        code = _response.KINDS[("binomial", "logit")]
    elif kind == "poisson":
        y = rng.poisson(2.0, n).astype(float)
        dev0, llk, llf = np.zeros(n), pw, np.zeros(n)
        code = _response.KINDS[("poisson", "log")]
    else:
        y = rng.gamma(2.0, 1.0, n)
        dev0, llk, llf = -2.0 * np.log(y), np.zeros(n), np.zeros(n)
        code = _response.KINDS[("Gamma", "log")]
    passes = [_response.ResponseKernel(code, y, pw, dev0, llk, llf, vector=vector)
              .response(eta) for vector in (False, True)]
    (total, ll, *arrays), (total_v, ll_v, *arrays_v) = passes
    # NumPy's exp and log against the C library's differ in the last bit, which y - mu
    # and the deviance residuals' differences amplify near their zeros; a pass that
    # skipped or shifted a chunk would be wrong by whole units
    for a, b in zip(arrays, arrays_v):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(total_v, total, rtol=1e-12)
    np.testing.assert_allclose(ll_v, ll, rtol=1e-12)


@pytest.mark.parametrize("fam,link", [("binomial", "logit"), ("poisson", "log")])
def test_pirls_response_compiled_and_numpy_agree_with_the_family(fam, link):
    """PIRLS's working weights, working response and deviance residuals (compiled loops for
    the canonical links, NumPy otherwise) equal the family's own functions."""
    from pylmer.family import get_family
    from pylmer.response import Response as _Response

    family = get_family(fam)
    assert family.link.name == link
    rng = np.random.default_rng(11)
    n = 500
    eta = np.concatenate([rng.normal(0, 3, n - 4), [-40.0, 40.0, -800.0, 30.0]])
    if fam == "binomial":
        eta = eta[eta > -700]  # exp(800) overflows in R's plogis too; not a PIRLS value
        y = rng.integers(0, 2, eta.size).astype(float)
    else:
        eta = np.clip(eta, -50, 6)
        y = rng.poisson(3.0, eta.size).astype(float)
    pw, offset = rng.uniform(0.5, 2.0, eta.size), rng.normal(0, 1, eta.size)
    mu = family.link.linkinv_lme4(eta)
    mu_eta = family.link.mu_eta_lme4(eta)
    w_expected = pw * mu_eta**2 / family.variance_lme4(mu)
    z_expected = eta - offset + (y - mu) / mu_eta
    dev_expected = family.dev_resids(y, mu, pw)
    for compiled in (True, False):
        resp = _Response(family, y, pw, np.ones_like(y), compiled=compiled)
        assert (resp.kernel is not None) == compiled
        w, z = resp.working(eta, None, offset)
        np.testing.assert_allclose(w, w_expected, rtol=1e-13, atol=0)
        np.testing.assert_allclose(z, z_expected, rtol=1e-13, atol=1e-13)
        total, mu_out, devres = resp.deviance(eta)
        np.testing.assert_allclose(mu_out, mu, rtol=1e-15, atol=0)
        np.testing.assert_allclose(devres, dev_expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(total, dev_expected.sum(), rtol=1e-12)


@pytest.mark.parametrize("u_only", [True, False])
def test_small_glmm_pirls_step_compiled_equals_numpy(u_only):
    """A small GLMM's PIRLS step on the workspace (the joint dense system [Z Lambda | X]
    in one compiled call) agrees with NumPy's solve."""
    import oracles

    from pylmer import glFormula, load_dataset
    from pylmer.linalg.pls import PLSWorkspace
    from pylmer.pwrss import WorkspacePwrss

    lf = glFormula("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                   load_dataset("cbpp"), family="binomial")
    rt = lf.reTrms
    ws = PLSWorkspace(lf.X, np.zeros(lf.n), rt.Zt, rt.Lambdat, rt.Lind,
                      weights=np.ones(lf.n), reweightable=True)
    step = WorkspacePwrss(ws)
    assert step._ZLX is not None  # the small-model path
    theta = np.array([0.7])
    step.set_theta(theta)
    ZL = step.ZL
    rng = np.random.default_rng(5)
    w, z = rng.uniform(0.1, 3.0, lf.n), rng.standard_normal(lf.n)
    compiled = step.solve(z, w, not u_only)
    M = ZL if u_only else np.column_stack([ZL, lf.X])
    plain = oracles.weighted_normal_solve(M, w, z, ZL.shape[1])
    for k, (a, b) in enumerate(zip(compiled, plain)):
        if k == 1 and u_only:
            assert a is None
        else:
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
