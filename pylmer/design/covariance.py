"""theta <-> Lambda: the relative covariance factor of one random-effect term.

For a term with ``nc`` columns, Lambda's block is an ``nc x nc`` lower-triangular matrix
filled column by column from theta (lme4's layout): for ``(Days | Subject)`` theta is
``Subject.(Intercept)``, ``Subject.Days.(Intercept)``, ``Subject.Days``. The block repeats
once per level; ``Lambdat`` (its transpose) is stored as CSC and ``Lind`` maps each stored
value to its theta index, so setting theta is ``Lambdat.data = theta[Lind]``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sps

__all__ = [
    "block_pattern",
    "block_to_theta",
    "lambdat_template",
    "n_theta",
    "theta_index",
    "theta_lower",
    "theta_names",
    "theta_start",
    "theta_to_block",
]


def n_theta(nc: int) -> int:
    """Number of theta parameters of an ``nc``-column term: the lower triangle."""
    return nc * (nc + 1) // 2


def theta_index(i: int, j: int, nc: int) -> int:
    """Position in theta of Lambda[i, j] (``i >= j``), lower triangle column by column."""
    return j * nc - j * (j - 1) // 2 + (i - j)


def block_pattern(nc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, col, theta index) of one Lambdat block's non-zeros, in CSC order."""
    rows, cols, idx = [], [], []
    for c in range(nc):  # column c of Lambdat = row c of Lambda
        for r in range(c + 1):
            rows.append(r)
            cols.append(c)
            idx.append(theta_index(c, r, nc))
    return np.array(rows), np.array(cols), np.array(idx)


def lambdat_template(ncs: list[int], nls: list[int]) -> tuple[sps.csc_matrix, np.ndarray]:
    """Lambdat at the starting theta and its 0-based ``Lind``, for terms (nc, nl)."""
    indices, lind, counts = [], [], []
    boff = thoff = 0
    for nc, nl in zip(ncs, nls):
        r, c, k = block_pattern(nc)
        per_col = np.bincount(c, minlength=nc)
        level_off = boff + nc * np.arange(nl)[:, None]
        indices.append((r[None, :] + level_off).ravel())
        lind.append(np.tile(k + thoff, nl))
        counts.append(np.tile(per_col, nl))
        boff += nc * nl
        thoff += n_theta(nc)
    q = boff
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts) if counts else [])])
    lind_all = np.concatenate(lind).astype(np.int64) if lind else np.zeros(0, np.int64)
    theta0 = np.concatenate([theta_start(nc) for nc in ncs]) if ncs else np.zeros(0)
    lambdat = sps.csc_matrix(
        (theta0[lind_all], np.concatenate(indices).astype(np.int32) if indices else [],
         indptr.astype(np.int32)),
        shape=(q, q),
    )
    return lambdat, lind_all


def theta_start(nc: int) -> np.ndarray:
    """lme4's starting theta: 1 on the diagonal, 0 off it."""
    out = np.zeros(n_theta(nc))
    for i in range(nc):
        out[theta_index(i, i, nc)] = 1.0
    return out


def theta_lower(nc: int) -> np.ndarray:
    """Lower bounds: 0 for diagonal elements, -inf off the diagonal."""
    out = np.full(n_theta(nc), -np.inf)
    for i in range(nc):
        out[theta_index(i, i, nc)] = 0.0
    return out


def theta_names(group: str, columns: list[str]) -> list[str]:
    """lme4's names: ``Subject.(Intercept)``, ``Subject.Days.(Intercept)``, ``Subject.Days``."""
    nc = len(columns)
    names = [""] * n_theta(nc)
    for j in range(nc):
        for i in range(j, nc):
            tail = columns[i] if i == j else f"{columns[i]}.{columns[j]}"
            names[theta_index(i, j, nc)] = f"{group}.{tail}"
    return names


def theta_to_block(theta: np.ndarray, nc: int) -> np.ndarray:
    """One term's theta -> its lower-triangular ``nc x nc`` Lambda block."""
    block = np.zeros((nc, nc))
    for j in range(nc):
        for i in range(j, nc):
            block[i, j] = theta[theta_index(i, j, nc)]
    return block


def block_to_theta(block: np.ndarray) -> np.ndarray:
    """Inverse of :func:`theta_to_block`."""
    nc = block.shape[0]
    theta = np.zeros(n_theta(nc))
    for j in range(nc):
        for i in range(j, nc):
            theta[theta_index(i, j, nc)] = block[i, j]
    return theta
