"""The ``agq`` group: pylmer's adaptive Gauss-Hermite quadrature (nAGQ > 1) beyond lme4.

lme4's ``glmer`` takes nAGQ > 1 only for a single scalar random-effect term; pylmer also
integrates the effects of one grouping factor with a product rule (``(1 + x | g)``, k^2
points per group) and two nested scalar terms (``(1 | a/b)``). lme4 cannot fit these models
with nAGQ > 1, so this group has no R comparator (and glmm is not run on it): it reports
pylmer's figures alone.

Data, simulated in memory with fixed seeds (no file is written, no other side reads them):

* ``slope_1000x10`` (:func:`simulate_slope`): 1 000 groups ``g`` x 10 observations, x ~ N(0, 1),
  a random intercept and slope per group, (b0, b1)' = L z with z ~ N(0, I_2) and
  L = [[0.8, 0], [0.3, 0.5]] (covariance L L'), eta = -0.3 + 0.6 x + b0[g] + b1[g] x,
  y ~ Bernoulli(1 / (1 + exp(-eta))); fitted as ``y ~ x + (1 + x | g)``, binomial (logit).
* ``nested_200x5x4`` (:func:`simulate_nested`): 200 levels of ``a`` x 5 levels of ``b``
  within each (the labels of b repeat across a; ``a/b`` makes the 1 000 levels of b:a) x 4
  observations, x ~ N(0, 1), a-effects ~ N(0, 1.0^2), b:a-effects ~ N(0, 0.8^2),
  eta = 0.2 + 0.5 x + a-effect + b:a-effect, y ~ Bernoulli(1 / (1 + exp(-eta)));
  fitted as ``y ~ x + (1 | a/b)``, binomial (logit).

Measured:

* Fits: ``pylmer.glmer(formula, data, family="binomial", nAGQ=k)`` for k = 1 (Laplace) and 7,
  each 1 + ``--reps`` times as in the other groups (median of the last ``--reps``, the first
  fit shown separately); ``optinfo.feval`` (both optimization stages), ``-2 * logLik(m)``
  and theta (``getME("theta")``) of the last fit.
* One deviance evaluation of ``slope_1000x10`` at the nAGQ = 7 estimates,
  ``devfun(numpy.concatenate([theta, beta]))``, for k = 1 (the Laplace devfun,
  ``updateGlmerDevfun(mkGlmerDevfun(lf, fam), 1)``), 3, 7 and 15
  (``mkGlmerDevfun(lf, fam, nAGQ=k)``), lf = ``glFormula(formula, data, family=fam)``: the
  median of 10 calls after one warm-up call, in milliseconds, its ratio to the Laplace
  call, and the deviance value (its change with k shows the rule's convergence).

Target: the nAGQ = 7 fit of ``slope_1000x10`` in under 5 s (median), printed as PASS/FAIL.
"""

from __future__ import annotations

import gc
import statistics
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .pylmer_side import time_fits

FAMILY = "binomial"
SLOPE_FORMULA = "y ~ x + (1 + x | g)"
SLOPE_SEED = 20240801
SLOPE_GROUPS, SLOPE_PER_GROUP = 1_000, 10
SLOPE_L = ((0.8, 0.0), (0.3, 0.5))
SLOPE_BETA = (-0.3, 0.6)
NESTED_FORMULA = "y ~ x + (1 | a/b)"
NESTED_SEED = 20240802
NESTED_SHAPE = (200, 5, 4)  # levels of a, levels of b within each a, observations per b:a
NESTED_SDS = (1.0, 0.8)  # a, b:a
NESTED_BETA = (0.2, 0.5)
FIT_NAGQ = (1, 7)
DEVFUN_NAGQ = (1, 3, 7, 15)
DEVFUN_CALLS = 10
TARGET_CASE, TARGET_NAGQ, TARGET_SECONDS = "slope_1000x10", 7, 5.0


def _bernoulli(rng: np.random.Generator, eta: np.ndarray) -> np.ndarray:
    return (rng.random(eta.size) < 1.0 / (1.0 + np.exp(-eta))).astype(np.int64)


def _labels(prefix: str, count: int) -> list[str]:
    width = len(str(count))
    return [f"{prefix}{i + 1:0{width}d}" for i in range(count)]


