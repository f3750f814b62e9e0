"""GLM families as R's ``stats`` package defines them (the links are in
:mod:`pylmer.links`).

``Family`` and its subclasses reproduce ``binomial()``, ``poisson()``, ``Gamma()``,
``inverse.gaussian()`` and ``gaussian()``: variance, deviance residuals, AIC, validity
checks and the ``initialize`` step that turns the response into ``y``, ``weights`` and
``mustart``. Both are immutable values, equal by value and hashable.

lme4's C++ PIRLS kernel (``glmFamily.cpp``) does not call R for the common links: its
inverse links and ``mu.eta`` clamp differently at extreme ``eta`` (and the binomial
variance is bounded below by ``DBL_EPSILON``). Those kernels are ``Link.linkinv_lme4``,
``Link.mu_eta_lme4`` and ``Family.variance_lme4``; they agree with R's functions except
in the tails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np
from scipy import special

from ..exceptions import PylmerError, PylmerWarning, warn_user
from ..links import EPS, Link, finite_positive
from ..links import as_array as _arr

__all__ = [
    "Link", "Family", "Initialized",
    "Binomial", "Poisson", "Gamma", "InverseGaussian", "Gaussian",
    "binomial", "poisson", "inverse_gaussian", "gaussian",
]


class Initialized(NamedTuple):
    """What R's ``family$initialize`` leaves behind: response, prior weights, mustart."""

    y: np.ndarray
    weights: np.ndarray
    mustart: np.ndarray


def _y_log_y(y, mu):
    # R's C y_log_y: y * log(y / mu), defined as 0 when y == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y != 0, y * np.log(y / mu), 0.0)


def _discrete_logpmf(k, valid, inside, formula) -> np.ndarray:
    """A discrete log-density as ``scipy.stats`` gives it: NaN where the parameters are
    invalid or k is NaN, -inf at k outside the support or not an integer, else
    ``formula`` on the values where it applies (scipy.stats itself is left unimported:
    a fit does not need it)."""
    out = np.full(k.shape, -np.inf)
    out[~valid | np.isnan(k)] = np.nan
    good = valid & inside & (np.floor(k) == k)
    out[good] = formula(good)
    return out


def binom_logpmf(k, n, p) -> np.ndarray:
    """``scipy.stats.binom.logpmf(k, n, p)``: its formula and its cases."""
    k, n, p = (np.asarray(a, dtype=float) for a in np.broadcast_arrays(k, n, p))

    def formula(good):
        kk, nn, pp = k[good], n[good], p[good]
        combiln = special.gammaln(nn + 1) - (special.gammaln(kk + 1)
                                             + special.gammaln(nn - kk + 1))
        return combiln + special.xlogy(kk, pp) + special.xlog1py(nn - kk, -pp)

    valid = (n >= 0) & (n == np.round(n)) & (p >= 0) & (p <= 1)
    return _discrete_logpmf(k, valid, (k >= 0) & (k <= n), formula)


def poisson_logpmf(k, mu) -> np.ndarray:
    """``scipy.stats.poisson.logpmf(k, mu)``: its formula and its cases."""
    k, mu = (np.asarray(a, dtype=float) for a in np.broadcast_arrays(k, mu))

    def formula(good):
        kk, mm = k[good], mu[good]
        return special.xlogy(kk, mm) - special.gammaln(kk + 1) - mm

    return _discrete_logpmf(k, mu >= 0, k >= 0, formula)


