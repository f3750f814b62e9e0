"""pylmer.neldermead (lme4's bounded Nelder_Mead, lme4's default for glmer's stage 2) alone:
lme4::Nelder_Mead()'s points to the last bit on the cases of tests/reference/stage2
(neldermead.json, made by scripts/stage2_reference.R), and its behaviour on test
functions: bounds, the best point, maxfun, tolerances, bad starts. Its use in glmer's
stage 2 is test_stage2.py's.
"""

import numpy as np
import pytest
from reference_data import load_json

from pylmer.neldermead import nelder_mead


def rosenbrock(x):
    return 100.0 * (x[1] - x[0] ** 2) ** 2 + (1.0 - x[0]) ** 2


def quad4(x):
    return float(np.sum((x - np.array([1.0, -2.0, 3.0, 0.5])) ** 2
                        * np.array([1.0, 10.0, 100.0, 0.1])) + 0.3 * x[0] * x[1])


def bounds(values):
    return np.array([{"Inf": np.inf, "-Inf": -np.inf}.get(v, v) for v in values], dtype=float)


NM_CASES = load_json("stage2", "neldermead")["cases"]


@pytest.mark.parametrize("case", NM_CASES, ids=[c["name"] for c in NM_CASES])
def test_nelder_mead_is_lme4s(case):
    """lme4::Nelder_Mead() on the same function: the same points, to the last bit."""
    fn = {"rosenbrock": rosenbrock, "quad4": quad4}[case["fn"]]
    options = {k: case[k] for k in ("xst", "maxfun") if k in case}
    result = nelder_mead(fn, case["x0"], bounds(case["lower"]), bounds(case["upper"]),
                         **options)
    assert result.feval == case["feval"]
    assert result.code == case["NM_result"]
    assert result.message == case["message"]
    np.testing.assert_array_equal(result.par, case["par"])
    assert result.fval == case["fval"]


def test_rosenbrock_unbounded_and_bounded():
    free = nelder_mead(rosenbrock, [-1.2, 1.0])
    np.testing.assert_allclose(free.par, [1.0, 1.0], atol=1e-4)
    assert free.fval < 1e-8 and free.convergence == 0
    # the minimum over x1 <= 0.5 is on that bound, at x2 = 0.25
    boxed = nelder_mead(rosenbrock, [-1.2, 1.0], [-2.0, -2.0], [0.5, 2.0])
    assert boxed.par[0] == 0.5
    np.testing.assert_allclose(boxed.par[1], 0.25, atol=1e-5)
    np.testing.assert_allclose(boxed.fval, 0.25, atol=1e-8)


def test_points_stay_in_the_box():
    seen = []

    def recording(x):
        seen.append(x.copy())
        return rosenbrock(x)

    lower, upper = np.array([0.0, 0.5]), np.array([2.0, 3.0])
    result = nelder_mead(recording, [0.0, 0.5], lower, upper, xst=[0.1, 0.1])
    seen = np.array(seen)
    assert len(seen) == result.feval
    assert np.all(seen >= lower) and np.all(seen <= upper)
    # the constrained minimum is on the bound x2 = 0.5, where 400 x1^3 - 198 x1 - 2 = 0
    roots = np.roots([400.0, 0.0, -198.0, -2.0])
    x1 = roots.real[np.argmin(np.abs(roots - 0.7))]
    assert result.par[1] == 0.5
    np.testing.assert_allclose(result.par[0], x1, atol=1e-4)


def test_result_is_the_best_point_evaluated():
    values = []

    def recording(x):
        values.append(quad4(x))
        return values[-1]

    result = nelder_mead(recording, np.zeros(4), xst=np.full(4, 0.1))
    assert result.fval == min(values)
    assert quad4(result.par) == result.fval


def test_maxfun_reached():
    result = nelder_mead(rosenbrock, [-1.2, 1.0], maxfun=50)
    assert result.feval == 51  # as lme4: the evaluation that exceeds maxfun is counted
    assert result.code == 4 and result.convergence == 4
    assert result.message == "failure to converge in 50 evaluations"


def test_tolerances_scale_with_the_steps():
    coarse = nelder_mead(quad4, np.zeros(4), xst=np.full(4, 0.1))
    fine = nelder_mead(quad4, np.zeros(4), xst=np.full(4, 0.1), xt=np.full(4, 1e-8))
    assert fine.feval > coarse.feval and fine.fval <= coarse.fval
    optimum = np.linalg.solve(np.array([[2.0, 0.3, 0, 0], [0.3, 20.0, 0, 0],
                                        [0, 0, 200.0, 0], [0, 0, 0, 0.2]]),
                              np.array([2.0, -40.0, 600.0, 0.1]))
    np.testing.assert_allclose(fine.par, optimum, atol=1e-6)


def test_bad_starts_and_steps():
    with pytest.raises(ValueError, match="initial x is not feasible"):
        nelder_mead(rosenbrock, [3.0, 0.0], [-2.0, -2.0], [2.0, 2.0])
    with pytest.raises(ValueError, match="non-zero steps"):
        nelder_mead(rosenbrock, [0.0, 0.0], xst=[0.1, 0.0])
    # a bound closer than a tenth of the step: the first simplex goes the other way
    result = nelder_mead(rosenbrock, [0.5, 0.0], [0.499, -1.0], [0.5, 1.0], xst=[0.1, 0.1])
    assert 0.499 <= result.par[0] <= 0.5
