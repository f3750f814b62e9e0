"""lmer_many on a real Dask cluster: a LocalCluster of two worker processes, started here
and shut down at the end. The table equals the in-process one (the target is 1e-10
relative; chunks are whole blocks, so it is equal to the last bit), and the tasks ran on
both workers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from many_reference import CASES, load

from pylmer import lmer_many


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
