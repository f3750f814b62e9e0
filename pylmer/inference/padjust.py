"""Multiplicity adjustments of p-values: R's ``p.adjust`` and emmeans' family-wise ones.

Each function takes the two-sided statistics of one family of tests (``t``, ``df``) and
returns adjusted p-values. emmeans' ``tukey`` and ``dunnettx`` are for two-sided tests of
pairwise comparisons and of comparisons with a control; ``dunnettx`` is emmeans' own
approximation to Dunnett's distribution (a mix of the Tukey cdf and the Sidak bound).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import PylmerError
from ..lazy import stats

__all__ = ["ADJUSTMENTS", "adjust_p", "two_sided_p"]

P_ADJUST = ("holm", "hochberg", "hommel", "bonferroni", "BH", "BY", "fdr", "none")
ADJUSTMENTS = ("tukey", "sidak", "scheffe", "dunnettx") + P_ADJUST


def _p_adjust(p: np.ndarray, method: str) -> np.ndarray:
    """R's ``p.adjust``."""
    n = len(p)
    if method == "none" or n <= 1:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(1.0, n * p)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    out = np.empty(n)
    if method == "holm":
        out[order] = np.minimum(1.0, np.maximum.accumulate((n - np.arange(n)) * ranked))
    elif method == "hochberg":
        stepped = np.minimum.accumulate(((n - np.arange(n)) * ranked)[::-1])[::-1]
        out[order] = np.minimum(1.0, stepped)
    elif method in ("BH", "fdr", "BY"):
        q = np.sum(1.0 / np.arange(1, n + 1)) if method == "BY" else 1.0
        stepped = np.minimum.accumulate((q * n / np.arange(1, n + 1) * ranked)[::-1])[::-1]
        out[order] = np.minimum(1.0, stepped)
    elif method == "hommel":
        out[order] = _hommel(ranked)
    return out


def _hommel(p: np.ndarray) -> np.ndarray:
    """R's ``p.adjust(method = "hommel")`` on sorted p-values."""
    n = len(p)
    q = pa = np.full(n, np.min(n * p / np.arange(1, n + 1)))
    for m in range(n - 1, 1, -1):
        i1 = np.arange(n - m + 1)
        i2 = np.arange(n - m + 1, n)
        q1 = np.min(m * p[i2] / np.arange(2, m + 1))
        q = q.copy()
        q[i1] = np.minimum(m * p[i1], q1)
        q[i2] = q[n - m]
        pa = np.maximum(pa, q)
    return np.maximum(pa, p)


def _tukey_sf(x: np.ndarray, k: float, df: np.ndarray) -> np.ndarray:
    """R's ``ptukey(x, k, df, lower.tail = FALSE)``; df = Inf is the normal limit."""
    return np.array([stats.studentized_range.sf(xi, k, d) if xi > 0 else 1.0
                     for xi, d in zip(x, df)])


def _f_sf(x: np.ndarray, d1: float, df: np.ndarray) -> np.ndarray:
    """P(F(d1, df) > x); df = Inf is chi-square(d1) / d1."""
    finite = stats.f.sf(x, d1, np.where(np.isinf(df), 1.0, df))
    return np.where(np.isinf(df), stats.chi2.sf(x * d1, d1), finite)


def two_sided_p(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided p of t on df (df = Inf: the normal)."""
    finite = 2 * stats.t.sf(np.abs(t), np.where(np.isinf(df), 1.0, df))
    return np.where(np.isinf(df), 2 * stats.norm.sf(np.abs(t)), finite)


def _pdunnx(x: np.ndarray, k: int, df: np.ndarray) -> np.ndarray:
    """emmeans' ``.pdunnx``: P(|T| <= x) under its Dunnett approximation for k tests."""
    weight = (k - 1) / k
    fam = (1 + np.sqrt(1 + 8 * k)) / 2
    tukey = 1.0 - _tukey_sf(np.sqrt(2) * x, fam, df)
    sidak = (1 - _f_sf(x**2, 1, df)) ** k
    return weight * tukey + (1 - weight) * sidak


def adjust_p(t: np.ndarray, df: np.ndarray, method: str, family_size: int,
             scheffe_rank: int = 1) -> np.ndarray:
    """Adjusted two-sided p-values of one family (emmeans' ``.adj.p.value``).

    Parameters
    ----------
    t, df : numpy.ndarray
        The tests' statistics and degrees of freedom (``inf`` for z tests).
    method : str
        One of :data:`ADJUSTMENTS`.
    family_size : int
        For ``tukey``, the number of means compared.
    scheffe_rank : int
        For ``scheffe``, the rank of the family's contrasts.
    """
    if method not in ADJUSTMENTS:
        raise PylmerError(f"adjust={method!r}: use one of {', '.join(ADJUSTMENTS)} (emmeans' "
                          "'mvt' needs multivariate t integration, which pylmer does not do)")
    t, df = np.asarray(t, dtype=float), np.asarray(df, dtype=float)
    p = two_sided_p(t, df)
    n = len(t)
    if n == 1 and method != "scheffe":
        return p
    if method in P_ADJUST:
        return _p_adjust(p, method)
    if method == "sidak":
        return 1 - (1 - p) ** n
    if method == "tukey":
        return _tukey_sf(np.sqrt(2) * np.abs(t), family_size, df)
    if method == "scheffe":
        return _f_sf(t**2 / scheffe_rank, scheffe_rank, df)
    return 1 - _pdunnx(np.abs(t), n, df)