@dataclass(frozen=True, repr=False)
class Family:
    """A GLM family: distribution and link (R: an object of class ``"family"``).

    Use a subclass: :class:`Binomial`, :class:`Poisson`, :class:`Gamma`,
    :class:`InverseGaussian`, :class:`Gaussian` (or :func:`get_family`).

    Attributes
    ----------
    link : Link
        The link; a link name is accepted and converted.
    family : str
        R's family name (``"binomial"``, ``"Gamma"``, ``"inverse.gaussian"``, ...).
    ok_links : tuple of str
        The links R's constructor lists for this family.
    estimates_dispersion : bool
        Whether the scale is estimated; False for binomial and Poisson (dispersion 1).
    extra : float or None
        The parameter beyond the mean of the families in :mod:`pylmer.family.extra`
        (negative binomial theta, Beta precision; the ordinal thresholds); None for R's GLM
        families, whose ``has_extra`` is False.
    estimates_extra : bool
        Whether the fit estimates ``extra`` (in the outer optimizer, on the log scale).
    laplace : str
        The weights in the Laplace approximation's log-determinant: ``"fisher"`` (lme4's
        PIRLS weights) or ``"exact"`` (the observed information, as glmmTMB).
    """

    link: Link
    family: ClassVar[str] = ""
    ok_links: ClassVar[tuple[str, ...]] = ()
    estimates_dispersion: ClassVar[bool] = True
    extra: ClassVar[float | None] = None
    has_extra: ClassVar[bool] = False  # one of pylmer.family.extra's families
    estimates_extra: ClassVar[bool] = False
    laplace: ClassVar[str] = "fisher"

    def __post_init__(self):
        if type(self) is Family:
            raise TypeError("Family is abstract; use binomial(), poisson(), Gamma(), "
                            "inverse_gaussian() or gaussian()")
        name = self.link.name if isinstance(self.link, Link) else self.link
        if not isinstance(name, str) or name not in self.ok_links:
            raise PylmerError(f"link {name!r} not available for {self.family} family; "
                             "available links are " + ", ".join(map(repr, self.ok_links)))
        object.__setattr__(self, "link", Link(name))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(link={self.link.name!r})"

    def __str__(self) -> str:
        return f"Family: {self.family} \nLink function: {self.link.name}"

    # the link, as R's family object carries it
    def linkfun(self, mu) -> np.ndarray:
        """eta = g(mu) (R: ``family$linkfun``)."""
        return self.link.linkfun(mu)

    def linkinv(self, eta) -> np.ndarray:
        """mu = g^-1(eta) (R: ``family$linkinv``)."""
        return self.link.linkinv(eta)

    def mu_eta(self, eta) -> np.ndarray:
        """d mu / d eta (R: ``family$mu.eta``)."""
        return self.link.mu_eta(eta)

    def valideta(self, eta) -> bool:
        """Whether eta is valid for the link (R: ``family$valideta``)."""
        return self.link.valideta(eta)

    # the distribution
    def variance(self, mu) -> np.ndarray:
        """Variance function V(mu) (R: ``family$variance``)."""
        raise NotImplementedError

    def variance_lme4(self, mu) -> np.ndarray:
        """V(mu) in lme4's C++ kernel (lme4: ``glmDist::variance``); R's but for binomial."""
        return self.variance(mu)

    def validmu(self, mu) -> bool:
        """Whether mu is in the family's domain (R: ``family$validmu``)."""
        return True

    def dev_resids(self, y, mu, wt) -> np.ndarray:
        """Unit deviances times prior weights (R: ``family$dev.resids``)."""
        raise NotImplementedError

    def aic(self, y, n, mu, wt, dev) -> float:
        """-2 log-likelihood (+2 for an estimated scale) (R: ``family$aic``).

        ``y``, ``wt``: the response and weights :meth:`initialize` returns; ``n``: the
        binomial trials (:meth:`n_trials`); ``dev``: the total deviance.
        """
        raise NotImplementedError

    def initialize(self, y, weights=None, *, start_given: bool = False) -> Initialized:
        """Check the response and derive starting means (R: ``family$initialize``).

        Parameters
        ----------
        y : array_like, (n,) or (n, 2)
            The response; two columns (successes, failures) only for binomial.
        weights : array_like, (n,), optional
            Prior weights; ones when omitted.
        start_given : bool
            True when the caller supplies ``start``, ``mustart`` or ``etastart``; only
            gaussian consults it (R skips its starting-value check then).

        Returns
        -------
        Initialized
            ``(y, weights, mustart)``: the response as a vector, the prior weights (times
            the trials for a two-column binomial response) and R's ``mustart``. A response
            outside the family's domain raises ValueError with R's message.
        """
        y = _arr(y)
        weights = np.ones(len(y)) if weights is None else _arr(weights).copy()
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if weights.shape != (len(y),):
            raise PylmerError(f"weights have shape {weights.shape}; need one weight per "
                             f"observation ({len(y)})")
        if y.ndim == 2 and not isinstance(self, Binomial):
            raise PylmerError(f"the response must be a vector for the {self.family!r} "
                             "family; a two-column response is for binomial only")
        return self._initialize(y.copy(), weights, start_given)

    def _initialize(self, y, weights, start_given) -> Initialized:
        return Initialized(y, weights, y.copy())

    def eta_start(self, mustart) -> np.ndarray:
        """The linear predictor PIRLS starts from: ``linkfun(mustart)``, as R's."""
        return self.linkfun(mustart)

    def n_trials(self, y) -> np.ndarray:
        """Binomial trials per observation, R's ``n`` set by ``initialize`` (ones here)."""
        return np.ones(len(_arr(y)))