def simulate_slope(groups: int = SLOPE_GROUPS, per_group: int = SLOPE_PER_GROUP,
                   seed: int = SLOPE_SEED) -> pd.DataFrame:
    """Binary y with a correlated random intercept and slope per group.

    ``numpy.random.default_rng(seed)`` draws, in this order: z (groups x 2) ~ N(0, 1), the
    effects (b0, b1) = z L' with L = ``SLOPE_L`` = [[0.8, 0], [0.3, 0.5]] (covariance L L':
    sds 0.8 and 0.583, correlation 0.51); x (groups * per_group) ~ N(0, 1); u ~ U(0, 1) and
    y = 1 where u < logit^-1(eta), eta = -0.3 + 0.6 x + b0[g] + b1[g] x. Rows are ordered by
    group; g is a factor with levels g0001, g0002, ...
    """
    rng = np.random.default_rng(seed)
    b = rng.standard_normal((groups, 2)) @ np.asarray(SLOPE_L).T
    g = np.repeat(np.arange(groups), per_group)
    x = rng.standard_normal(groups * per_group)
    eta = SLOPE_BETA[0] + SLOPE_BETA[1] * x + b[g, 0] + b[g, 1] * x
    levels = _labels("g", groups)
    return pd.DataFrame({"y": _bernoulli(rng, eta), "x": x,
                         "g": pd.Categorical.from_codes(g, categories=levels)})


def simulate_nested(shape: tuple[int, int, int] = NESTED_SHAPE,
                    seed: int = NESTED_SEED) -> pd.DataFrame:
    """Binary y with nested random intercepts: b within a.

    ``shape`` = (levels of a, levels of b within each a, observations per b:a cell).
    ``numpy.random.default_rng(seed)`` draws, in this order: the a-effects ~ N(0, 1.0^2), the
    b:a-effects ~ N(0, 0.8^2) (one per cell), x ~ N(0, 1) per row, u ~ U(0, 1) and y = 1
    where u < logit^-1(eta), eta = 0.2 + 0.5 x + a-effect + b:a-effect. Rows are ordered by a,
    then b; a (a001, ...) and b (b1, ..., its labels repeated in every a) are factors.
    """
    n_a, n_b, per_cell = shape
    rng = np.random.default_rng(seed)
    effect_a = rng.normal(0.0, NESTED_SDS[0], n_a)
    effect_ba = rng.normal(0.0, NESTED_SDS[1], n_a * n_b)
    cell = np.repeat(np.arange(n_a * n_b), per_cell)
    a, b = cell // n_b, cell % n_b
    x = rng.standard_normal(cell.size)
    eta = NESTED_BETA[0] + NESTED_BETA[1] * x + effect_a[a] + effect_ba[cell]
    return pd.DataFrame({"y": _bernoulli(rng, eta), "x": x,
                         "a": pd.Categorical.from_codes(a, categories=_labels("a", n_a)),
                         "b": pd.Categorical.from_codes(b, categories=_labels("b", n_b))})


@dataclass(frozen=True)
class AgqCase:
    """One fit of the group: the data set (``slope_1000x10`` or ``nested_200x5x4``), its
    formula and the number of quadrature points (1: the Laplace approximation)."""

    dataset: str
    formula: str
    nAGQ: int

    @property
    def name(self) -> str:
        return f"{self.dataset}:{self.nAGQ}"

    @property
    def fit_kind(self) -> str:
        return "Laplace" if self.nAGQ == 1 else f"AGQ {self.nAGQ}"


DATASETS = {
    "slope_1000x10": (SLOPE_FORMULA, simulate_slope),
    "nested_200x5x4": (NESTED_FORMULA, simulate_nested),
}


def agq_cases() -> list[AgqCase]:
    """The fits of the ``agq`` group, in table order."""
    return [AgqCase(dataset, formula, k) for dataset, (formula, _) in DATASETS.items()
            for k in FIT_NAGQ]


def _floats(values) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=float).ravel()]


