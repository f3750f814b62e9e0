"""glmer_many: each row is glmer's fit of that response (lme4's numbers, checked against
lme4 in the glmer reference tests), for binary, count and negative binomial responses; the
shared structure gives the same numbers to the last digits. Threads and a two-worker
LocalCluster give the in-process table."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from pylmer import PylmerError, glmer, glmer_many, load_dataset, nbinom2
from pylmer.family.ordinal import Cumulative


def _simulate(kind: str, m: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    if kind == "binary":
        data = load_dataset("cbpp")
        g = data["herd"].cat.codes.to_numpy()
        eta = [-0.5 + rng.normal(0, 1, 15)[g] for _ in range(m)]
        return data, np.column_stack([rng.binomial(1, 1 / (1 + np.exp(-e))) for e in eta])
    data = load_dataset("grouseticks")
    g = data["BROOD"].cat.codes.to_numpy()
    ng = g.max() + 1
    Y = []
    for _ in range(m):
        mu = np.exp(0.5 + rng.normal(0, 0.7, ng)[g])
        Y.append(rng.poisson(mu) if kind == "count" else rng.negative_binomial(2, 2 / (2 + mu)))
    return data, np.column_stack(Y)


def _glmer_row(formula, data, y, family, nAGQ=1):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return glmer(formula, data.assign(y=y), family=family, nAGQ=nAGQ)


CASES = [
    ("binary", "y ~ period + (1 | herd)", "binomial", 1),
    ("binary", "y ~ period + (1 | herd)", "binomial", 5),
    ("count", "y ~ YEAR + (1 | BROOD)", "poisson", 1),
    ("nb", "y ~ YEAR + (1 | BROOD)", nbinom2(), 1),
]


@pytest.mark.parametrize("kind,formula,family,nAGQ", CASES)
def test_rows_are_glmer_fits(kind, formula, family, nAGQ):
    data, Y = _simulate(kind, 6 if kind == "nb" else 12)
    fits = glmer_many(formula, data, Y, family=family, nAGQ=nAGQ, progress=False)
    T = fits.table
    for j, name in enumerate(fits):
        m = _glmer_row(formula, data, Y[:, j], family, nAGQ)
        row = T.loc[name]
        assert row["logLik"] == pytest.approx(float(m.logLik()), abs=1e-8)
        np.testing.assert_allclose(row[fits.coef_names].to_numpy(float),
                                   m.fixef().to_numpy(), rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(row[[f"se_{c}" for c in fits.coef_names]].to_numpy(float),
                                   np.sqrt(np.diag(m.vcov().to_numpy())), rtol=1e-6)
        np.testing.assert_allclose(row[["theta_1"]].to_numpy(float), m.theta, atol=1e-8)
        if kind == "nb":
            assert row["sigma"] == pytest.approx(m.sigma(), rel=1e-7)
        assert row["AIC"] == pytest.approx(m.AIC(), abs=1e-7)
        assert row["converged"] == (m.optinfo.conv == 0 and not any(
            "converge" in msg for msg in m.optinfo.messages))
    # a response's full model, rebuilt from the recorded optimum
    name = fits.names[1]
    m = fits.model(name)
    assert float(m.logLik()) == pytest.approx(T.loc[name, "logLik"], abs=1e-6)
    np.testing.assert_allclose(m.fixef().to_numpy(), T.loc[name, fits.coef_names]
                               .to_numpy(float), rtol=1e-6, atol=1e-8)


def test_warm_start_stays_near_glmer():
    data, Y = _simulate("binary", 12, seed=4)
    fits = glmer_many("y ~ period + (1 | herd)", data, Y, progress=False, warm_start=True)
    for j, name in enumerate(fits):
        m = _glmer_row("y ~ period + (1 | herd)", data, Y[:, j], "binomial")
        assert fits.table.loc[name, "logLik"] == pytest.approx(float(m.logLik()), abs=1e-3)


def test_missing_values_and_unusable_responses():
    data, Y = _simulate("count", 4)
    R = pd.DataFrame(Y.astype(float), columns=list("abcd"))
    R.iloc[:30, 1] = np.nan
    R["neg"] = -1.0 * np.arange(len(R))
    R["text"] = "x"
    fits = glmer_many("y ~ YEAR + (1 | BROOD)", data, R, family="poisson", progress=False)
    T = fits.table
    keep = R["b"].notna().to_numpy()
    m = _glmer_row("y ~ YEAR + (1 | BROOD)", data[keep], R["b"][keep].to_numpy(), "poisson")
    assert T.loc["b", "nobs"] == keep.sum()
    assert T.loc["b", "logLik"] == pytest.approx(float(m.logLik()), abs=1e-8)
    assert "not fitted" in T.loc["neg", "warnings"]
    assert "not numeric" in T.loc["text", "warnings"]
    assert sorted(fits.failed()) == ["neg", "text"]
    assert fits.model("b").nobs() == keep.sum()


def test_threads_give_the_same_table():
    data, Y = _simulate("binary", 140, seed=9)  # three blocks of responses
    one = glmer_many("y ~ period + (1 | herd)", data, Y, progress=False).table
    two = glmer_many("y ~ period + (1 | herd)", data, Y, progress=False, n_jobs=2).table
    pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_cluster_gives_the_same_table():
    distributed = pytest.importorskip("distributed")
    data, Y = _simulate("count", 140, seed=2)
    local = glmer_many("y ~ YEAR + (1 | BROOD)", data, Y, family="poisson", progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = glmer_many("y ~ YEAR + (1 | BROOD)", data, Y, family="poisson",
                            progress=False, client=client)
        assert set(remote.table.attrs["workers"]) == set(client.scheduler_info()["workers"])
    pd.testing.assert_frame_equal(remote.table, local.table, check_exact=False, rtol=1e-10)
    name = remote.names[5]
    assert float(remote.model(name).logLik()) == pytest.approx(
        local.table.loc[name, "logLik"], abs=1e-6)


def test_bad_input():
    data, Y = _simulate("binary", 3)
    with pytest.raises(PylmerError, match="ordinal"):
        glmer_many("y ~ period + (1 | herd)", data, Y, family=Cumulative(), progress=False)
    with pytest.raises(PylmerError, match="family"):
        glmer_many("y ~ period + (1 | herd)", data, Y, family="nonsense", progress=False)
    with pytest.raises(PylmerError, match="nAGQ"):
        glmer_many("y ~ period + (1 | herd)", data, Y, nAGQ=-1, progress=False)
    with pytest.raises(PylmerError, match="no response can be fitted"):
        glmer_many("y ~ period + (1 | herd)", data, np.full((len(data), 2), 2.0),
                   progress=False)
    with pytest.raises(PylmerError, match="lmer_many"):
        glmer_many("y ~ period + (1 | herd)", data, Y, family="gaussian", progress=False)


def test_one_bad_response_fails_alone():
    """The shared structure comes from a response the family takes: a first response
    with a value out of the family's range fails on its own row only."""
    data, Y = _simulate("binary", 3, seed=5)
    Y = Y.astype(float)
    Y[0, 0] = 2.0
    fits = glmer_many("y ~ period + (1 | herd)", data, Y, progress=False)
    assert fits.failed() == ["y1"] and "not fitted" in fits["y1"]["warnings"]
    for j in (1, 2):
        m = _glmer_row("y ~ period + (1 | herd)", data, Y[:, j], "binomial")
        assert fits[f"y{j + 1}"]["logLik"] == pytest.approx(float(m.logLik()), abs=1e-8)


def test_complete_rows_that_lose_a_column():
    """A column dropped on a response's complete rows stays NaN (glmer's fit otherwise);
    a factor level lost on them is glmer's model of those rows."""
    data, Y = _simulate("count", 2, seed=6)
    Y = Y.astype(float)
    year96 = (data["YEAR"] == "96").to_numpy()
    y = Y[:, 0].copy()
    y[year96] = np.nan
    fits = glmer_many("y ~ YEAR + (1 | BROOD)", data, np.column_stack([y, Y[:, 1]]),
                      family="poisson", progress=False)
    keep = ~year96
    m = _glmer_row("y ~ YEAR + (1 | BROOD)", data[keep], y[keep], "poisson")
    row = fits["y1"]
    assert row["logLik"] == pytest.approx(float(m.logLik()), abs=1e-8)
    assert np.isnan(row["YEAR96"]) and np.isnan(row["se_YEAR96"])
    np.testing.assert_allclose(row[list(m.fixef().index)].to_numpy(float),
                               m.fixef().to_numpy(), rtol=1e-7)
    assert np.isfinite(fits["y2"]["YEAR96"])
