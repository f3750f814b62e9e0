"""lmer_many against lme4's fresh fit of every response, on three designs (the genomics
design of tests/reference/many/README.md, random slopes, and nested terms by ML with prior
weights), and its behaviour: missing values, unusable responses, threads, bad input.

A response matches lme4 by the reference README's rule, :func:`many_reference.mismatches`
(shared with the ``many`` group of ``python -m benchmarks``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from many_reference import CASES, is_own_model, load, mismatches

from pylmer import PylmerError, lmer, lmer_many, load_dataset


@pytest.fixture(scope="module")
def genes():
    data, Y, ref = load("genes")
    fits = lmer_many(CASES["genes"][0], data, Y, progress=False)
    return data, Y, ref, fits


def test_genes_match_lme4(genes):
    """The 2000 reference responses: every one matches lme4 (the target is 99.5%)."""
    _data, _Y, ref, fits = genes
    assert list(fits.table.index) == list(ref.index)
    bad = mismatches(fits, ref)
    assert len(bad) == 0, bad[:10]
    assert fits.table["converged"].all()


def test_genes_singular_flags_and_messages(genes):
    """lme4's singular message where lme4 finds a singular fit (isSingular, tol 1e-4);
    where the flags differ, theta is within the tolerance of 1e-4."""
    _data, _Y, ref, fits = genes
    T = fits.table
    ours = T["warnings"].str.contains("singular", regex=False).to_numpy()
    theirs = ref["singular"].to_numpy() == 1
    theta = T[["theta_1", "theta_2"]].to_numpy()
    theta_ref = ref[["theta_1", "theta_2"]].to_numpy()
    differ = ours != theirs
    assert differ.mean() < 0.01
    # a flag differs only where a theta sits within 1e-3 of lme4's tolerance of 1e-4
    near = np.minimum(theta, theta_ref).min(axis=1) < 1.1e-3
    assert np.all(near[differ])


@pytest.mark.parametrize("kind", ["slope", "nested"])
def test_other_designs_match_lme4(kind):
    """Random slopes (REML) and nested terms (ML, prior weights): lme4's fresh fits.

    On several random-slope responses lme4 stops on a boundary (a singular fit) where a
    lower criterion exists inside; lmer_many finds it, and rule (b) checks the row."""
    data, Y, ref = load(kind)
    formula, kwargs = CASES[kind]
    fits = lmer_many(formula, data, Y, progress=False, **kwargs)
    bad = mismatches(fits, ref, REML=kwargs.get("REML", True))
    assert len(bad) <= 0.005 * len(ref), bad
    crit = fits.table["REML" if kwargs.get("REML", True) else "deviance"].to_numpy()
    assert np.all(crit <= ref["crit"].to_numpy() + 1e-6)  # never above lme4's optimum


def test_model_of_a_response(genes):
    """.model(name) is the response's full LmerMod at the row's estimates, = lme4."""
    _data, _Y, ref, fits = genes
    for name in ["g0001", "g0003", "g1500"]:
        m, r = fits.model(name), ref.loc[name]
        assert m.REMLcrit() == pytest.approx(r["crit"], abs=1e-6)
        np.testing.assert_allclose(m.fixef().to_numpy(),
                                   r[["est_(Intercept)", "est_Diseasesick", "est_Age"]]
                                   .to_numpy(float), rtol=1e-5)
        np.testing.assert_allclose(m.theta, r[["theta_1", "theta_2"]].to_numpy(float),
                                   atol=1e-3)
        assert m.sigma() == pytest.approx(r["sigma"], rel=1e-5)
        assert list(m.ranef()) == ["Individual", "Batch"]
        assert is_own_model(fits, name, True)


def test_same_table_with_threads(genes):
    """Threads split the responses in blocks; every number is the same to the last bit."""
    data, Y, _ref, fits = genes
    sub = Y.iloc[:, :1100]
    one = lmer_many(CASES["genes"][0], data, sub, progress=False, n_jobs=1).table
    two = lmer_many(CASES["genes"][0], data, sub, progress=False, n_jobs=2).table
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    pd.testing.assert_frame_equal(one, fits.table.iloc[:1100], check_exact=True)


@pytest.mark.filterwarnings("ignore::pylmer.SingularFitWarning")  # lmer's own fits
def test_missing_values_complete_cases(genes):
    """A response with missing values is its own complete-case fit: lmer on those rows."""
    data, Y, _ref, _ = genes
    sub = Y.iloc[:, :4].copy()
    rng = np.random.default_rng(7)
    sub.iloc[rng.choice(300, 20, replace=False), 0] = np.nan
    sub.iloc[rng.choice(300, 3, replace=False), 2] = np.nan
    sub.iloc[:5, 3] = np.nan  # the first individual loses all its five rows
    before = sub.copy()
    fits = lmer_many(CASES["genes"][0], data, sub, progress=False)
    pd.testing.assert_frame_equal(sub, before)  # the caller's data is not changed
    for name in sub.columns:
        keep = sub[name].notna().to_numpy()
        m = lmer("y ~ Disease + Age + (1 | Individual) + (1 | Batch)",
                 data[keep].assign(y=sub[name][keep].to_numpy()))
        row = fits[name]
        assert row["nobs"] == keep.sum()
        assert row["REML"] <= m.REMLcrit() + 1e-6
        assert row["REML"] == pytest.approx(m.REMLcrit(), abs=1e-6)
        np.testing.assert_allclose(row[fits.coef_names].to_numpy(float),
                                   m.fixef().to_numpy(), rtol=1e-4, atol=1e-6)
        assert fits.model(name).nobs() == keep.sum()


def test_unusable_responses_get_a_row_saying_why(genes):
    data, Y, _ref, _ = genes
    sub = Y.iloc[:, :3].copy()
    sub["const"] = 1.5
    sub["text"] = ["a"] * 300
    sub["inf"] = np.r_[np.inf, Y.iloc[1:, 0].to_numpy()]
    sub["empty"] = np.nan
    fits = lmer_many(CASES["genes"][0], data, sub, progress=False)
    T = fits.table
    assert T.loc[["g0001", "g0002", "g0003"], "REML"].notna().all()
    assert "constant" in T.loc["const", "warnings"]
    assert "not numeric" in T.loc["text", "warnings"]
    assert "infinite" in T.loc["inf", "warnings"]
    assert "not fitted" in T.loc["empty", "warnings"]
    assert sorted(fits.failed()) == ["const", "empty", "inf", "text"]
    assert T.loc[fits.failed(), "REML"].isna().all()
    assert not T.loc[fits.failed(), "converged"].any()
    with pytest.raises(PylmerError, match="not fitted"):
        fits.model("const")


def test_array_responses_one_sided_formula_and_names(genes):
    data, Y, _ref, fits = genes
    arr = Y.iloc[:, :5].to_numpy()
    a = lmer_many("~ Disease + Age + (1 | Individual) + (1 | Batch)", data, arr,
                  progress=False, names=list("abcde"))
    assert list(a) == list("abcde") and len(a) == 5
    np.testing.assert_array_equal(a.table["REML"].to_numpy(),
                                  fits.table["REML"].to_numpy()[:5])
    b = lmer_many("Age ~ Disease + (1 | Individual) + (1 | Batch)",
                  data, Y.iloc[:, :2], progress=False)  # a data column as placeholder
    assert b.table["REML"].notna().all()
    assert "ManyFits" in repr(a) and "5 responses" in repr(a)


def test_ml_and_random_slopes_equal_lmer():
    """Away from the references: ML fits on sleepstudy's design with random slopes equal
    pylmer's own lmer (itself lme4's numbers), response by response."""
    from pylmer import load_dataset
    sleep = load_dataset("sleepstudy")
    rng = np.random.default_rng(3)
    Y = sleep["Reaction"].to_numpy()[:, None] + rng.normal(0, 25, (len(sleep), 12))
    fits = lmer_many("Reaction ~ Days + (Days | Subject)", sleep, Y, REML=False,
                     progress=False)
    for j, name in enumerate(fits):
        m = lmer("Reaction ~ Days + (Days | Subject)", sleep.assign(Reaction=Y[:, j]),
                 REML=False)
        assert fits[name]["deviance"] <= m.deviance() + 1e-6
        assert fits[name]["deviance"] == pytest.approx(m.deviance(), abs=1e-5)
        np.testing.assert_allclose(fits[name][fits.coef_names].to_numpy(float),
                                   m.fixef().to_numpy(), rtol=1e-4)


def test_bad_input(genes):
    data, Y, _ref, _ = genes
    f = CASES["genes"][0]
    with pytest.raises(PylmerError, match="rows"):
        lmer_many(f, data, Y.iloc[:10, :3], progress=False)
    with pytest.raises(PylmerError, match="left side"):
        lmer_many("log(y) ~ Disease + (1 | Individual)", data, Y.iloc[:, :2], progress=False)
    with pytest.raises(PylmerError, match="distinct"):
        lmer_many(f, data, Y.iloc[:, [0, 0]], progress=False)
    with pytest.raises(PylmerError, match="names="):
        lmer_many(f, data, Y.iloc[:, :2], names=["a", "b"], progress=False)
    with pytest.raises(PylmerError, match="index"):
        lmer_many(f, data, Y.iloc[:, :2].set_axis(range(1000, 1300)), progress=False)
    with pytest.raises(PylmerError, match="no columns"):
        lmer_many(f, data, Y.iloc[:, :0], progress=False)
    with pytest.raises(TypeError, match="formula"):
        lmer_many(None, data, Y.iloc[:, :2], progress=False)
    with pytest.raises(TypeError, match="Client"):
        lmer_many(f, data, Y.iloc[:, :2], progress=False, client="tcp://localhost:8786")
    with pytest.raises(PylmerError, match="n_jobs"):
        lmer_many(f, data, Y.iloc[:, :2], progress=False, n_jobs=0)
    with pytest.raises(PylmerError, match="no response named"):
        lmer_many(f, data, Y.iloc[:, :2], progress=False).model("nope")
    with pytest.raises(PylmerError):  # formulas are data: no code runs
        lmer_many("y ~ __import__('os').system('echo hi') + (1 | Batch)", data,
                  Y.iloc[:, :2], progress=False)


# --- inputs that once gave wrong numbers or internal errors


@pytest.fixture(scope="module")
def sleep_responses():
    sleep = load_dataset("sleepstudy")
    rng = np.random.default_rng(5)
    Y = sleep["Reaction"].to_numpy()[:, None] + rng.normal(0, 25, (len(sleep), 3))
    return sleep, Y


def _lmer_crit(formula, data, y, **kwargs):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lmer(formula, data.assign(y=y), **kwargs).REMLcrit()


def test_placeholder_only_on_the_left(sleep_responses):
    sleep, Y = sleep_responses
    for formula, kwargs in [("y ~ Days + I(y^2) + (1 | Subject)", {}),
                            ("y ~ Days + (y | Subject)", {}),
                            ("Days ~ Days + (1 | Subject)", {}),
                            ("y ~ Days + (1 | Subject)", {"weights": "y"}),
                            ("y ~ Days + (1 | Subject)", {"offset": "log(y)"})]:
        with pytest.raises(PylmerError, match="names each response"):
            lmer_many(formula, sleep, Y, progress=False, **kwargs)
    # a one-sided formula's placeholder is a name the formula does not use
    fits = lmer_many("~ Days + (1 | Subject)", sleep.assign(y=1.0), Y, progress=False)
    assert fits.table["REML"].notna().all()


def test_rows_aligned_by_the_datas_labels(sleep_responses):
    sleep, Y = sleep_responses
    order = np.random.default_rng(3).permutation(len(sleep))
    shuffled = sleep.iloc[order]  # the data's index is 0..n-1 in another order
    R = pd.DataFrame(Y, columns=["a", "b", "c"])  # its index: the data's labels
    fits = lmer_many("y ~ Days + (Days | Subject)", shuffled, R, progress=False)
    for name in R:  # as pandas aligns: row label i of the responses is row label i
        want = _lmer_crit("y ~ Days + (Days | Subject)", shuffled, R[name])
        assert fits[name]["REML"] == pytest.approx(want, abs=1e-6)
    series = lmer_many("y ~ Days + (Days | Subject)", shuffled, R["b"], progress=False)
    assert list(series) == ["b"]
    assert series["b"]["REML"] == pytest.approx(fits["b"]["REML"], abs=1e-9)
    dup = sleep.set_axis(np.repeat(np.arange(90), 2))
    with pytest.raises(PylmerError, match="repeated labels"):
        lmer_many("y ~ Days + (1 | Subject)", dup, R.iloc[::-1].set_axis(
            np.repeat(np.arange(90), 2)[::-1] + 1000), progress=False)


def test_array_shapes_and_names_are_checked(sleep_responses):
    sleep, Y = sleep_responses
    f = "y ~ Days + (1 | Subject)"
    with pytest.raises(PylmerError, match="179 rows"):
        lmer_many(f, sleep, Y[:179], progress=False)
    with pytest.raises(PylmerError, match="no columns"):
        lmer_many(f, sleep, np.empty((180, 0)), progress=False)
    with pytest.raises(PylmerError, match="0 rows"):
        lmer_many(f, sleep, [], progress=False)
    with pytest.raises(PylmerError, match="2 names for 3 columns"):
        lmer_many(f, sleep, Y, names=["a", "b"], progress=False)
    with pytest.raises(TypeError, match="names must be a list"):
        lmer_many(f, sleep, Y, names="abc", progress=False)
    with pytest.raises(PylmerError, match="None or NaN"):
        lmer_many(f, sleep, Y, names=["a", None, "c"], progress=False)


def test_odd_values_get_rows_saying_why(sleep_responses):
    sleep, Y = sleep_responses
    f = "y ~ Days + (1 | Subject)"
    with_inf = Y.copy()
    with_inf[3, 1] = np.inf  # every column numeric: one row, not the whole call, fails
    fits = lmer_many(f, sleep, with_inf, progress=False)
    assert fits.failed() == ["y2"] and "infinite" in fits["y2"]["warnings"]
    assert fits["y1"]["REML"] == pytest.approx(_lmer_crit(f, sleep, Y[:, 0]), abs=1e-6)
    fits = lmer_many(f, sleep, Y + 1j, progress=False)
    assert all("complex" in w for w in fits.table["warnings"])
    exact = np.column_stack([2.0 * sleep["Days"].to_numpy() + 1, Y[:, 0]])
    fits = lmer_many(f, sleep, exact, progress=False)
    assert fits.failed() == ["y1"] and "exactly" in fits["y1"]["warnings"]
    with pytest.raises(PylmerError, match="was not fitted: the fixed effects fit"):
        fits.model("y1")


def test_column_names_never_collide(sleep_responses):
    sleep, Y = sleep_responses
    rng = np.random.default_rng(2)
    data = sleep.assign(sigma=rng.normal(size=180), REML=rng.normal(size=180))
    fits = lmer_many("y ~ Days + sigma + REML + (1 | Subject)", data, Y, progress=False)
    for j, name in enumerate(fits):
        m = lmer("y ~ Days + sigma + REML + (1 | Subject)", data.assign(y=Y[:, j]))
        row = fits[name]
        assert row["est_sigma"] == pytest.approx(m.fixef()["sigma"], rel=1e-5)
        assert row["est_REML"] == pytest.approx(m.fixef()["REML"], rel=1e-5)
        assert row["sigma"] == pytest.approx(m.sigma(), rel=1e-6)
        assert row["REML"] == pytest.approx(m.REMLcrit(), abs=1e-6)


def test_complete_rows_that_lose_a_column_are_fitted_as_lmer_fits_them(sleep_responses):
    """A column zero on a response's complete rows is dropped (lmer's rank-deficiency
    message in the row, its coefficient NaN); a factor left with one level is lmer's
    error, in the row."""
    import warnings
    sleep, Y = sleep_responses
    late = sleep["Days"].to_numpy() >= 8
    data = sleep.assign(z=np.where(late, sleep["Days"], 0.0),
                        phase=np.where(late, "late", "early"))
    y = Y[:, 0].copy()
    y[late] = np.nan
    both = np.column_stack([y, Y[:, 1]])
    fits = lmer_many("y ~ Days + z + (1 | Subject)", data, both, progress=False,
                     names=["partial", "full"])
    row = fits["partial"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = lmer("y ~ Days + z + (1 | Subject)", data[~late].assign(y=y[~late]))
    assert list(m.fixef().index) == ["(Intercept)", "Days"]
    assert row["REML"] == pytest.approx(m.REMLcrit(), abs=1e-6)
    assert row["Days"] == pytest.approx(m.fixef()["Days"], rel=1e-6)
    assert np.isnan(row["z"]) and np.isnan(row["se_z"])
    assert "rank deficient" in row["warnings"]
    assert np.isfinite(fits["full"]["z"])
    fits = lmer_many("y ~ Days + phase + (1 | Subject)", data, both, progress=False,
                     names=["partial", "full"])
    assert "single level" in fits["partial"]["warnings"]
    assert np.isfinite(fits["full"]["phaselate"])


def test_placeholder_called_self_and_int_names(sleep_responses):
    sleep, Y = sleep_responses
    fits = lmer_many("self ~ Days + (1 | Subject)", sleep, pd.DataFrame(Y), progress=False)
    assert list(fits) == ["0", "1", "2"]
    assert fits.model(0).REMLcrit() == pytest.approx(fits["0"]["REML"], abs=1e-9)
