"""Influence by exact deletion (R: lme4's ``influence.merMod``): the model refitted without
each observation, or each level of a grouping column, started at the full fit's theta."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..exceptions import PylmerError
from ..formula.frame import as_pandas
from ..validate import check_bool, check_model
from .refit import update

__all__ = ["Influence", "influence"]


class Influence:
    """The fixed effects of the model refitted without each unit (R: the value of
    ``influence(m, groups)``).

    Attributes
    ----------
    fixef_deleted : pandas.DataFrame
        One row per deleted unit (its label), one column per fixed effect.
    vcov_deleted : list of numpy.ndarray
        The deleted fits' covariance matrices of the fixed effects.
    fixef : pandas.Series
        The full fit's fixed effects; ``vcov`` its covariance matrix.
    """

    def __init__(self, fixef, vcov, fixef_deleted, vcov_deleted):
        self.fixef, self.vcov = fixef, vcov
        self.fixef_deleted, self.vcov_deleted = fixef_deleted, vcov_deleted

    def dfbeta(self) -> pd.DataFrame:
        """Changes of the fixed effects when each unit is deleted: ``beta(-i) - beta``."""
        return self.fixef_deleted - self.fixef.to_numpy()

    def dfbetas(self) -> pd.DataFrame:
        """The changes scaled by each deleted fit's standard errors (R: ``dfbetas``)."""
        se = np.sqrt(np.array([np.diag(v) for v in self.vcov_deleted]))
        return self.dfbeta() / se

    def cooks_distance(self) -> pd.Series:
        """Cook's distance of each unit (R: ``cooks.distance(influence(m))``):
        ``db' [(n - p) / (n p) V^-1] db``, n the number of deleted units, p the number of
        fixed effects, V the full fit's covariance."""
        db = self.dfbeta().to_numpy()
        n, p = db.shape
        Vinv = np.linalg.inv(self.vcov)
        d = (n - p) / (n * p) * np.einsum("ij,jk,ik->i", db, Vinv, db)
        return pd.Series(d, index=self.fixef_deleted.index, name="cooks_distance")


def influence(model, groups: str | None = None, progress: bool = False) -> Influence:
    """Refit the model without each observation, or without each level of the column
    ``groups``, started at the full fit's theta (R: lme4's ``influence(m, groups)``).

    Unlike :func:`pylmer.cooks_distance` (the hat-value approximation, lme4's
    ``cooks.distance(m)``), these are exact deletions: each refit estimates the variance
    components again (lme4 issues 672, 693 discuss the difference). Units are the levels
    of ``groups`` in order of first appearance in the data, or the observations (labels
    ``"1"``, ``"2"``, ... as R's row names).
    """
    check_model(model)
    progress = check_bool(progress, "progress")
    lf = model.lf
    data = as_pandas((lf.call or {}).get("data"))
    used = np.asarray(lf.rows)
    if groups is None:
        labels = [str(r + 1) for r in used]
        masks = [np.arange(len(data)) != r for r in used]
    else:
        if groups not in data.columns:
            raise PylmerError(f"groups={groups!r} is not a column of the model's data")
        column = data[groups].to_numpy()[used]
        levels = list(dict.fromkeys(column.tolist()))  # order of first appearance
        labels = [str(v) for v in levels]
        values = data[groups].to_numpy()
        masks = [values != v for v in levels]
    start = {"theta": model.theta}
    rows, vcovs = [], []
    for mask in tqdm(masks, desc="influence", unit="refit", file=sys.stderr,
                     disable=not progress):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the deleted fits' own messages
            fit = update(model, data=data[mask], start=start)
        rows.append(fit.fixef().reindex(model.fixef().index).to_numpy())
        vcovs.append(fit.vcov().reindex(index=model.fixef().index,
                                        columns=model.fixef().index).to_numpy())
    deleted = pd.DataFrame(rows, index=labels, columns=list(model.fixef().index))
    return Influence(model.fixef(), model.vcov().to_numpy(), deleted, vcovs)
