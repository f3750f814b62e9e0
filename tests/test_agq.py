"""Adaptive Gauss-Hermite quadrature beyond lme4: vector-valued terms of one factor and
nested scalar terms, against the exact marginal likelihood and against direct integration.

The references (tests/reference/agq/, its README) are exact maximum likelihood fits,
computed by brute-force quadrature: a 15-point fit must be within 1e-3 of the exact
-2 logLik (either convention: with or without the saturated log-likelihood) with theta
and beta within 2e-3 max(|exact|, 0.1); the deviance function at 15 points within 1e-3
of the exact value at three fixed parameter vectors.
"""

from __future__ import annotations

import functools
import itertools
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from rcompare import Check
from reference_data import REFERENCE, _formula_dataset
from scipy import integrate, special

import pylmer
from pylmer import PylmerError

MODELS = REFERENCE / "agq" / "models"
IDS = sorted(p.stem for p in MODELS.glob("*.json"))


def _ref(model_id):
    return json.loads((MODELS / f"{model_id}.json").read_text())


def _data(ref):
    return _formula_dataset(ref["dataset"], "agq").copy()


@functools.cache
def _fit(model_id, which):
    ref = _ref(model_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return eval(ref[which], {"pylmer": pylmer, "data": _data(ref)})


def _close_to_exact(value, exact):
    return min(abs(value - exact["minus2logLik"]),
               abs(value - exact["minus2logLik_lme4_agq_convention"]))


@pytest.mark.parametrize("model_id", IDS)
def test_fifteen_point_fit_is_the_exact_maximum_likelihood(model_id):
    ref = _ref(model_id)
    m = _fit(model_id, "pylmer_call")
    exact = ref["exact"]
    ck = Check(model_id)
    gap = _close_to_exact(-2 * float(pylmer.logLik(m)), exact)
    if gap > 1e-3:
        ck.add("-2 logLik", f"{gap:.3g} from the exact value")
    th = np.array(list(exact["theta"].values()))
    ck.close("theta", m.theta / np.maximum(np.abs(th), 0.1), th / np.maximum(np.abs(th), 0.1),
             0.0, 2e-3, names=list(exact["theta"]))
    be = np.array(list(exact["fixef"].values()))
    ck.close("fixef", pylmer.fixef(m).to_numpy() / np.maximum(np.abs(be), 0.1),
             be / np.maximum(np.abs(be), 0.1), 0.0, 2e-3, names=list(exact["fixef"]))
    ck.finish()
    # the Laplace fit, for contrast, misses by far more
    laplace = _fit(model_id, "pylmer_call_laplace")
    assert _close_to_exact(-2 * float(pylmer.logLik(laplace)), exact) > 0.3


@pytest.mark.parametrize("model_id", IDS)
def test_deviance_function_is_the_exact_likelihood_at_fixed_parameters(model_id):
    ref = _ref(model_id)
    devfun = eval(ref["pylmer_devfun"], {"pylmer": pylmer, "data": _data(ref)})
    for fp in ref["fixed_parameter_vectors"]:
        pars = np.concatenate([list(fp["theta"].values()), list(fp["beta"].values())])
        value = devfun(pars)
        gap = min(abs(value - fp["minus2logLik_exact"]),
                  abs(value - fp["minus2logLik_exact_lme4_agq_convention"]))
        assert gap < 1e-3, (fp["label"], value, fp["minus2logLik_exact"])


def test_k_and_2k_agree_where_the_rule_has_converged():
    ref = _ref("agq_logit_nested")
    data = _data(ref)
    devs = [-2 * float(pylmer.logLik(pylmer.glmer("y ~ x + (1 | a/b)", data,
                                                  family="binomial", nAGQ=k)))
            for k in (9, 18)]
    assert abs(devs[0] - devs[1]) < 1e-4


def _small_vector_data(seed=3, groups=5, size=6):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), size)
    x = rng.normal(size=groups * size)
    b0, b1 = rng.normal(0, 1.0, groups), rng.normal(0, 0.7, groups)
    eta = -0.3 + 0.5 * x + b0[g] + b1[g] * x
    y = rng.poisson(np.exp(eta))
    return pd.DataFrame({"y": y.astype(float), "x": x, "g": pd.Categorical(g.astype(str))})


