"""lmer_many and bootMer on a real Dask cluster: a LocalCluster of two worker processes,
started here and shut down at the end. lmer_many's table equals the in-process one (the
target is 1e-10 relative; chunks are whole blocks, so it is equal to the last bit) with
tasks on both workers; bootMer's replicates equal the in-process ones for the same seed."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from many_reference import CASES, load

from pylmer import bootMer, fixef, glmer, lmer, lmer_many, load_dataset


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_cluster_table_equals_in_process(client):
    data, Y, _ref = load("genes")
    formula = CASES["genes"][0]
    local = lmer_many(formula, data, Y, progress=False)
    remote = lmer_many(formula, data, Y, progress=False, client=client)
    pd.testing.assert_frame_equal(remote.table, local.table, check_exact=False, rtol=1e-10)
    assert np.array_equal(remote.table.select_dtypes("number").to_numpy(),
                          local.table.select_dtypes("number").to_numpy(), equal_nan=True)
    used = set(remote.table.attrs["workers"])
    assert used == set(client.scheduler_info()["workers"])
    assert len(used) == 2
    # a response's full model is rebuilt here, from the client's copy of the data
    assert remote.model("g0002").REMLcrit() == pytest.approx(local.table.loc["g0002", "REML"],
                                                            abs=1e-9)


def test_cluster_with_missing_values_and_failures(client):
    data, Y, _ref = load("slope")
    sub = Y.iloc[:, :40].copy()
    sub.iloc[:7, 3] = np.nan
    sub["const"] = 2.0
    formula = CASES["slope"][0]
    local = lmer_many(formula, data, sub, progress=False)
    remote = lmer_many(formula, data, sub, progress=False, client=client)
    pd.testing.assert_frame_equal(remote.table, local.table, check_exact=False, rtol=1e-10)
    assert "constant" in remote.table.loc["const", "warnings"]


@pytest.mark.parametrize("kind", ["lmer", "glmer"])
def test_bootmer_on_cluster_equals_in_process(client, kind):
    if kind == "lmer":
        m = lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))
        fun = fixef
    else:
        m = glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                  load_dataset("cbpp"), family="binomial")
        fun = None  # lme4's parameters (sd, fixed effects)
    with warnings.catch_warnings():  # the refits' summary warning, compared below
        warnings.simplefilter("ignore")
        local = bootMer(m, fun, nsim=24, seed=17, progress=False)
        remote = bootMer(m, fun, nsim=24, seed=17, progress=False, client=client)
    pd.testing.assert_frame_equal(remote, local, check_exact=False, rtol=1e-10)
    assert remote.attrs["failed"] == local.attrs["failed"]
    assert remote.attrs["warnings"] == local.attrs["warnings"]
    assert remote.std().gt(0).all()  # the replicates differ from one another