@dataclass(frozen=True, repr=False)
class Binomial(Family):
    """The binomial family (R: ``binomial(link = "logit")``).

    Links: ``"logit"`` (default), ``"probit"``, ``"cloglog"``, ``"cauchit"``, ``"log"``.
    The response is a 0/1 vector, proportions with the trials as weights, or a
    two-column array of (successes, failures).
    """

    link: Link = Link("logit")
    family: ClassVar[str] = "binomial"
    ok_links: ClassVar[tuple[str, ...]] = ("logit", "probit", "cloglog", "cauchit", "log")
    estimates_dispersion: ClassVar[bool] = False

    def variance(self, mu):
        mu = _arr(mu)
        return mu * (1 - mu)

    def variance_lme4(self, mu):
        return np.maximum(EPS, self.variance(mu))

    def validmu(self, mu):
        mu = _arr(mu)
        return finite_positive(mu) and bool(np.all(mu < 1))

    def dev_resids(self, y, mu, wt):
        y, mu, wt = _arr(y), _arr(mu), _arr(wt)
        return 2 * wt * (_y_log_y(y, mu) + _y_log_y(1 - y, 1 - mu))

    def aic(self, y, n, mu, wt, dev):
        y, n, mu, wt = np.broadcast_arrays(_arr(y), _arr(n), _arr(mu), _arr(wt))
        m = n if np.any(n > 1) else wt
        share = np.divide(wt, m, out=np.zeros_like(wt), where=m > 0)
        return float(-2 * np.sum(share * binom_logpmf(np.round(m * y), np.round(m), mu)))

    def _initialize(self, y, weights, start_given):
        if y.ndim == 1:
            y[weights == 0] = 0
            if np.any((y < 0) | (y > 1)):
                raise PylmerError("y values must be 0 <= y <= 1 (for binomial, give "
                                 "proportions with the trials as weights, or two columns "
                                 "cbind(successes, failures))")
            m = weights * y
            if np.any(np.abs(m - np.round(m)) > 0.001):
                warn_user("non-integer #successes in a binomial glm! (weights * y "
                          "should be whole numbers of successes)", PylmerWarning)
            return Initialized(y, weights, (weights * y + 0.5) / (weights + 1))
        if y.ndim != 2 or y.shape[1] != 2:
            raise PylmerError("for the 'binomial' family, y must be a vector of 0 and 1's or "
                             "a 2 column matrix where col 1 is no. successes and col 2 is "
                             f"no. failures; got shape {y.shape}")
        for j, what in enumerate(("successes (first column)", "failures (second column)")):
            if np.any(y[:, j] < 0):
                raise PylmerError(
                    f"negative counts of {what} in the two-column binomial response; "
                    "the columns are successes and failures: write "
                    "cbind(successes, trials - successes), with successes <= trials")
        if np.any(np.abs(y - np.round(y)) > 0.001):
            warn_user("non-integer counts in a binomial glm!", PylmerWarning)
        n = y[:, 0] + y[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            prop = np.where(n == 0, 0.0, y[:, 0] / n)
        return Initialized(prop, weights * n, (n * prop + 0.5) / (n + 1))

    def n_trials(self, y):
        """R's ``n`` after ``initialize``: successes + failures for a two-column response."""
        y = _arr(y)
        if y.ndim == 2 and y.shape[1] == 2:
            return y[:, 0] + y[:, 1]
        return np.ones(len(y))


@dataclass(frozen=True, repr=False)
class Poisson(Family):
    """The Poisson family (R: ``poisson(link = "log")``); links ``"log"``, ``"sqrt"``,
    ``"identity"``."""

    link: Link = Link("log")
    family: ClassVar[str] = "poisson"
    ok_links: ClassVar[tuple[str, ...]] = ("log", "identity", "sqrt")
    estimates_dispersion: ClassVar[bool] = False

    def variance(self, mu):
        return _arr(mu).copy()

    def validmu(self, mu):
        return finite_positive(_arr(mu))

    def dev_resids(self, y, mu, wt):
        y, mu, wt = np.broadcast_arrays(_arr(y), _arr(mu), _arr(wt))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(y > 0, wt * (y * np.log(y / mu) - (y - mu)), mu * wt)
        return 2 * r

    def aic(self, y, n, mu, wt, dev):
        return float(-2 * np.sum(poisson_logpmf(_arr(y), _arr(mu)) * _arr(wt)))

    def _initialize(self, y, weights, start_given):
        if np.any(y < 0):
            raise PylmerError("negative values not allowed for the 'Poisson' family; "
                             "the response must be counts >= 0")
        fractional = np.abs(y - np.round(y)) > 1e-7 * np.maximum(1.0, np.abs(y))
        if np.any(fractional):
            # R warns once per value from dpois(): "non-integer x = 2.500000"
            shown = ", ".join(f"{v:.6f}" for v in np.unique(y[fractional])[:3])
            warn_user(f"non-integer x = {shown}{' ...' if fractional.sum() > 3 else ''}: "
                      f"{int(fractional.sum())} non-integer counts in a Poisson response",
                      PylmerWarning)
        return Initialized(y, weights, y + 0.1)


@dataclass(frozen=True, repr=False)
class Gamma(Family):
    """The Gamma family (R: ``Gamma(link = "inverse")``); links ``"inverse"``, ``"log"``,
    ``"identity"``."""

    link: Link = Link("inverse")
    family: ClassVar[str] = "Gamma"
    ok_links: ClassVar[tuple[str, ...]] = ("inverse", "log", "identity")

    def variance(self, mu):
        return _arr(mu) ** 2

    def validmu(self, mu):
        return finite_positive(_arr(mu))

    def dev_resids(self, y, mu, wt):
        y, mu, wt = _arr(y), _arr(mu), _arr(wt)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(y == 0, 1.0, y / mu)
        return -2 * wt * (np.log(ratio) - (y - mu) / mu)

    def aic(self, y, n, mu, wt, dev):
        y, mu, wt = np.broadcast_arrays(_arr(y), _arr(mu), _arr(wt))
        disp = dev / np.sum(wt)
        # R: -2 sum(dgamma(y, 1/disp, scale = mu disp, log = TRUE) wt) + 2, the log density
        # written out (scipy.stats' logpdf costs 0.1 ms a call, in every Laplace evaluation)
        shape, scale = 1.0 / disp, mu * disp
        logpdf = (shape - 1.0) * np.log(y) - y / scale - special.gammaln(shape) - shape * np.log(scale)
        return float(-2 * np.sum(logpdf * wt) + 2)

    def _initialize(self, y, weights, start_given):
        if np.any(y <= 0):
            raise PylmerError("non-positive values not allowed for the 'Gamma' family; "
                             "the response must be > 0")
        return Initialized(y, weights, y.copy())


@dataclass(frozen=True, repr=False)
class InverseGaussian(Family):
    """The inverse Gaussian family (R: ``inverse.gaussian(link = "1/mu^2")``); links
    ``"1/mu^2"``, ``"inverse"``, ``"log"``, ``"identity"``."""

    link: Link = Link("1/mu^2")
    family: ClassVar[str] = "inverse.gaussian"
    ok_links: ClassVar[tuple[str, ...]] = ("inverse", "log", "identity", "1/mu^2")

    def variance(self, mu):
        return _arr(mu) ** 3

    def dev_resids(self, y, mu, wt):
        y, mu, wt = _arr(y), _arr(mu), _arr(wt)
        return wt * ((y - mu) ** 2) / (y * mu ** 2)

    def aic(self, y, n, mu, wt, dev):
        y, wt = np.broadcast_arrays(_arr(y), _arr(wt))
        sw = np.sum(wt)
        return float(sw * (1 + np.log(dev / sw * 2 * np.pi)) + 3 * np.sum(np.log(y) * wt) + 2)

    def _initialize(self, y, weights, start_given):
        if np.any(y <= 0):
            raise PylmerError("positive values only are allowed for the 'inverse.gaussian' "
                             "family")
        return Initialized(y, weights, y.copy())


@dataclass(frozen=True, repr=False)
class Gaussian(Family):
    """The Gaussian family (R: ``gaussian(link = "identity")``); links ``"identity"``,
    ``"log"``, ``"inverse"``."""

    link: Link = Link("identity")
    family: ClassVar[str] = "gaussian"
    ok_links: ClassVar[tuple[str, ...]] = ("inverse", "log", "identity")

    def variance(self, mu):
        return np.ones_like(_arr(mu))

    def dev_resids(self, y, mu, wt):
        y, mu, wt = _arr(y), _arr(mu), _arr(wt)
        return wt * ((y - mu) ** 2)

    def aic(self, y, n, mu, wt, dev):
        y, wt = np.broadcast_arrays(_arr(y), _arr(wt))
        nobs = y.size
        return float(nobs * (np.log(dev / nobs * 2 * np.pi) + 1) + 2 - np.sum(np.log(wt)))

    def _initialize(self, y, weights, start_given):
        name = self.link.name
        if not start_given and ((name == "inverse" and np.any(y == 0))
                                or (name == "log" and np.any(y <= 0))):
            raise PylmerError("cannot find valid starting values: please specify some "
                             f"(the {name} link needs y {'!= 0' if name == 'inverse' else '> 0'}"
                             "; give start, mustart or etastart)")
        return Initialized(y, weights, y.copy())


# R's spellings (R's Gamma is the class itself)
binomial = Binomial
poisson = Poisson
inverse_gaussian = InverseGaussian
gaussian = Gaussian