def time_agq_fit(case: AgqCase, df: pd.DataFrame, reps: int) -> tuple[dict, object]:
    """Fit ``case`` 1 + reps times; (times, evaluations, -2 logLik, theta, beta; the model)."""
    import pylmer

    result, model = time_fits(
        lambda data: pylmer.glmer(case.formula, data, family=FAMILY, nAGQ=case.nAGQ), df, reps)
    if model is None:
        return result, None
    theta = model.getME("theta")
    result.update(nobs=int(model.nobs()), feval=int(model.optinfo.feval),
                  optimizer=str(model.optinfo.optimizer),
                  objective=-2.0 * float(model.logLik()),
                  theta=_floats(theta), theta_names=[str(n) for n in theta.index],
                  beta=_floats(model.getME("beta")))
    return result, model


def _devfun(lf, nAGQ: int):
    """The deviance function of (theta, beta) with ``nAGQ`` points (1: Laplace)."""
    import pylmer

    if nAGQ == 1:
        return pylmer.updateGlmerDevfun(pylmer.mkGlmerDevfun(lf, FAMILY), 1)
    return pylmer.mkGlmerDevfun(lf, FAMILY, nAGQ=nAGQ)


def devfun_costs(formula: str, df: pd.DataFrame, theta, beta,
                 calls: int = DEVFUN_CALLS) -> dict[int, dict]:
    """One deviance evaluation at (theta, beta) for each k of ``DEVFUN_NAGQ``: the median
    time of ``calls`` calls after one warm-up call (ms) and the deviance, by k."""
    import pylmer

    par = np.concatenate([np.asarray(theta, float), np.asarray(beta, float)])
    lf = pylmer.glFormula(formula, df, family=FAMILY)
    out: dict[int, dict] = {}
    for k in DEVFUN_NAGQ:
        res: dict = {"warnings": []}
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                devfun = _devfun(lf, k)
                devfun(par)  # warm-up
                gc.collect()
                times = []
                for _ in range(calls):
                    start = time.perf_counter()
                    value = devfun(par)
                    times.append(time.perf_counter() - start)
            res["warnings"] = list(dict.fromkeys(str(w.message) for w in caught))
            res.update(ms=1e3 * statistics.median(times), deviance=float(value))
        except Exception as exc:  # noqa: BLE001 (report the failure, go on with the next k)
            res["error"] = f"{type(exc).__name__}: {exc}"
        out[k] = res
    laplace = out[1].get("ms")
    for res in out.values():
        if laplace and res.get("ms") is not None:
            res["ratio"] = res["ms"] / laplace
    return out


def run_agq(args, log=print) -> dict:
    """Fit the ``agq`` group and time its deviance evaluations.

    ``args``: the runner's options (``reps``). Returns the cases, the fit results by case
    name, the deviance-evaluation results by k (or, as ``devfun_skipped``, why there are
    none) and the target's outcome.
    """
    cases = agq_cases()
    frames = {name: simulate() for name, (_, simulate) in DATASETS.items()}
    fits: dict[str, dict] = {}
    for case in cases:
        log(f"pylmer: {case.dataset} {case.fit_kind}")
        fits[case.name], _ = time_agq_fit(case, frames[case.dataset], args.reps)
    anchor = fits[f"{TARGET_CASE}:{TARGET_NAGQ}"]
    devfun, skipped = None, None
    if "theta" in anchor:
        log(f"pylmer: {TARGET_CASE} deviance evaluations, nAGQ = "
            + ", ".join(map(str, DEVFUN_NAGQ)))
        formula = DATASETS[TARGET_CASE][0]
        devfun = devfun_costs(formula, frames[TARGET_CASE], anchor["theta"], anchor["beta"])
    else:
        skipped = f"the nAGQ = {TARGET_NAGQ} fit of {TARGET_CASE} failed"
    seconds = anchor.get("median")
    target = {"seconds": seconds, "limit": TARGET_SECONDS,
              "pass": seconds is not None and seconds < TARGET_SECONDS}
    return {"cases": cases, "fits": fits, "devfun": devfun, "devfun_skipped": skipped,
            "target": target, "nobs": {name: len(df) for name, df in frames.items()}}


def to_json(res: dict) -> dict:
    """``run_agq``'s result for ``--json``."""
    return {"cases": [{"name": c.name, "formula": c.formula, "nAGQ": c.nAGQ,
                       "family": FAMILY} for c in res["cases"]],
            "fits": res["fits"], "target": res["target"], "nobs": res["nobs"],
            "devfun": ({str(k): v for k, v in res["devfun"].items()}
                       if res["devfun"] is not None else None),
            "devfun_skipped": res["devfun_skipped"]}
