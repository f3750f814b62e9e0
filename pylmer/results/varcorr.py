"""Variance components: lme4's ``VarCorr`` and ``as.data.frame(VarCorr(m))``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..design import covariance

__all__ = ["VarCorr", "VarCorrTerm", "unique_names"]


def unique_names(names: list[str]) -> list[str]:
    """R's ``make.unique``: repeated names get ``.1``, ``.2`` ... (``Subject.1``)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}.{seen[name]}")
        else:
            seen[name] = 0
            out.append(name)
    return out


@dataclass(frozen=True)
class VarCorrTerm:
    """Covariance matrix of one random-effect term.

    Attributes
    ----------
    group : str
        Grouping factor (made unique as lme4 prints it: ``Subject.1``).
    columns : tuple of str
    cov : numpy.ndarray, (nc, nc)
        ``sigma^2 Lambda_k Lambda_k'`` (``Lambda_k Lambda_k'`` without a scale).
    """

    group: str
    columns: tuple[str, ...]
    cov: np.ndarray

    @property
    def stddev(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))

    @property
    def corr(self) -> np.ndarray:
        sd = self.stddev
        with np.errstate(invalid="ignore", divide="ignore"):
            out = self.cov / np.outer(sd, sd)
        np.fill_diagonal(out, 1.0)
        return out


class VarCorr:
    """Estimated variances, standard deviations and correlations (R: ``VarCorr(m)``).

    ``print(m.VarCorr())`` prints lme4's table; :meth:`as_frame` gives lme4's
    ``as.data.frame(VarCorr(m))`` with columns grp, var1, var2, vcov, sdcor.
    """

    def __init__(self, terms: list[VarCorrTerm], sigma: float | None):
        self.terms = tuple(terms)
        self.sigma = sigma

    @classmethod
    def from_theta(cls, theta: np.ndarray, cnms: list[tuple[str, list[str]]],
                   sigma: float | None, scale: float = 1.0) -> VarCorr:
        """Build from theta: ``cov = scale^2 Lambda_k Lambda_k'`` per term."""
        terms = []
        groups = unique_names([g for g, _ in cnms])
        offset = 0
        for group, (_, cols) in zip(groups, cnms):
            nc = len(cols)
            k = covariance.n_theta(nc)
            block = covariance.theta_to_block(theta[offset: offset + k], nc)
            terms.append(VarCorrTerm(group, tuple(cols), scale**2 * block @ block.T))
            offset += k
        return cls(terms, sigma)

    def as_frame(self) -> pd.DataFrame:
        """lme4's ``as.data.frame(VarCorr(m))``: variances, then covariances, then residual."""
        rows = []
        for term in self.terms:
            sd = term.stddev
            for i, col in enumerate(term.columns):
                rows.append((term.group, col, None, term.cov[i, i], sd[i]))
            corr = term.corr
            nc = len(term.columns)
            for j in range(nc):
                for i in range(j + 1, nc):
                    rows.append((term.group, term.columns[j], term.columns[i], term.cov[i, j],
                                 corr[i, j]))
        if self.sigma is not None:
            rows.append(("Residual", None, None, self.sigma**2, self.sigma))
        return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])

    def __repr__(self) -> str:
        from ..printing.format import format_varcorr

        return format_varcorr(self)

    def _repr_html_(self) -> str:
        from ..printing.format import html_varcorr

        return html_varcorr(self)