def test_two_terms_of_one_factor_against_direct_integration():
    """(1 | g) + (0 + x | g): the product rule at given parameters converges to the
    integral over both effects of every group, taken by nested one-dimensional quadrature
    (30 points: to 1e-8; 12 points: to 1e-5)."""
    data = _small_vector_data()
    fam = pylmer.poisson()
    lf = pylmer.glFormula("y ~ x + (1 | g) + (0 + x | g)", data, family=fam)
    devfun = pylmer.mkGlmerDevfun(lf, fam, nAGQ=30)
    devfun12 = pylmer.mkGlmerDevfun(lf, fam, nAGQ=12)
    theta, beta = np.array([0.9, 0.6]), np.array([-0.3, 0.5])
    y, x = data["y"].to_numpy(), data["x"].to_numpy()
    g = data["g"].cat.codes.to_numpy()
    sat = np.sum(special.xlogy(y, y) - y - special.gammaln(y + 1))  # log p(y | mu = y)
    total = 0.0
    for j in np.unique(g):
        r = g == j

        def f(b1, b0, r=r):
            eta = beta[0] + beta[1] * x[r] + b0 + b1 * x[r]
            ll = np.sum(y[r] * eta - np.exp(eta) - special.gammaln(y[r] + 1))
            return np.exp(ll) * np.exp(-0.5 * (b0 / theta[0]) ** 2 - 0.5 * (b1 / theta[1]) ** 2) \
                / (2 * np.pi * theta[0] * theta[1])

        value = integrate.dblquad(f, -8 * theta[0], 8 * theta[0], -8 * theta[1], 8 * theta[1],
                                  epsabs=0, epsrel=1e-11)[0]
        total += -2 * np.log(value)
    # lme4's convention for quadrature: without the saturated log-likelihood
    pars = np.concatenate([theta, beta])
    assert devfun(pars) == pytest.approx(total + 2 * sat, abs=1e-8)
    assert devfun12(pars) == pytest.approx(total + 2 * sat, abs=1e-5)


def test_nested_terms_written_without_the_slash():
    """(1 | a) + (1 | b) with b's labels unique within a is the same nesting as (1 | a/b)."""
    ref = _ref("agq_logit_nested")
    data = _data(ref)
    data["ab"] = data["a"].astype(str) + ":" + data["b"].astype(str)
    a = pylmer.glmer("y ~ x + (1 | a/b)", data, family="binomial", nAGQ=7)
    b = pylmer.glmer("y ~ x + (1 | a) + (1 | ab)", data, family="binomial", nAGQ=7)
    assert float(pylmer.logLik(a)) == pytest.approx(float(pylmer.logLik(b)), abs=1e-8)


@pytest.mark.filterwarnings("ignore::pylmer.SingularFitWarning")  # nb_sim has no slope
def test_negative_binomial_with_a_random_slope():
    """The families with an extra parameter take the vector rule, their parameter in the
    outer optimizer: 5 and 9 points agree, and both lie above the Laplace fit's logLik
    by a small amount."""
    data = pylmer.load_dataset("nb_sim")
    fits = {k: pylmer.glmer("y ~ x + (1 + x | g)", data, family=pylmer.nbinom2(), nAGQ=k)
            for k in (1, 5, 9)}
    ll = {k: float(pylmer.logLik(m)) for k, m in fits.items()}
    assert abs(ll[5] - ll[9]) < 1e-3
    assert abs(ll[9] - ll[1]) < 0.5
    assert fits[9].family.theta == pytest.approx(fits[1].family.theta, rel=0.05)


def test_product_rule_is_exact_for_polynomials():
    from pylmer.agq import product_rule

    Z, logw, _, w0 = product_rule(5, 2)
    w = np.exp(logw - 0.5 * np.sum(Z * Z, axis=1))
    assert w.sum() + w0 == pytest.approx(1.0, abs=1e-14)
    for a, b in itertools.product(range(5), repeat=2):  # E[z1^a z2^b], degree <= 9
        moment = np.sum(w * Z[:, 0] ** a * Z[:, 1] ** b) + (w0 if a == b == 0 else 0.0)
        # E z^a = (a - 1)!! for even a, 0 for odd a
        expect = np.prod([0.0 if e % 2 else float(np.prod(np.arange(e - 1, 0, -2)))
                          for e in (a, b)])
        assert moment == pytest.approx(expect, abs=1e-12)


def test_refused_layouts_name_the_terms():
    data = _small_vector_data()
    data["h"] = pd.Categorical(np.tile(["p", "q", "r"], 10))
    with pytest.raises(PylmerError, match=r"\(1 \| g\) \+ \(1 \| h\).*not nested"):
        pylmer.glmer("y ~ x + (1 | g) + (1 | h)", data, family="poisson", nAGQ=5)
    with pytest.raises(PylmerError, match="20 \\^ 4|20\\^4"):
        pylmer.glmer("y ~ x + (1 + x + I(x^2) + I(x^3) | g)", data, family="poisson", nAGQ=20)


