"""The cumulative-link family of ordinal regression (R: ``ordinal::clm``'s ``cumulative``).

For an ordered response with categories 1..J and thresholds alpha_1 < ... < alpha_{J-1},
``P(Y <= j | eta) = F(alpha_j - eta)``, F the logistic (``logit``), standard normal
(``probit``) or ``1 - exp(-exp(x))`` (``cloglog``) distribution function. Each observation
has one linear predictor, so the family plugs into the PIRLS engine as the others do: the
score and the observed information of ``log P(Y = y | eta)`` in eta (both computed here;
the log-likelihood is concave in eta for these three links) give the Newton step for the
conditional modes, and the observed information is also the Laplace weight (ordinal's
Laplace uses the exact Hessian).

The thresholds are the family's extra parameter, seen by the optimizer as
``(alpha_1, log(alpha_2 - alpha_1), ...)`` so that they stay ordered. "mu" is the
probability of the observed category (ordinal's ``fitted()``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np
from scipy import special

from .._response import EXPECTED_FLOOR_VALUE as EXPECTED_FLOOR
from .._response import LINKS as LINK_CODES
from .._response import cumulative_parts
from ..exceptions import PylmerError
from ..links import EPS, Link
from .extra import ExtraFamily
from .glm import Initialized

__all__ = ["Cumulative"]

_TINY = 1e-300


@dataclass(frozen=True, repr=False)
class Cumulative(ExtraFamily):
    """Cumulative-link model for an ordered response (``ordinal::clmm``'s model).

    ``y`` holds the category codes 0..J-1; ``thresholds`` are alpha_1..alpha_{J-1}
    (estimated when None); ``levels`` names the categories (for the thresholds' names
    ``"1|2"``, ``"2|3"``, ...).
    """

    link: Link = Link("logit")
    thresholds: tuple | None = None
    levels: tuple = field(default=(), compare=True)
    family: ClassVar[str] = "cumulative"
    ok_links: ClassVar[tuple[str, ...]] = ("logit", "probit", "cloglog")
    estimates_dispersion: ClassVar[bool] = False
    extra_name: ClassVar[str] = "thresholds"
    laplace: ClassVar[str] = "exact"
    newton_pirls: ClassVar[bool] = True  # concave in eta: PIRLS is Newton's method

    def __post_init__(self):
        super(ExtraFamily, self).__post_init__()  # the link; thresholds are checked here
        th = self.thresholds
        if th is not None:
            th = tuple(float(a) for a in np.ravel(th))
            if not np.all(np.isfinite(th)) or np.any(np.diff(th) <= 0):
                raise PylmerError("thresholds must be finite and increasing")
            object.__setattr__(self, "thresholds", th)
        if self.estimated is None:
            object.__setattr__(self, "estimated", th is None)

    def __repr__(self) -> str:
        th = "estimated" if self.thresholds is None else \
            "(" + ", ".join(f"{a:.6g}" for a in self.thresholds) + ")"
        return f"Cumulative(link={self.link.name!r}, thresholds={th}, levels={self.levels})"

    @property
    def n_par(self) -> int:  # type: ignore[override]
        return max(len(self.levels) - 1, 1)

    @property
    def threshold_names(self) -> list[str]:
        lev = self.levels
        return [f"{lev[j]}|{lev[j + 1]}" for j in range(len(lev) - 1)]

    @property
    def bounds(self) -> np.ndarray:
        """(-inf, thresholds, +inf)."""
        return np.concatenate([[-np.inf], self._value(), [np.inf]])

    def with_extra(self, value) -> Cumulative:
        return replace(self, thresholds=tuple(np.ravel(value)), estimated=self.estimated)

    def extra_par(self) -> np.ndarray:
        a = np.asarray(self._value())
        return np.concatenate([a[:1], np.log(np.diff(a))])

    def with_par(self, par) -> Cumulative:
        # increasing by construction: a copy with the thresholds set, no checks (the
        # optimizer calls this at every evaluation)
        par = np.asarray(par, dtype=float)
        out = copy.copy(self)
        object.__setattr__(out, "thresholds", tuple(np.cumsum(np.concatenate(
            [par[:1], np.exp(par[1:])])).tolist()))
        return out

    def extra_start(self, y, pw) -> tuple:
        """ordinal's start: the link's quantiles of the cumulative proportions."""
        J = len(self.levels)
        counts = np.bincount(y.astype(int), weights=pw, minlength=J)
        cum = np.cumsum(counts)[:-1] / np.sum(counts)
        q = {"logit": special.logit, "probit": special.ndtri,
             "cloglog": lambda p: np.log(-np.log1p(-p))}[self.link.name](cum)
        return tuple(q)

    def codes(self, values) -> np.ndarray:
        """Category codes 0..J-1 of a response given as a Categorical (with these levels)
        or as labels; a value that is no level is a clear error."""
        import pandas as pd

        series = pd.Series(values) if not isinstance(values, pd.Series) else values
        if isinstance(series.dtype, pd.CategoricalDtype):
            if [str(c) for c in series.cat.categories] != list(self.levels):
                raise PylmerError(f"the new response's categories {list(series.cat.categories)}"
                                  f" are not the model's {list(self.levels)}")
            return series.cat.codes.to_numpy().astype(float)
        labels = np.array([str(int(v)) if isinstance(v, (int, float, np.integer, np.floating))
                           and float(v).is_integer() else str(v) for v in series])
        lookup = {lev: j for j, lev in enumerate(self.levels)}
        unknown = sorted(set(labels) - set(lookup))
        if unknown:
            raise PylmerError(f"response values {unknown[:5]} are not categories of the "
                              f"model ({list(self.levels)})")
        return np.array([lookup[v] for v in labels], dtype=float)

    def eta_start(self, mustart) -> np.ndarray:
        return np.zeros(len(mustart))

    # ------------------------------------------------------------------ the density
    def _parts(self, y, eta, expected: bool = False):
        """P(Y = y | eta), the score and the observed information in eta (and the expected
        information), in one compiled pass (eta of any shape)."""
        eta = np.asarray(eta, dtype=float)
        y = np.broadcast_to(np.asarray(y, dtype=float), eta.shape)
        parts = cumulative_parts(LINK_CODES[self.link.name], self.bounds,
                                 np.ascontiguousarray(y).reshape(-1),
                                 np.ascontiguousarray(eta).reshape(-1), expected)
        return tuple(None if a is None else a.reshape(eta.shape) for a in parts)

    def mean(self, y, eta):
        """The probability of the observed category (ordinal's ``fitted()``)."""
        return self._parts(y, eta)[0]

    def working(self, y, pw, eta, mu=None):
        """Newton weights (the observed information), floored at a share of the expected
        information: far from the modes the observed one can be nearly 0 where the
        expected one is not, and a Newton step there is too long to halve back."""
        P, score, info, expected = self._parts(y, eta, expected=True)
        # the expected information: sum_j (f(alpha_j - eta) - f(alpha_{j-1} - eta))^2 / P_j
        w = pw * np.maximum(info, np.maximum(EXPECTED_FLOOR * expected, EPS))
        # an observation of prior weight 0 has no weight and no score
        return P, w, np.divide(pw * score, w, out=np.zeros_like(score), where=w > 0)

    def laplace_weights(self, y, pw, eta):
        return pw * self._parts(y, eta)[2]

    def category_probabilities(self, eta) -> np.ndarray:
        """(n, J) probabilities of every category at each linear predictor."""
        eta = np.asarray(eta, dtype=float)
        return np.column_stack([self._parts(np.full(eta.shape, j), eta)[0]
                                for j in range(len(self.levels))])

    def draw(self, eta, weights, rng):
        """Categories drawn at eta, as an ordered pandas Categorical."""
        import pandas as pd

        cum = np.cumsum(self.category_probabilities(eta), axis=1)
        codes = np.sum(rng.random(len(cum))[:, None] > cum[:, :-1], axis=1)
        return pd.Categorical.from_codes(codes, categories=list(self.levels), ordered=True)

    # ------------------------------------------------------------------ R's family API
    def dev_resids(self, y, mu, wt):
        """-2 wt log P(Y = y): the saturated model predicts every category exactly."""
        return -2.0 * np.asarray(wt) * np.log(np.maximum(np.asarray(mu), _TINY))

    def aic(self, y, n, mu, wt, dev):
        return float(np.sum(self.dev_resids(y, mu, wt)))

    def loglik(self, y, mu):
        return np.log(np.maximum(np.asarray(mu), _TINY))

    def _initialize(self, y, weights, start_given):
        J = len(self.levels)
        if J < 2:
            raise PylmerError("an ordinal response needs at least 2 categories")
        if np.any((y < 0) | (y >= J) | (y != np.round(y))):
            raise PylmerError("the cumulative family's response must be category codes "
                              f"0..{J - 1}")
        counts = np.bincount(y.astype(int), weights=weights, minlength=J)
        if np.any(counts <= 0):
            empty = [str(self.levels[j]) for j in np.flatnonzero(counts == 0)]
            raise PylmerError(f"response categories {', '.join(map(repr, empty))} have no "
                              "observations (of positive weight): their thresholds cannot be "
                              "estimated; drop "
                              "unused levels (or merge categories) first")
        return Initialized(y, weights, np.full(len(y), 0.5))
