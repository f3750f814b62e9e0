"""R's contrast matrices and their column names.

R codes an unordered factor with ``contr.treatment`` and an ordered one with
``contr.poly``, and names the columns ``period2``, ``temperature.L``, ``temperature^4``;
``contr.sum`` and ``contr.helmert`` have no column names, so R numbers them
(``recipe1``, ``recipe2``).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import FormulaError

__all__ = ["CONTRASTS", "coding_matrix", "contr_poly"]

CONTRASTS = ("contr.treatment", "contr.poly", "contr.sum", "contr.helmert", "contr.SAS")


def contr_poly(n: int) -> np.ndarray:
    """R's ``contr.poly(n)``: orthonormal polynomials in the scores 1..n (n x (n-1))."""
    scores = np.arange(1, n + 1, dtype=float)
    centred = scores - scores.mean()
    vander = np.vander(centred, n, increasing=True)
    q, r = np.linalg.qr(vander)
    # R: qr.qy(QR, diag(diag(QR$qr))) keeps the sign of R's diagonal on each column
    z = q * np.diag(r)
    z = z / np.sqrt((z**2).sum(axis=0))
    return z[:, 1:]


def _poly_names(n: int) -> list[str]:
    names = [".L", ".Q", ".C"] + [f"^{k}" for k in range(4, n)]
    return names[: n - 1]


def coding_matrix(kind: str, labels: list[str], base: int = 1) -> tuple[np.ndarray, list[str]]:
    """R's reduced-rank coding matrix for a factor with levels ``labels``, and its
    column suffixes (R's ``colnames(contrasts(f))``, numbered where R has none).

    ``base`` is contr.treatment's reference level (1-based), as R's ``base =``.
    """
    n = len(labels)
    if kind == "contr.treatment":
        if not 1 <= base <= n:
            raise FormulaError(f"contr.treatment: base = {base} is not in 1..{n}")
        keep = [k for k in range(n) if k != base - 1]
        return np.eye(n)[:, keep], [labels[k] for k in keep]
    if kind == "contr.SAS":
        return np.eye(n)[:, :-1], list(labels[:-1])
    if kind == "contr.poly":
        return contr_poly(n), _poly_names(n)
    if kind == "contr.sum":
        m = np.vstack([np.eye(n - 1), -np.ones((1, n - 1))])
        return m, [str(k) for k in range(1, n)]
    if kind == "contr.helmert":
        m = np.zeros((n, n - 1))
        for j in range(n - 1):
            m[: j + 1, j] = -1.0
            m[j + 1, j] = j + 1
        return m, [str(k) for k in range(1, n)]
    raise FormulaError(f"unknown contrasts {kind!r}; use one of {', '.join(CONTRASTS)}")
