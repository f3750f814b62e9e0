"""The random-effects design: Zt written directly in compressed columns."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sps

from pylmer import lFormula, load_dataset
from pylmer.design.random import stacked_zt


def _triplet_zt(blocks):
    """Oracle: each term's block from (row, observation, value) triplets, the blocks
    stacked by scipy, explicit zeros dropped."""
    parts = []
    for mm, codes, nl in blocks:
        n, nc = mm.shape
        rows = (codes[:, None] * nc + np.arange(nc)[None, :]).ravel()
        cols = np.repeat(np.arange(n), nc)
        block = sps.csc_matrix((mm.ravel(), (rows, cols)), shape=(nl * nc, n))
        block.eliminate_zeros()
        parts.append(block)
    Zt = sps.vstack(parts, format="csc")
    Zt.sort_indices()
    return Zt


def test_stacked_zt_equals_the_stacked_triplet_blocks():
    """One to three terms of one to three columns, levels that do not occur, and values
    that are zero (dropped, as the triplet form drops them): the same matrix, entry for
    entry, with its indices sorted as flagged."""
    rng = np.random.default_rng(11)
    for _ in range(300):
        n = int(rng.integers(1, 50))
        blocks = []
        for _ in range(int(rng.integers(1, 4))):
            nc, nl = int(rng.integers(1, 4)), int(rng.integers(1, 7))
            mm = rng.choice([0.0, 1.0, -2.5, 0.3], size=(n, nc))
            blocks.append((mm, rng.integers(0, nl, n), nl))
        got, expected = stacked_zt(blocks, n), _triplet_zt(blocks)
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got.indptr, expected.indptr)
        np.testing.assert_array_equal(got.indices, expected.indices)
        np.testing.assert_array_equal(got.data, expected.data)
        resorted = got.copy()
        resorted.has_sorted_indices = False
        resorted.sort_indices()
        np.testing.assert_array_equal(resorted.indices, got.indices)


def test_lformula_zt_of_crossed_and_vector_terms_is_the_stacked_blocks():
    """lFormula's Zt is each term's block in lme4's order (here the slope term of 18
    subjects after the intercept term of 10 day levels: larger terms first)."""
    sleep = load_dataset("sleepstudy").assign(day=lambda d: d.Days.astype(int).astype(str))
    lf = lFormula("Reaction ~ Days + (Days | Subject) + (1 | day)", sleep)
    blocks = [(t.mm, np.asarray(t.factor.codes, dtype=np.int64), t.nl)
              for t in lf.reTrms.terms]
    assert [t.nl for t in lf.reTrms.terms] == [18, 10]
    expected = _triplet_zt(blocks)
    assert (lf.reTrms.Zt != expected).nnz == 0
    np.testing.assert_array_equal(lf.reTrms.Zt.indices, expected.indices)
