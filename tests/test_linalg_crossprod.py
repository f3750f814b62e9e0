"""The structural helpers of the cross-products: patterns that hold whatever the values."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sps

from pylmer.linalg.crossprod import pattern_with_diagonal


def test_pattern_with_diagonal_keeps_zero_entries_and_adds_every_diagonal():
    """An explicit zero and entries that would cancel stay; a diagonal entry A lacks (a
    level no observation has) is added; the result is sorted CSC with positive values."""
    A = sps.csc_matrix((np.array([2.0, 0.0, -1.0, 1.0]),
                        (np.array([0, 2, 0, 2]), np.array([0, 0, 2, 2]))), shape=(4, 4))
    A.data[1] = 0.0  # an explicit zero (a product that cancelled)
    P = pattern_with_diagonal(A)
    assert P.has_sorted_indices and P.format == "csc"
    expected = {(0, 0), (2, 0), (0, 2), (2, 2), (1, 1), (3, 3)}
    rows, cols = P.nonzero()
    assert set(zip(rows.tolist(), cols.tolist())) == expected
    assert P.nnz == len(expected) and np.all(P.data > 0)
    assert A.data[1] == 0.0 and A.nnz == 4  # the argument is not changed
