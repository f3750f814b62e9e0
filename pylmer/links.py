"""Link functions as R's ``make.link()`` defines them (logit from R's C code, clamping
included), with lme4's own kernels for the common links.

lme4's C++ PIRLS kernel (``glmFamily.cpp``) does not call R for the common links: its
inverse links and ``mu.eta`` clamp differently at extreme ``eta``. Those kernels are
``Link.linkinv_lme4`` and ``Link.mu_eta_lme4``; they agree with R's functions except in
the tails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import special

from .exceptions import PylmerError

__all__ = ["EPS", "Link", "as_array", "finite_positive"]

EPS = np.finfo(float).eps  # R: .Machine$double.eps, C: DBL_EPSILON
_LOGIT_THRESH = 30.0  # R's family.c: THRESH / MTHRESH
_PROBIT_THRESH = 8.125890664701906  # R: -qnorm(.Machine$double.eps) (scipy's is 1 ulp off)
_CAUCHIT_THRESH = 1433540284805664.8  # R: -qcauchy(.Machine$double.eps)
_M_1_SQRT_2PI = 0.398942280401432677939946059934


def as_array(x) -> np.ndarray:
    """x as a float array."""
    return np.asarray(x, dtype=float)


# --------------------------------------------------------- R's nmath densities and cdfs

def _dnorm(x):
    """R's ``dnorm(x)`` (nmath dnorm4), splitting x in the tail to keep precision."""
    x = np.abs(x)
    x1 = np.ldexp(np.round(np.ldexp(x, 16)), -16)
    x2 = x - x1
    tail = _M_1_SQRT_2PI * (np.exp(-0.5 * x1 * x1) * np.exp((-0.5 * x2 - x1) * x2))
    return np.where(x < 5, _M_1_SQRT_2PI * np.exp(-0.5 * x * x), tail)


def _pcauchy(x):
    """R's ``pcauchy(x)``: atan(1/x) in the tails, where 0.5 + atan(x)/pi loses digits."""
    y = np.arctan(1 / x) / np.pi
    return np.where(np.abs(x) > 1, np.where(x > 0, 0.5 - y + 0.5, -y), 0.5 + np.arctan(x) / np.pi)


def _tanpi(p):
    # R's tanpi for p in [0, 1/2]: exact at 1/4, where tan(pi / 4) is 1 ulp short of 1
    return np.where(p == 0.25, 1.0, np.tan(np.pi * p))


def _qcauchy(p):
    """R's ``qcauchy(p)``: -1/tan(pi p), reflected for p > 1/2."""
    q = np.where(p > 0.5, 1 / _tanpi(1 - p), -1 / _tanpi(p))
    return np.where(p == 0.5, 0.0, q)


def _dcauchy(x):
    return 1 / (np.pi * (1 + x * x))


# ------------------------------------------------------------------------ link functions

def _logit_linkfun(mu):
    bad = (mu < 0) | (mu > 1)
    if np.any(bad):
        raise PylmerError(f"logit link: value {mu[bad][0]:g} out of range (0, 1); "
                         "mu must be a probability")
    return np.log(mu / (1 - mu))


def _logit_linkinv(eta):
    # R's C logit_linkinv: exp(eta) replaced by DBL_EPSILON / 1/DBL_EPSILON beyond +-30
    tmp = np.where(eta < -_LOGIT_THRESH, EPS,
                   np.where(eta > _LOGIT_THRESH, 1 / EPS,
                            np.exp(np.clip(eta, -_LOGIT_THRESH, _LOGIT_THRESH))))
    return tmp / (1 + tmp)


def _logit_mu_eta(eta):
    e = np.exp(np.clip(eta, -_LOGIT_THRESH, _LOGIT_THRESH))
    opexp = 1 + e
    return np.where(np.abs(eta) > _LOGIT_THRESH, EPS, e / (opexp * opexp))


def _cloglog_mu_eta(eta):
    eta = np.minimum(eta, 700)
    return np.maximum(np.exp(eta) * np.exp(-np.exp(eta)), EPS)


def _true(x) -> bool:
    return True


def _finite_nonzero(x) -> bool:
    return bool(np.all(np.isfinite(x)) and np.all(x != 0))


def finite_positive(x) -> bool:
    return bool(np.all(np.isfinite(x)) and np.all(x > 0))


class _LinkFunctions(NamedTuple):
    linkfun: Callable
    linkinv: Callable
    mu_eta: Callable
    valideta: Callable = _true
    linkinv_lme4: Callable | None = None  # None: lme4 evaluates R's function
    mu_eta_lme4: Callable | None = None


def _clamp01(p):
    return np.maximum(EPS, np.minimum(1 - EPS, p))


def _dlogis(e):
    """dlogis(eta) from e = exp(-|eta|), floored at DBL_EPSILON."""
    return np.maximum(EPS, e / (1 + e) ** 2)


def _exp_eps(eta):
    return np.maximum(np.exp(eta), EPS)


