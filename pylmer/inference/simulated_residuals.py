"""Simulation-based scaled residuals and their tests: DHARMa's ``simulateResiduals``,
``testUniformity``, ``testDispersion`` and ``testZeroInflation`` (DHARMa 0.5.0).

The idea (Dunn & Smyth 1996; DHARMa): simulate ``n_sim`` responses from the fitted model and
take, for each observation, where the observed response falls among its simulations. If
the model is right these quantile residuals are uniform on (0, 1) whatever the family, so
one set of checks (a QQ plot against the uniform, a KS test, simulation tests of the
spread and of the zeros) serves Gaussian, binomial and count models alike.

Definitions, as DHARMa's code:

- simulations: the model's own ``simulate`` (:func:`pylmer.predict.simulate`), by default
  conditional on the fitted random effects (``use_u=True``), DHARMa 0.5.0's default
  ``simulateREs = "conditional"`` (lme4's ``re.form = NULL``); ``use_u=False`` draws new
  random effects (``simulateREs = "unconditional"``, DHARMa before 0.5.0).
- binomial responses are compared as counts of successes, as DHARMa's
  ``getObservedResponse`` / ``getSimulations``: the first column of ``cbind(s, f)``, or
  the proportion times the prior weights.
- ``fitted_predicted`` is DHARMa's ``getFitted`` for lme4 models: the population-level
  prediction on the response scale (``predict(m, type = "response", re.form = ~0)``), a
  proportion for binomial models.
- the scaled residual (``getQuantile``, ``method = "PIT"``): ``mean(sim < y)``, replaced by
  a uniform draw between ``mean(sim < y)`` and ``mean(sim <= y)`` where the two differ
  (ties, i.e. discrete responses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import NotAvailableError, PylmerError, PylmerWarning, warn_user
from ..lazy import stats
from ..validate import check_bool, check_choice, check_count, check_model, check_seed

__all__ = ["HTest", "SimulatedResiduals", "simulate_residuals", "testDispersion",
           "testUniformity", "testZeroInflation"]

ALTERNATIVES = ("two.sided", "greater", "less")
# DHARMa's list of families whose responses are whole numbers (simulateResiduals)
INTEGER_FAMILIES = ("binomial", "poisson", "nbinom1", "nbinom2")


@dataclass(frozen=True)
class HTest:
    """The result of a test (R: an ``htest`` object).

    Attributes
    ----------
    statistic : float
        The test statistic; its R name is ``statistic_name`` (``D``, ``dispersion``,
        ``ratioObsSim``).
    p_value : float
    alternative : str
        ``"two.sided"``, ``"greater"`` or ``"less"``.
    method : str
        The test's name, as DHARMa prints it.
    statistic_name : str
    """

    statistic: float
    p_value: float
    alternative: str
    method: str
    statistic_name: str

    def __repr__(self) -> str:
        return (f"\n\t{self.method}\n\n{self.statistic_name} = {self.statistic:.5g}, "
                f"p-value = {self.p_value:.4g}\nalternative hypothesis: {self.alternative}\n")


class SimulatedResiduals:
    """Scaled residuals from simulations of a fitted model (R: DHARMa's ``DHARMa`` object,
    what ``simulateResiduals`` returns). Made by :func:`simulate_residuals`.

    Attributes
    ----------
    scaled_residuals : pandas.Series
        One value in [0, 1] per observation used in the fit, indexed like the model's
        rows (the data's index); uniform on (0, 1) when the model is right.
    simulated_response : numpy.ndarray, (n, n_sim)
        The simulated responses (counts of successes for binomial models), read-only.
    observed_response : pandas.Series
        The observed response on the same scale.
    fitted_predicted : pandas.Series
        Population-level predictions on the response scale (DHARMa's
        ``fittedPredictedResponse``), what residuals are plotted against.
    n_sim : int
    integer_response : bool
        Whether the response was taken as integer valued (it selects the randomisation of
        ``method="traditional"``; PIT residuals randomise wherever there are ties).
    method : str
        ``"PIT"`` or ``"traditional"``.
    use_u : bool
        Whether the simulations were conditional on the fitted random effects.

    Draw the residuals with :func:`pylmer.plot_simulated_residuals` (DHARMa's ``plot``):
    plots sit above this layer, so the object has no plot method of its own.
    """

    def __init__(self, scaled, simulated, observed, fitted, integer_response, method,
                 use_u):
        self.scaled_residuals = scaled
        self.simulated_response = simulated
        self.simulated_response.flags.writeable = False
        self.observed_response = observed
        self.fitted_predicted = fitted
        self.n_sim = simulated.shape[1]
        self.integer_response = integer_response
        self.method = method
        self.use_u = use_u

    def test_uniformity(self, alternative: str = "two.sided") -> HTest:
        """KS test of the scaled residuals against U(0, 1): see :func:`testUniformity`."""
        return testUniformity(self, alternative)

    def test_dispersion(self, alternative: str = "two.sided") -> HTest:
        """Simulation test of the residuals' spread: see :func:`testDispersion`."""
        return testDispersion(self, alternative)

    def test_zero_inflation(self, alternative: str = "two.sided") -> HTest:
        """Simulation test of the number of zeros: see :func:`testZeroInflation`."""
        return testZeroInflation(self, alternative)

    def __len__(self) -> int:
        return len(self.scaled_residuals)

    def __repr__(self) -> str:
        shown = np.array2string(self.scaled_residuals.to_numpy()[:10], precision=3)
        more = " ..." if len(self) > 10 else ""
        kind = "conditional on" if self.use_u else "re-simulating"
        return (f"Simulated residuals from {self.n_sim} simulations ({kind} the random "
                f"effects, {self.method})\nScaled residual values: {shown}{more}")


def simulate_residuals(model, n_sim: int = 250, seed=None, use_u: bool = True,
                       integer_response: bool | None = None,
                       method: str = "PIT") -> SimulatedResiduals:
    """Scaled (quantile) residuals from ``n_sim`` simulations of the fitted model.

    R: ``DHARMa::simulateResiduals(m, n = n_sim, seed = seed)`` (DHARMa 0.5.0, ``refit =
    FALSE``). For each observation, the fraction of its simulated responses below the
    observed one; where simulations tie with the observation (discrete responses) a
    uniform draw between ``mean(sim < y)`` and ``mean(sim <= y)`` (PIT residuals).

    Parameters
    ----------
    model : LmerMod or GlmerMod
        A fitted model (not a ``clmm`` fit: DHARMa has no ordinal models).
    n_sim : int
        Number of simulations, at least 2 (DHARMa's ``n``; 250 as DHARMa).
    seed : int, numpy.random.Generator or None
        The simulations and the randomisation draw from this; the same int gives the same
        residuals. None draws fresh randomness (DHARMa fixes ``seed = 123`` by default).
    use_u : bool
        True (default): simulate conditional on the fitted random effects, DHARMa 0.5.0's
        default ``simulateREs = "conditional"``; False: draw new random effects
        (``"unconditional"``, lme4's ``simulate`` default).
    integer_response : bool, optional
        Whether the response is integer valued (DHARMa's ``integerResponse``). None
        detects it as DHARMa does: binomial, Poisson and negative binomial families, or
        repeated simulated values that are all whole numbers. Only
        ``method="traditional"`` uses it.
    method : {"PIT", "traditional"}
        DHARMa's ``method``: PIT residuals (default), or DHARMa's pre-0.3.1 procedure: the
        ECDF of the simulations (jittered by U(-0.5, 0.5) for integer responses, as the
        observation) at the observation, interpolated linearly (``DHARMa.ecdf``).

    Returns
    -------
    SimulatedResiduals
    """
    check_model(model)
    n_sim = check_count(n_sim, "n_sim", 2)
    use_u = check_bool(use_u, "use_u")
    method = check_choice(method, "method", ("PIT", "traditional"))
    if integer_response is not None:
        integer_response = check_bool(integer_response, "integer_response")
    seed = check_seed(seed)
    family = model.family if model.isGLMM() else None
    if family is not None and family.family == "cumulative":
        raise NotAvailableError("simulate_residuals: ordinal (clmm) models are not "
                                "supported (DHARMa has no ordinal models either)")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    sims = model.simulate(n_sim, seed=rng, use_u=use_u)
    index = sims.index
    observed, simulated = _on_count_scale(model, family, sims.to_numpy(dtype=float))
    if not np.all(np.isfinite(simulated)):
        raise PylmerError("simulate_residuals: the model's simulations have missing or "
                          "infinite values; scaled residuals cannot be computed")
    if integer_response is None:
        integer_response = _is_integer_valued(family, simulated)
    if method == "PIT":
        scaled = _pit(simulated, observed, rng)
    else:
        scaled = _traditional(simulated, observed, integer_response, rng)
    # na_action="exclude" pads the dropped rows: take the fitted ones
    fitted = model.lf.fr.unpadded(
        np.asarray(model.predict(re_form="NA", type="response"), dtype=float))
    return SimulatedResiduals(
        pd.Series(scaled, index=index, name="scaled_residuals"), simulated,
        pd.Series(observed, index=index, name="observed_response"),
        pd.Series(fitted, index=index, name="fitted_predicted"),
        integer_response, method, use_u)


def _on_count_scale(model, family, sims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observed and simulated responses as DHARMa compares them: binomial ones as counts
    of successes (the simulations are proportions of the trials)."""
    y = np.asarray(model.getME("y"), dtype=float)
    if family is None or family.family != "binomial":
        return y, sims
    if y.ndim == 2:  # cbind(successes, failures)
        trials, observed = y.sum(axis=1), y[:, 0]
    else:  # proportions with the trials as prior weights (1 for a 0/1 response)
        trials = np.asarray(model.getME("weights"), dtype=float)
        observed = y * trials
    return _snap_integers(observed), _snap_integers(sims * trials[:, None])


def _snap_integers(x: np.ndarray) -> np.ndarray:
    """Counts computed as proportion x trials back to exact whole numbers (3 * (1/3) is
    not 1 in floating point, and the tie between simulation and observation matters)."""
    whole = np.rint(x)
    near = np.abs(x - whole) <= 1e-9 * np.maximum(1.0, np.abs(x))
    return np.where(near, whole, x)


def _is_integer_valued(family, simulated: np.ndarray) -> bool:
    """DHARMa's detection: an integer family, or repeated simulated values that are all
    whole numbers (DHARMa's getQuantile switches to integer residuals then)."""
    if family is not None and (family.family in INTEGER_FAMILIES
                               or family.family.startswith("Negative Binomial")):
        return True
    values = np.sort(simulated, axis=None)
    repeated = values[1:][values[1:] == values[:-1]]
    return bool(len(repeated) and np.all(repeated == np.rint(repeated)))


def _pit(simulated: np.ndarray, observed: np.ndarray, rng) -> np.ndarray:
    """DHARMa's PIT residuals: a uniform draw between the fractions of simulations below
    and at-or-below the observation, where they differ."""
    lower = np.mean(simulated < observed[:, None], axis=1)
    lower_or_equal = np.mean(simulated <= observed[:, None], axis=1)
    tied = lower != lower_or_equal
    draws = rng.uniform(lower, lower_or_equal)  # one draw per observation, as DHARMa's runif
    return np.where(tied, draws, lower)


def _traditional(simulated, observed, integer_response: bool, rng) -> np.ndarray:
    """DHARMa's ``method = "traditional"``: ``DHARMa.ecdf(sim)(y)``, after adding
    U(-0.5, 0.5) noise to simulations and observation for integer responses."""
    if integer_response:
        simulated = simulated + rng.uniform(-0.5, 0.5, simulated.shape)
        observed = observed + rng.uniform(-0.5, 0.5, observed.shape)
    return _dharma_ecdf(simulated, observed)


def _dharma_ecdf(simulated: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Row-wise ``DHARMa.ecdf``: the step heights ``count(sim <= v) / (n_sim + 1)`` at the
    distinct simulated values v, interpolated linearly between them; 0 below the smallest
    value and 1 above the largest."""
    n_sim = simulated.shape[1]
    ordered = np.sort(simulated, axis=1)
    at = np.sum(simulated <= observed[:, None], axis=1)  # the step height reached at y
    out = at / (n_sim + 1.0)
    inside = (at > 0) & (at < n_sim)
    rows = np.flatnonzero(inside)
    below = ordered[rows, at[inside] - 1]  # the largest simulated value <= y
    above = ordered[rows, at[inside]]  # the next distinct value, and its step height
    next_height = np.sum(simulated[rows] <= above[:, None], axis=1)
    fraction = (observed[rows] - below) / (above - below)
    out[rows] = (at[inside] + fraction * (next_height - at[inside])) / (n_sim + 1.0)
    out[at == n_sim] = np.where(observed[at == n_sim] > ordered[at == n_sim, -1], 1.0,
                                n_sim / (n_sim + 1.0))
    return out


# ---------------------------------------------------------------------------- the tests
def _check_result(res) -> SimulatedResiduals:
    if not isinstance(res, SimulatedResiduals):
        raise TypeError(f"res must be simulated residuals (what simulate_residuals() "
                        f"returns), got {type(res).__name__}")
    return res


def testUniformity(res: SimulatedResiduals, alternative: str = "two.sided") -> HTest:
    """One-sample Kolmogorov-Smirnov test of the scaled residuals against U(0, 1).

    R: ``DHARMa::testUniformity(res, alternative)``, i.e. ``ks.test(residuals, "punif")``
    with R's p-values: exact below 100 residuals without ties, else the asymptotic
    Kolmogorov distribution (two-sided) or ``exp(-2 n D^2)`` (one-sided).

    Returns
    -------
    HTest
        Statistic ``D`` (``D^+`` for "greater", ``D^-`` for "less").
    """
    r = np.sort(_check_result(res).scaled_residuals.to_numpy())
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    n = len(r)
    steps = np.arange(n)
    d_minus, d_plus = np.max(r - steps / n), np.max((steps + 1) / n - r)
    exact = n < 100 and len(np.unique(r)) == n
    if alternative == "two.sided":
        d = max(d_minus, d_plus)
        p = stats.kstwo.sf(d, n) if exact else stats.kstwobign.sf(np.sqrt(n) * d)
        name = "D"
    else:
        d, name = (d_plus, "D^+") if alternative == "greater" else (d_minus, "D^-")
        p = stats.ksone.sf(d, n) if exact else np.exp(-2.0 * n * d * d)
    kind = "Exact" if exact else "Asymptotic"
    return HTest(float(d), float(min(1.0, max(0.0, p))), alternative,
                 f"{kind} one-sample Kolmogorov-Smirnov test", name)


def testDispersion(res: SimulatedResiduals, alternative: str = "two.sided") -> HTest:
    """DHARMa's nonparametric dispersion test of simulated residuals.

    R: ``DHARMa::testDispersion(res, alternative, type = "DHARMa")`` (``refit = FALSE``):
    the spread ``var(y - fitted) / v`` of the observed response against the same of each
    simulated response, v the variance of all simulated values together and ``fitted``
    DHARMa's population-level predictions. The statistic is the observed spread over the
    mean simulated one (above 1: overdispersion); the p-value is the simulations'
    (``getP``): for "two.sided" twice the smaller tail fraction.

    Returns
    -------
    HTest
        Statistic ``dispersion``.
    """
    res = _check_result(res)
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    expected_var = np.var(res.simulated_response, ddof=1)
    if not expected_var > 0:
        raise PylmerError("testDispersion: the simulated responses do not vary, so their "
                          "spread cannot be compared with the data's")
    fitted = res.fitted_predicted.to_numpy()

    def spread(x):  # x: the observed vector, or the simulations as columns
        centred = x - (fitted if x.ndim == 1 else fitted[:, None])
        return np.var(centred, axis=0, ddof=1) / expected_var

    return _simulation_test(res, spread, alternative, "dispersion",
                            "DHARMa nonparametric dispersion test via sd of residuals "
                            "fitted vs. simulated")


def testZeroInflation(res: SimulatedResiduals, alternative: str = "two.sided") -> HTest:
    """DHARMa's zero-inflation test: the observed number of zeros against the simulated.

    R: ``DHARMa::testZeroInflation(res, alternative)``, ``testGeneric`` with
    ``summary = function(x) sum(x == 0)``. The statistic is the observed count over the
    mean simulated count (above 1: more zeros than the model expects).

    Returns
    -------
    HTest
        Statistic ``ratioObsSim``.
    """
    res = _check_result(res)
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    return _simulation_test(res, lambda x: np.sum(x == 0, axis=0), alternative,
                            "ratioObsSim", "DHARMa zero-inflation test via comparison to "
                            "expected zeros with simulation under H0 = fitted model")


def _simulation_test(res, summary, alternative, name, method) -> HTest:
    """DHARMa's ``testGeneric``: ``summary`` of the observed response against its values
    on the simulated responses (columns)."""
    observed = float(summary(res.observed_response.to_numpy()))
    simulated = np.asarray(summary(res.simulated_response), dtype=float)
    mean = float(np.mean(simulated))
    if mean == 0:
        warn_user(f"{method}: the statistic is 0 in every simulation, so the ratio of "
                  "observed to simulated is undefined (R: NaN or Inf)", PylmerWarning)
        ratio = np.inf if observed > 0 else np.nan
    else:
        ratio = observed / mean
    return HTest(ratio, _simulated_p(simulated, observed, alternative), alternative,
                 method, name)


def _simulated_p(simulated: np.ndarray, observed: float, alternative: str) -> float:
    """DHARMa's ``getP``: the fraction of simulated statistics at least as extreme."""
    upper, lower = np.mean(simulated >= observed), np.mean(simulated <= observed)
    if alternative == "greater":
        return float(upper)
    if alternative == "less":
        return float(lower)
    return float(min(2.0 * min(upper, lower), 1.0))