@pytest.mark.parametrize("formula", ["y ~ x + (1 + x | g)", "y ~ x + (1 | g) + (0 + x | g)"])
def test_one_point_rule_is_the_laplace_approximation(formula):
    """k = 1 is the mode alone, weight 1: devc0 + log|H|, lme4's Laplace deviance (for
    binary data, where the saturated log-likelihood is 0)."""
    from pylmer.agq import FactorRule

    ref = _ref("agq_logit_slope")
    data = _data(ref)
    fam = pylmer.binomial()
    lf = pylmer.glFormula(formula, data, family=fam)
    devfun = pylmer.updateGlmerDevfun(pylmer.mkGlmerDevfun(lf, fam, control=pylmer.GlmerControl(
        tolPwrss=1e-12)), 1)
    ntheta = len(lf.reTrms.theta)
    pars = np.concatenate([np.linspace(0.9, 0.4, ntheta), [-0.8, 0.3]])
    laplace = devfun(pars)
    w = devfun.response.working(devfun.state.eta, None, devfun.offset)[0]
    one = FactorRule(lf, 1).deviance(devfun.state, w, devfun.response)
    assert one == pytest.approx(laplace, abs=1e-7)


@pytest.mark.parametrize("k,d", [(5, 3), (7, 3), (9, 4)])
def test_sparse_grid_is_exact_for_polynomials_of_its_degree(k, d):
    from pylmer.agq import product_rule, sparse_rule

    rule = sparse_rule(k, d)
    assert len(rule.Z) + 1 < k**d
    w = rule.sign * np.exp(rule.logw - 0.5 * np.sum(rule.Z * rule.Z, axis=1))
    assert np.any(w < 0)  # the price of the sparse grid
    top = 2 * ((k + 1) // 2) - 1
    for e in itertools.product(range(top + 1), repeat=d):
        if sum(e) > top:
            continue
        moment = np.sum(w * np.prod(rule.Z ** np.array(e), axis=1)) + \
            (rule.w_zero if sum(e) == 0 else 0.0)
        expect = np.prod([0.0 if a % 2 else float(np.prod(np.arange(a - 1, 0, -2))) for a in e])
        assert moment == pytest.approx(expect, abs=1e-9)
    assert len(product_rule(k, d).Z) + 1 == k**d


def test_sparse_grid_deviance_approaches_the_product_rule():
    rng = np.random.default_rng(5)
    G, n = 60, 12
    g = np.repeat(np.arange(G), n)
    x, z = rng.normal(size=G * n), rng.normal(size=G * n)
    b = rng.normal(size=(G, 3)) * [0.8, 0.4, 0.4]
    y = rng.poisson(np.exp(0.2 + 0.5 * x - 0.3 * z + b[g, 0] + b[g, 1] * x + b[g, 2] * z))
    data = pd.DataFrame({"y": y.astype(float), "x": x, "z": z,
                         "g": pd.Categorical(g.astype(str))})
    lf = pylmer.glFormula("y ~ x + z + (1 + x + z | g)", data, family="poisson")
    pars = np.array([0.8, 0.05, 0.02, 0.4, 0.01, 0.4, 0.2, 0.5, -0.3])
    product = pylmer.mkGlmerDevfun(lf, pylmer.poisson(), nAGQ=11)(pars)
    sparse = pylmer.mkGlmerDevfun(lf, pylmer.poisson(), nAGQ=11,
                                  control=pylmer.GlmerControl(agq_grid="sparse"))(pars)
    assert sparse == pytest.approx(product, abs=2e-3)
    with pytest.raises(PylmerError, match="agq_grid"):
        pylmer.GlmerControl(agq_grid="smolyak")


def test_knots_in_blocks_give_the_same_deviance():
    """Rules too large to evaluate at once go a block of knots at a time (memory): the
    value is the one-piece value."""
    data = pylmer.load_dataset("agq_logit_slope")
    lf = pylmer.glFormula("y ~ x + (1 + x | g)", data, family="binomial")
    devfun = pylmer.mkGlmerDevfun(lf, pylmer.binomial(), nAGQ=15)
    pars = np.array([1.8, 1.19, 0.64, -0.88, 0.30])
    whole = devfun(pars)
    devfun.rule.block = 1000  # 3 knots of 320 observations per block
    assert devfun(pars) == pytest.approx(whole, abs=1e-10)
