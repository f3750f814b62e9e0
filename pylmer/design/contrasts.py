"""R's contrasts for formulaic, with R's column names.

R codes an unordered factor with ``contr.treatment`` and an ordered one with
``contr.poly``, and names the columns ``period2``, ``temperature.L``, ``temperature^4``.
:class:`RContrasts` gives formulaic exactly those coding matrices and names, and
:class:`RMaterializer` chooses them per factor the way R's ``model.matrix`` does (ordered
or not, or as given by the ``contrasts=`` argument).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sps
from formulaic.materializers import PandasMaterializer
from formulaic.transforms.contrasts import Contrasts, encode_contrasts
from formulaic.utils.cast import as_columns
from formulaic.utils.null_handling import drop_rows as drop_nulls
from interface_meta import override

__all__ = ["CONTRASTS", "RContrasts", "RMaterializer", "contr_poly"]

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


def coding_matrix(kind: str, n: int) -> tuple[np.ndarray, list[str] | None]:
    """R's reduced-rank coding matrix for ``n`` levels and its column suffixes.

    Suffixes are None where R uses the level labels (treatment, SAS).
    """
    if kind == "contr.treatment":
        return np.eye(n)[:, 1:], None
    if kind == "contr.SAS":
        return np.eye(n)[:, :-1], None
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
    raise ValueError(f"unknown contrasts {kind!r}; use one of {', '.join(CONTRASTS)}")


@dataclass
class RContrasts(Contrasts):
    """One of R's contrast functions, named as R names the columns."""

    FACTOR_FORMAT = "{name}{field}"
    FACTOR_FORMAT_REDUCED = "{name}{field}"

    kind: str = "contr.treatment"

    @Contrasts.override
    def _get_coding_matrix(
        self, levels: Sequence[Hashable], reduced_rank: bool = True, sparse: bool = False
    ) -> Any:
        n = len(levels)
        matrix = coding_matrix(self.kind, n)[0] if reduced_rank else np.eye(n)
        return sps.csc_matrix(matrix) if sparse else matrix

    @Contrasts.override
    def get_coding_column_names(
        self, levels: Sequence[Hashable], reduced_rank: bool = True
    ) -> Sequence[Hashable]:
        labels = [str(level) for level in levels]
        if not reduced_rank:
            return labels
        names = coding_matrix(self.kind, len(levels))[1]
        if names is not None:
            return names
        return labels[1:] if self.kind == "contr.treatment" else labels[:-1]

    @Contrasts.override
    def get_coefficient_row_names(
        self, levels: Sequence[Hashable], reduced_rank: bool = True
    ) -> Sequence[Hashable]:
        return list(levels)

    @Contrasts.override
    def get_drop_field(self, levels: Sequence[Hashable], reduced_rank: bool = True) -> Hashable:
        if reduced_rank:
            return None
        # the level whose column a full-rank coding drops to become reduced rank
        labels = [str(level) for level in levels]
        return labels[-1] if self.kind == "contr.SAS" else labels[0]


def default_contrasts(values: Any) -> str:
    """R's ``options("contrasts")``: treatment for factors, poly for ordered factors."""
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, pd.CategoricalDtype) and dtype.ordered:
        return "contr.poly"
    return "contr.treatment"


class RMaterializer(PandasMaterializer):
    """formulaic's pandas materializer with R's contrasts.

    Parameters (through formulaic's ``materializer_params``)
    ----------
    contrasts : mapping of str to str, optional
        Contrasts by variable name (``{"recipe": "contr.sum"}``), as R's ``contrasts=``.
    """

    REGISTER_NAME = "pylmer_r"

    @override
    def _encode_evaled_factor(self, factor: Any, spec: Any, drop_rows: Any,
                              reduced_rank: bool = False) -> Any:
        # remember which factor is being encoded: contrasts= is keyed by variable name
        self._current_factor = factor.expr
        return super()._encode_evaled_factor(factor, spec, drop_rows, reduced_rank)

    @override
    def _encode_categorical(self, values: Any, metadata: Any, encoder_state: dict,
                            spec: Any, drop_rows: Sequence[int],
                            reduced_rank: bool = False) -> Any:
        if metadata.encoder is not None:  # an explicit C(x, ...) keeps formulaic's handling
            return super()._encode_categorical(values, metadata, encoder_state, spec, drop_rows,
                                               reduced_rank)
        if drop_rows:
            values = drop_nulls(values, indices=drop_rows)
        chosen: Mapping[str, str] = self.params.get("contrasts") or {}
        raw = getattr(values, "__wrapped__", values)
        kind = chosen.get(getattr(self, "_current_factor", None)) or default_contrasts(raw)
        return as_columns(
            encode_contrasts(
                values,
                contrasts=RContrasts(kind),
                # R reduces rank inside the coding (contr.poly is not "drop a column")
                reduced_rank=reduced_rank,
                _metadata=metadata,
                _state=encoder_state,
                _spec=spec,
            )
        )
