"""Families with a parameter beyond the mean: negative binomial and Beta.

- :class:`NBinom2` (glmmTMB's ``nbinom2``): Var = mu + mu^2 / theta, theta the NB size;
- :class:`NBinom1` (glmmTMB's ``nbinom1``): Var = mu (1 + phi), size mu / phi;
- :class:`NegativeBinomial` (MASS's ``negative.binomial(theta)``, and lme4's
  ``glmer.nb``): the NB2 distribution with lme4's Laplace approximation;
- :class:`BetaFamily` (glmmTMB's ``beta_family``): shape1 = mu phi, shape2 = (1 - mu) phi.

The extra parameter is fixed when given and otherwise estimated by the fit, on the log
scale in the outer optimizer beside theta (and beta). A family is an immutable value: the
fit returns a copy holding the estimate (:meth:`ExtraFamily.with_extra`).

PIRLS only needs the score of the log-likelihood in eta and positive weights; the conditional
modes do not depend on which weights. The Laplace approximation's log-determinant does:
``laplace = "exact"`` uses the observed information at the modes (glmmTMB, ordinal),
``"fisher"`` the expected information, lme4's PIRLS weights (``glmer.nb``,
``negative.binomial``). For NB2 with the log link the two are
``mu theta (y + theta) / (mu + theta)^2`` and ``mu theta / (mu + theta)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np
from scipy import special

from .._families import trigamma
from ..exceptions import PylmerError
from ..links import EPS, Link
from ..links import as_array as _arr
from .glm import Family, Initialized

__all__ = ["ExtraFamily", "NBinom2", "NBinom1", "NegativeBinomial", "BetaFamily",
           "nbinom2", "nbinom1", "negative_binomial", "beta_family"]

# where PIRLS's Newton weights (the observed information) fall below this share of the
# expected information, the expected one is used: any positive weights lead to the same
# modes, and the observed information can be negative far from them
_NEWTON_FLOOR = 0.05


def _dmu_eta(name: str, eta, mu, mu_eta):
    """d^2 mu / d eta^2 for the links of these families."""
    if name == "log":
        return mu
    if name == "logit":
        return mu_eta * (1.0 - 2.0 * mu)
    if name == "probit":
        return -eta * mu_eta
    if name == "cloglog":
        return mu_eta * (1.0 - np.exp(eta))
    if name == "sqrt":
        return np.full_like(eta, 2.0)
    return np.zeros_like(eta)  # identity


def _check_positive(value, name: str, family: str):
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise PylmerError(f"{name}={value!r} for the {family} family: give a positive "
                          "number (or leave it out to estimate it)") from None
    if not np.isfinite(v) or v <= 0:
        raise PylmerError(f"{name}={value!r} for the {family} family: {name} must be a "
                          "finite number > 0")
    return v


@dataclass(frozen=True, repr=False)
class ExtraFamily(Family):
    """A family with one parameter beyond the mean (``extra``), fixed or estimated.

    Subclasses give the log density and its first two derivatives in mu; the working
    weights, the Laplace weights, the deviance residuals and the AIC follow here.
    """

    extra_name: ClassVar[str] = ""
    has_extra: ClassVar[bool] = True
    df_scale: ClassVar[int] = 0
    estimated: bool | None = field(default=None, kw_only=True)

    def __post_init__(self):
        # the parameter first: NegativeBinomial's R name prints it
        label = type(self).family if isinstance(type(self).family, str) else \
            "negative binomial"
        value = _check_positive(getattr(self, self.extra_name), self.extra_name, label)
        object.__setattr__(self, self.extra_name, value)
        super().__post_init__()
        if self.estimated is None:
            object.__setattr__(self, "estimated", value is None)

    def __repr__(self) -> str:
        value = self.extra
        shown = "estimated" if value is None else f"{value:.6g}"
        return (f"{type(self).__name__}(link={self.link.name!r}, {self.extra_name}={shown}"
                f"{', estimated' if self.estimated and value is not None else ''})")

    @property
    def extra(self) -> float | None:  # type: ignore[override]
        return getattr(self, self.extra_name)

    @property
    def estimates_extra(self) -> bool:  # type: ignore[override]
        return bool(self.estimated)

    def with_extra(self, value: float) -> ExtraFamily:
        """A copy with the extra parameter set to ``value`` (still marked as estimated
        when this family's is)."""
        return replace(self, **{self.extra_name: float(value)}, estimated=self.estimated)

    # the optimizer's view: unconstrained coordinates of the extra parameter
    n_par: ClassVar[int] = 1

    def extra_par(self) -> np.ndarray:
        """The extra parameter as the optimizer sees it (here its log)."""
        return np.log([self._value()])

    def with_par(self, par) -> ExtraFamily:
        """A copy with the extra parameter at the optimizer's coordinates ``par``."""
        return self.with_extra(float(np.exp(par[0])))

    def _value(self) -> float:
        value = self.extra
        if value is None:
            raise PylmerError(f"the {self.family} family's {self.extra_name} is not set; "
                              "it is estimated by fitting the model")
        return value

    # distribution pieces, on the mean scale (no prior weights)
    def loglik(self, y, mu) -> np.ndarray:
        """Log density of each observation."""
        raise NotImplementedError

    def _score_mu(self, y, mu):
        raise NotImplementedError

    def _info_mu(self, mu):
        """Positive weights on the mean scale: the expected information (1/Var for NB2)."""
        raise NotImplementedError

    def _curv_mu(self, y, mu):
        """-d^2 loglik / d mu^2."""
        raise NotImplementedError

    def _saturated(self, y):
        """The mean at which ``loglik`` is largest for each y (for the deviance)."""
        return y

    def extra_start(self, y, pw) -> float:
        """A starting value for the estimated parameter, from the moments of y."""
        raise NotImplementedError

    # ------------------------------------------------------------------ for PIRLS
    def mean(self, y, eta):
        """The fitted value at eta for responses y (the mean; see the ordinal family)."""
        return self.mu_of(eta)

    def mu_of(self, eta):
        mu = self.link.linkinv_lme4(eta)
        return self._clamp(mu)

    def _clamp(self, mu):
        return np.maximum(mu, EPS) if self.link.name != "identity" else mu

    def working(self, y, pw, eta, mu=None):
        """(mu, PIRLS weights, score / weight): the working response is eta + the last."""
        if mu is None:
            mu = self.mu_of(eta)
        mu_eta = self.link.mu_eta_lme4(eta)
        fisher = pw * self._info_mu(mu) * mu_eta * mu_eta
        score = pw * self._score_mu(y, mu) * mu_eta
        if self.laplace == "exact":
            w = np.maximum(self._observed(y, pw, eta, mu, mu_eta), _NEWTON_FLOOR * fisher)
        else:
            w = fisher
        # an observation of prior weight 0 has no weight and no score
        return mu, w, np.divide(score, w, out=np.zeros_like(score), where=w > 0)

    def _observed(self, y, pw, eta, mu, mu_eta):
        curv = self._curv_mu(y, mu) * mu_eta * mu_eta
        return pw * (curv - self._score_mu(y, mu) * _dmu_eta(self.link.name, eta, mu,
                                                              mu_eta))

    def laplace_weights(self, y, pw, eta):
        """The weights of the Laplace log-determinant at the modes' eta."""
        mu = self.mu_of(eta)
        mu_eta = self.link.mu_eta_lme4(eta)
        if self.laplace == "exact":
            return self._observed(y, pw, eta, mu, mu_eta)
        return pw * self._info_mu(mu) * mu_eta * mu_eta

    def draw(self, eta, weights, rng) -> np.ndarray:
        """Responses drawn at linear predictors eta (``simulate``)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ R's family API
    def dev_resids(self, y, mu, wt):
        """2 wt (loglik at the saturated mean - loglik at mu)."""
        y, mu, wt = _arr(y), _arr(mu), _arr(wt)
        return 2.0 * wt * (self.loglik(y, self._saturated(y)) - self.loglik(y, mu))

    def aic(self, y, n, mu, wt, dev):
        """-2 log-likelihood (R's family ``aic``; no term for the extra parameter)."""
        return float(-2.0 * np.sum(_arr(wt) * self.loglik(_arr(y), _arr(mu))))


class _NBCounts:
    """Counts: non-negative whole numbers (a clear error otherwise)."""

    def _initialize(self, y, weights, start_given):
        if not np.all(np.isfinite(y)) or np.any(y < 0):
            raise PylmerError(f"negative values are not allowed for the {self.family} "
                              "family: the response must be counts >= 0")
        if np.any(np.abs(y - np.round(y)) > 1e-7 * np.maximum(1.0, np.abs(y))):
            bad = np.unique(y[np.abs(y - np.round(y)) > 1e-7 * np.maximum(1.0, np.abs(y))])
            raise PylmerError(f"non-integer counts ({', '.join(f'{v:g}' for v in bad[:3])}"
                              f"{' ...' if len(bad) > 3 else ''}) for the {self.family} "
                              "family: the response must be whole numbers; for continuous "
                              "positive responses use Gamma()")
        if not np.any(y[weights > 0] > 0):
            raise PylmerError(f"the response is 0 everywhere: the {self.family} family has "
                              "nothing to model")
        return Initialized(y, weights, y + (y == 0) / 6.0)  # MASS's negative.binomial

    @staticmethod
    def _moments(y, pw):
        w = pw / np.sum(pw)
        m = float(np.sum(w * y))
        return m, float(np.sum(w * (y - m) ** 2))


@dataclass(frozen=True, repr=False)
class NBinom2(_NBCounts, ExtraFamily):
    """Negative binomial with Var = mu + mu^2 / theta (glmmTMB: ``nbinom2()``).

    theta (the NB size) is estimated unless given; the Laplace approximation uses the
    observed information, as glmmTMB's. ``sigma(m)`` returns theta.
    """

    link: Link = Link("log")
    theta: float | None = None
    family: ClassVar[str] = "nbinom2"
    # glmmTMB's default. With sqrt (mu = eta^2) the penalized likelihood has a mirror mode
    # at negative eta, and Newton's method can end there; glmer_nb and negative_binomial
    # (Fisher scoring) take sqrt and identity
    ok_links: ClassVar[tuple[str, ...]] = ("log",)
    estimates_dispersion: ClassVar[bool] = False
    extra_name: ClassVar[str] = "theta"
    laplace: ClassVar[str] = "exact"

    def variance(self, mu):
        mu = _arr(mu)
        return mu + mu * mu / self._value()

    def validmu(self, mu):
        mu = _arr(mu)
        return bool(np.all(np.isfinite(mu)) and np.all(mu > 0))

    def loglik(self, y, mu):
        th = self._value()
        # log1p: theta can run far above mu when the counts are not overdispersed
        return (special.gammaln(y + th) - special.gammaln(th) - special.gammaln(y + 1)
                - th * np.log1p(mu / th) + special.xlogy(y, mu / (th + mu)))

    def _score_mu(self, y, mu):
        th = self._value()
        return th * (y - mu) / (mu * (th + mu))

    def _info_mu(self, mu):
        th = self._value()
        return th / (mu * (th + mu))

    def _curv_mu(self, y, mu):
        th = self._value()
        return y / (mu * mu) - (y + th) / ((th + mu) ** 2)

    def dev_resids(self, y, mu, wt):
        """MASS's ``negative.binomial()$dev.resids``."""
        y, mu, wt = _arr(y), _arr(mu), _arr(wt)
        th = self._value()
        return 2.0 * wt * (special.xlogy(y, np.maximum(1.0, y) / mu)
                           - (y + th) * np.log1p((y - mu) / (mu + th)))

    def extra_start(self, y, pw):
        m, v = self._moments(y, pw)
        return float(np.clip(m * m / (v - m), 0.05, 1e3)) if v > m * (1 + 1e-6) else 1e3

    def draw(self, eta, weights, rng):
        th = self._value()
        mu = self.mu_of(eta)
        return rng.negative_binomial(th, th / (th + mu)).astype(float)


@dataclass(frozen=True, repr=False)
class NegativeBinomial(NBinom2):
    """MASS's ``negative.binomial(theta)`` (lme4: ``glmer(..., family =
    negative.binomial(theta))``), and with theta estimated, lme4's ``glmer.nb``.

    The distribution is :class:`NBinom2`'s; the Laplace approximation is lme4's (PIRLS
    weights in the log-determinant). Its R name carries theta:
    ``"Negative Binomial(3.1234)"``.
    """

    laplace: ClassVar[str] = "fisher"
    ok_links: ClassVar[tuple[str, ...]] = ("log", "sqrt", "identity")  # MASS's
    # lme4 counts a scale parameter for this family in logLik's df (useSc), theta
    # estimated or not
    df_scale: ClassVar[int] = 1

    @property
    def family(self) -> str:  # type: ignore[override]
        th = self.theta
        return "Negative Binomial(" + ("NA" if th is None else _r_round4(th)) + ")"


def _r_round4(x: float) -> str:
    """R's ``format(round(x, 4))``: up to 7 significant digits, no trailing zeros."""
    return f"{float(np.round(x, 4)):.7g}"


@dataclass(frozen=True, repr=False)
class NBinom1(_NBCounts, ExtraFamily):
    """Negative binomial with Var = mu (1 + phi) (glmmTMB: ``nbinom1()``), size mu / phi.

    phi is estimated unless given; the Laplace approximation uses the observed
    information, as glmmTMB's. ``sigma(m)`` returns phi.
    """

    link: Link = Link("log")
    phi: float | None = None
    family: ClassVar[str] = "nbinom1"
    ok_links: ClassVar[tuple[str, ...]] = ("log",)
    estimates_dispersion: ClassVar[bool] = False
    extra_name: ClassVar[str] = "phi"
    laplace: ClassVar[str] = "exact"

    def variance(self, mu):
        return _arr(mu) * (1.0 + self._value())

    def loglik(self, y, mu):
        phi = self._value()
        k = mu / phi
        return (special.gammaln(y + k) - special.gammaln(k) - special.gammaln(y + 1)
                - k * np.log1p(phi) + y * (np.log(phi) - np.log1p(phi)))

    def _saturated(self, y):
        return np.maximum(y, EPS)

    def _score_mu(self, y, mu):
        phi = self._value()
        k = mu / phi
        return (special.digamma(y + k) - special.digamma(k) - np.log1p(phi)) / phi

    def _info_mu(self, mu):
        # 1 / Var: not the expected information of this distribution, but positive, and
        # PIRLS only needs positive weights
        return 1.0 / (mu * (1.0 + self._value()))

    def _curv_mu(self, y, mu):
        phi = self._value()
        k = mu / phi
        return -(trigamma(y + k) - trigamma(k)) / (phi * phi)

    def extra_start(self, y, pw):
        m, v = self._moments(y, pw)
        return float(np.clip(v / max(m, EPS) - 1.0, 0.01, 100.0))

    def draw(self, eta, weights, rng):
        phi = self._value()
        return rng.negative_binomial(self.mu_of(eta) / phi, 1.0 / (1.0 + phi)).astype(float)


@dataclass(frozen=True, repr=False)
class BetaFamily(ExtraFamily):
    """Beta regression (glmmTMB: ``beta_family()``): mean mu, precision phi, shapes
    mu phi and (1 - mu) phi, Var = mu (1 - mu) / (1 + phi).

    Links ``"logit"`` (default), ``"probit"``, ``"cloglog"``. phi is estimated unless
    given; ``sigma(m)`` returns it. The response must lie strictly inside (0, 1).
    """

    link: Link = Link("logit")
    phi: float | None = None
    family: ClassVar[str] = "beta"
    ok_links: ClassVar[tuple[str, ...]] = ("logit", "probit", "cloglog")
    estimates_dispersion: ClassVar[bool] = False
    extra_name: ClassVar[str] = "phi"
    laplace: ClassVar[str] = "exact"

    def _clamp(self, mu):
        return np.clip(mu, EPS, 1.0 - EPS)

    def variance(self, mu):
        mu = _arr(mu)
        return mu * (1.0 - mu) / (1.0 + self._value())

    def validmu(self, mu):
        mu = _arr(mu)
        return bool(np.all(mu > 0) and np.all(mu < 1))

    def loglik(self, y, mu):
        phi = self._value()
        a, b = mu * phi, (1.0 - mu) * phi
        return (special.gammaln(phi) - special.gammaln(a) - special.gammaln(b)
                + (a - 1.0) * np.log(y) + (b - 1.0) * np.log1p(-y))

    def _score_mu(self, y, mu):
        phi = self._value()
        return phi * (np.log(y) - np.log1p(-y) - special.digamma(mu * phi)
                      + special.digamma((1.0 - mu) * phi))

    def _info_mu(self, mu):
        phi = self._value()
        return phi * phi * (trigamma(mu * phi)
                            + trigamma((1.0 - mu) * phi))

    def _curv_mu(self, y, mu):
        return self._info_mu(mu)

    def _initialize(self, y, weights, start_given):
        outside = ~((y > 0) & (y < 1))
        if np.any(outside):
            shown = ", ".join(f"{v:g}" for v in np.unique(y[outside])[:3])
            raise PylmerError(
                f"the beta family needs a response strictly between 0 and 1; "
                f"{int(outside.sum())} values are outside (0, 1): {shown}. Values of 0 or 1 "
                "can be squeezed inside, e.g. (y * (n - 1) + 0.5) / n with n the number of "
                "observations (Smithson and Verkuilen, 2006)")
        return Initialized(y, weights, y.copy())

    def extra_start(self, y, pw):
        w = pw / np.sum(pw)
        m = float(np.sum(w * y))
        v = float(np.sum(w * (y - m) ** 2))
        return float(np.clip(m * (1.0 - m) / max(v, EPS) - 1.0, 0.5, 1e4))

    def draw(self, eta, weights, rng):
        phi, mu = self._value(), self.mu_of(eta)
        return np.clip(rng.beta(mu * phi, (1.0 - mu) * phi), EPS, 1.0 - EPS)


def nbinom2(link: str = "log", theta: float | None = None) -> NBinom2:
    """glmmTMB's ``nbinom2()``: negative binomial, Var = mu + mu^2 / theta, theta estimated
    (or fixed at ``theta``)."""
    return NBinom2(link, theta=theta)


def nbinom1(link: str = "log", phi: float | None = None) -> NBinom1:
    """glmmTMB's ``nbinom1()``: negative binomial, Var = mu (1 + phi), phi estimated (or
    fixed at ``phi``)."""
    return NBinom1(link, phi=phi)


def negative_binomial(theta: float, link: str = "log") -> NegativeBinomial:
    """MASS's ``negative.binomial(theta)``: the negative binomial family with theta fixed,
    as lme4's ``glmer`` takes it (lme4's Laplace approximation)."""
    if theta is None:
        raise PylmerError("negative_binomial() needs theta, a number > 0; to estimate theta "
                          "use glmer_nb(), or glmer(..., family=nbinom2())")
    return NegativeBinomial(link, theta=_check_positive(theta, "theta", "negative binomial"))


def beta_family(link: str = "logit", phi: float | None = None) -> BetaFamily:
    """glmmTMB's ``beta_family()``: Beta regression with precision phi estimated (or fixed
    at ``phi``)."""
    return BetaFamily(link, phi=phi)
