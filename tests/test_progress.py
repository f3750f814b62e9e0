"""Progress bars: bootMer, profile and confint show one tqdm bar on stderr, and none with
progress=False."""

import re
import warnings

import pytest

from pylmer import bootMer, confint, lmer, load_dataset
from pylmer.exceptions import ConvergenceWarning
from pylmer.inference.profile import profile

# the summary of singular refits ("bootMer: 1 of 10 refits gave warnings: ...") is tested
# in test_inference_bootstrap.py
pytestmark = pytest.mark.filterwarnings("ignore:bootMer:pylmer.exceptions.PylmerWarning")


@pytest.fixture(scope="module")
def sleep():
    return lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))


@pytest.fixture(scope="module")
def sleep1():
    # profiles: 4 parameters, quicker than the slope model's 6
    return lmer("Reaction ~ Days + (1 | Subject)", load_dataset("sleepstudy"))


def one_bar(err: str, desc: str, total: int) -> None:
    """err is a single tqdm bar, redrawn in place (carriage returns, one final newline),
    that reached its total."""
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    frames = [f for f in err.rstrip("\n").split("\r") if f]
    assert all(f.startswith(f"{desc}:") for f in frames), repr(err)
    assert "%|" in frames[-1] and f"{total}/{total}" in frames[-1], repr(err)
    assert re.search(r"100%\|", frames[-1]), repr(err)


def test_bootMer_shows_one_bar_over_the_replicates(sleep, capfd):
    capfd.readouterr()
    bootMer(sleep, nsim=10, seed=1)
    out, err = capfd.readouterr()
    assert out == ""
    one_bar(err, "bootMer", 10)


def test_profile_shows_one_bar_over_the_parameters(sleep1, capfd):
    capfd.readouterr()
    prof = sleep1.profile(npoints=3)
    out, err = capfd.readouterr()
    assert out == ""
    # sd_(Intercept)|Subject, sigma, (Intercept), Days
    assert prof["parameter"].nunique() == 4
    one_bar(err, "profile", 4)


def test_confint_shows_one_bar_for_profile_and_boot(sleep, sleep1, capfd):
    capfd.readouterr()
    confint(sleep1, method="profile")
    out, err = capfd.readouterr()
    assert out == ""
    one_bar(err, "profile", 4)
    sleep.confint(method="boot", nsim=10, seed=1)
    out, err = capfd.readouterr()
    assert out == ""
    one_bar(err, "bootMer", 10)
    sleep.confint(method="Wald")  # nothing to wait for: no bar
    assert capfd.readouterr() == ("", "")


def test_progress_false_prints_nothing(sleep, sleep1, capfd):
    capfd.readouterr()
    bootMer(sleep, nsim=10, seed=1, progress=False)
    profile(sleep1, npoints=3, progress=False)
    sleep1.profile(npoints=3, progress=False)
    confint(sleep1, method="profile", progress=False)
    sleep1.confint(method="profile", progress=False)
    sleep.confint(method="boot", nsim=10, seed=1, progress=False)
    confint(sleep, method="Wald", progress=False)
    assert capfd.readouterr() == ("", "")


def test_progress_does_not_change_the_results(sleep, sleep1, capfd):
    a = bootMer(sleep, nsim=10, seed=3)
    b = bootMer(sleep, nsim=10, seed=3, progress=False)
    assert a.equals(b)
    assert confint(sleep1, method="profile").equals(
        confint(sleep1, method="profile", progress=False))


def test_profile_fits_at_roundoff_do_not_warn():
    # the inner fits' tolerances reach roundoff on purpose (nlopt stops with code -4 in
    # this profile): no warning line in the middle of the bar
    m = lmer("Yield ~ 1 + (1 | Batch)", load_dataset("Dyestuff"), REML=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.confint(method="profile", progress=False)
        m.profile(npoints=3, progress=False)
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)
                and "code -4" in str(w.message)]
