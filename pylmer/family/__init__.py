"""Families: R's GLM families (:mod:`.glm`) and the families with a parameter beyond the
mean, negative binomial and Beta (:mod:`.extra`); :func:`get_family` reads a
``family=`` argument."""

from __future__ import annotations

from ..exceptions import PylmerError
from .extra import (
    BetaFamily,
    ExtraFamily,
    NBinom1,
    NBinom2,
    NegativeBinomial,
    beta_family,
    nbinom1,
    nbinom2,
    negative_binomial,
)
from .glm import (
    Binomial,
    Family,
    Gamma,
    Gaussian,
    Initialized,
    InverseGaussian,
    Link,
    Poisson,
    binomial,
    gaussian,
    inverse_gaussian,
    poisson,
)

__all__ = [
    "Link", "Family", "Initialized", "ExtraFamily",
    "Binomial", "Poisson", "Gamma", "InverseGaussian", "Gaussian",
    "NBinom2", "NBinom1", "NegativeBinomial", "BetaFamily",
    "binomial", "poisson", "inverse_gaussian", "gaussian",
    "nbinom2", "nbinom1", "negative_binomial", "beta_family",
    "get_family",
]

_BY_NAME: dict[str, type[Family]] = {
    "binomial": Binomial, "poisson": Poisson, "gamma": Gamma,
    "inverse.gaussian": InverseGaussian, "inverse_gaussian": InverseGaussian,
    "gaussian": Gaussian, "nbinom2": NBinom2, "nbinom1": NBinom1,
    "beta": BetaFamily, "beta_family": BetaFamily,
}


def get_family(spec) -> Family:
    """The family a ``family=`` argument names (R: ``glmer``'s handling of ``family``).

    Parameters
    ----------
    spec : str, Family or Family subclass
        A name (``"binomial"``, ``"poisson"``, ``"Gamma"``/``"gamma"``,
        ``"inverse.gaussian"``/``"inverse_gaussian"``, ``"gaussian"``, ``"nbinom2"``,
        ``"nbinom1"``, ``"beta"``/``"beta_family"``; any case), a family object
        (returned as is), or a family class such as ``binomial`` (R's
        ``family = binomial``), used with its default link and, for the families with an
        extra parameter, that parameter estimated.
    """
    if isinstance(spec, Family):
        return spec
    if isinstance(spec, type) and issubclass(spec, Family) and spec not in (Family,
                                                                            ExtraFamily):
        if spec is NegativeBinomial:
            raise PylmerError("family=negative_binomial needs theta: negative_binomial"
                              "(theta=2.0); to estimate theta use glmer_nb()")
        return spec()
    if callable(spec) and spec in (nbinom2, nbinom1, beta_family):
        return spec()
    if spec is negative_binomial:
        raise PylmerError("family=negative_binomial needs theta: negative_binomial"
                          "(theta=2.0); to estimate theta use glmer_nb()")
    if isinstance(spec, str):
        cls = _BY_NAME.get(spec.lower())
        if cls is None:
            raise PylmerError(f"unknown family {spec!r}; use one of 'binomial', 'poisson', "
                              "'Gamma', 'inverse.gaussian', 'gaussian', 'nbinom2', "
                              "'nbinom1', 'beta' (or a family object such as "
                              "binomial(link='probit') or negative_binomial(theta=2))")
        return cls()
    raise TypeError(f"family must be a family name or a family object such as "
                    f"binomial(link='probit'), not {type(spec).__name__}")
