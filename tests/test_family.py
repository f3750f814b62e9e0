"""``get_family`` (pylmer.family): R's family names and family objects, and the errors
anything else gets; the families themselves are test_family_glm.py's."""

import pytest

from pylmer.family import (
    Binomial,
    Family,
    Gamma,
    Gaussian,
    InverseGaussian,
    Poisson,
    binomial,
    get_family,
)


@pytest.mark.parametrize(("spec", "expected"), [
    ("binomial", Binomial()), ("poisson", Poisson()), ("Gamma", Gamma()), ("gamma", Gamma()),
    ("inverse.gaussian", InverseGaussian()), ("inverse_gaussian", InverseGaussian()),
    ("gaussian", Gaussian()), (binomial, Binomial()), (Gamma, Gamma())])
def test_get_family_parses(spec, expected):
    assert get_family(spec) == expected


def test_get_family_returns_family_objects_as_is():
    fam = binomial("cloglog")
    assert get_family(fam) is fam


def test_get_family_errors():
    with pytest.raises(ValueError, match="unknown family 'quasipoisson'; use one of "
                       "'binomial', 'poisson', 'Gamma', 'inverse.gaussian', 'gaussian'"):
        get_family("quasipoisson")
    with pytest.raises(TypeError, match="family must be a family name or a family object"):
        get_family(3)
    with pytest.raises(TypeError, match="family must be"):
        get_family(Family)