_LINKS: dict[str, _LinkFunctions] = {
    "logit": _LinkFunctions(
        _logit_linkfun, _logit_linkinv, _logit_mu_eta,
        linkinv_lme4=lambda eta: _clamp01(1 / (1 + np.exp(-eta))),  # plogis
        mu_eta_lme4=lambda eta: _dlogis(np.exp(-np.abs(eta)))),
    "probit": _LinkFunctions(
        special.ndtri,
        lambda eta: special.ndtr(np.clip(eta, -_PROBIT_THRESH, _PROBIT_THRESH)),
        lambda eta: np.maximum(_dnorm(eta), EPS),
        linkinv_lme4=lambda eta: np.minimum(1 - EPS, special.ndtr(eta)),
        mu_eta_lme4=_dnorm),
    "cauchit": _LinkFunctions(
        _qcauchy,
        lambda eta: _pcauchy(np.clip(eta, -_CAUCHIT_THRESH, _CAUCHIT_THRESH)),
        lambda eta: np.maximum(_dcauchy(eta), EPS),
        linkinv_lme4=lambda eta: np.minimum(1 - EPS, _pcauchy(eta)),
        mu_eta_lme4=_dcauchy),
    "cloglog": _LinkFunctions(
        lambda mu: np.log(-np.log(1 - mu)),
        lambda eta: _clamp01(-np.expm1(-np.exp(eta))),
        _cloglog_mu_eta,
        mu_eta_lme4=lambda eta: np.maximum(EPS, np.exp(eta - np.exp(eta)))),
    "log": _LinkFunctions(np.log, _exp_eps, _exp_eps),
    "identity": _LinkFunctions(lambda mu: mu, lambda eta: eta, np.ones_like),
    "inverse": _LinkFunctions(
        lambda mu: 1 / mu, lambda eta: 1 / eta, lambda eta: -1 / (eta ** 2),
        _finite_nonzero, mu_eta_lme4=lambda eta: -((1 / eta) ** 2)),
    "sqrt": _LinkFunctions(np.sqrt, lambda eta: eta ** 2, lambda eta: 2 * eta,
                           finite_positive),
    "1/mu^2": _LinkFunctions(lambda mu: 1 / mu ** 2, lambda eta: 1 / np.sqrt(eta),
                             lambda eta: -1 / (2 * eta ** 1.5), finite_positive),
}


@dataclass(frozen=True)
class Link:
    """A GLM link function (R: ``make.link(name)``, class ``"link-glm"``).

    Parameters
    ----------
    name : str
        One of ``"logit"``, ``"probit"``, ``"cauchit"``, ``"cloglog"``, ``"log"``,
        ``"identity"``, ``"inverse"``, ``"sqrt"``, ``"1/mu^2"``.

    Notes
    -----
    The methods take and return float arrays, computed as R computes them, including R's
    clamping of the inverse links (e.g. logit: ``exp(eta)`` replaced by ``DBL_EPSILON``
    below ``eta = -30`` and by ``1/DBL_EPSILON`` above 30).
    """

    name: str

    def __post_init__(self):
        if self.name not in _LINKS:
            raise PylmerError(f"link {self.name!r} not recognised; use one of "
                             + ", ".join(repr(k) for k in _LINKS))

    def _apply(self, what: str, x):
        # R is silent where exp overflows or 1/0 gives Inf; so are we (NaN still warns)
        f = getattr(_LINKS[self.name], what)
        if f is None:  # lme4 evaluates R's function for this link
            f = getattr(_LINKS[self.name], what.removesuffix("_lme4"))
        with np.errstate(over="ignore", divide="ignore", under="ignore"):
            return f(as_array(x))

    def linkfun(self, mu) -> np.ndarray:
        """eta = g(mu) (R: ``linkfun``)."""
        return self._apply("linkfun", mu)

    def linkinv(self, eta) -> np.ndarray:
        """mu = g^-1(eta), clamped as R clamps it (R: ``linkinv``)."""
        return self._apply("linkinv", eta)

    def mu_eta(self, eta) -> np.ndarray:
        """d mu / d eta (R: ``mu.eta``)."""
        return self._apply("mu_eta", eta)

    def valideta(self, eta) -> bool:
        """Whether eta is in the link's domain (R: ``valideta``)."""
        return self._apply("valideta", eta)

    def linkinv_lme4(self, eta) -> np.ndarray:
        """The inverse link of lme4's C++ PIRLS kernel (lme4: ``glmLink::linkInv``).

        Differs from :meth:`linkinv` only in the tails: e.g. logit is
        ``max(eps, min(1 - eps, plogis(eta)))``, probit ``min(1 - eps, pnorm(eta))``.
        """
        return self._apply("linkinv_lme4", eta)

    def mu_eta_lme4(self, eta) -> np.ndarray:
        """d mu / d eta of lme4's C++ PIRLS kernel (lme4: ``glmLink::muEta``)."""
        return self._apply("mu_eta_lme4", eta)


# ------------------------------------------------------------------------------ families
