"""The ``pylmer`` command line (pylmer/cli.py): every option and every kind of bad input."""

from __future__ import annotations

import importlib.util
import io
import json
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import pylmer.cli
from pylmer import __version__, lmer, load_dataset
from pylmer.cli import main

SLEEP = "Reaction ~ Days + (Days | Subject)"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
CBPP_DEV = 184.05313  # lme4: -2 * logLik(glmer(CBPP, cbpp, binomial))


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def fit_json(capsys, *argv):
    code, out, err = run(capsys, "fit", *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def assert_error(capsys, *argv, match):
    """Exit status 2, nothing on stdout, one line ``pylmer: error: ...`` on stderr."""
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert_one_error_line(err, match)
    return err


def assert_one_error_line(err, match):
    assert err.startswith("pylmer: error: ") and err.endswith("\n"), err
    assert err.count("\n") == 1, err
    assert match in err
    assert "Traceback" not in err


# ----------------------------------------------------------------------------- fit: lmer

def test_fit_dataset_name_prints_summary(capsys):
    code, out, err = run(capsys, "fit", SLEEP, "--data", "sleepstudy")
    assert code == 0, err
    assert "Linear mixed model fit by REML" in out
    assert "REML criterion at convergence: 1743.6" in out
    assert "Data: sleepstudy" in out


def test_fit_dataset_name_any_case(capsys):
    code, out, _ = run(capsys, "fit", SLEEP, "--data", "SleepStudy", "--reml")
    assert code == 0
    assert "REML criterion at convergence: 1743.6" in out


def test_fit_ml(capsys):
    code, out, _ = run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--ml")
    assert code == 0
    assert "maximum likelihood" in out and "AIC" in out
    assert "REML criterion" not in out


def test_fit_json(capsys):
    res = fit_json(capsys, SLEEP, "--data", "sleepstudy")
    assert res["REML"] is True
    assert res["formula"] == SLEEP
    assert (res["family"], res["link"]) == ("gaussian", "identity")
    assert res["nobs"] == 180 and res["ngrps"] == {"Subject": 18}
    np.testing.assert_allclose(res["fixef"]["Days"], 10.467286, rtol=1e-6)
    np.testing.assert_allclose(res["se"]["Days"], np.sqrt(res["vcov"]["Days"]["Days"]))
    np.testing.assert_allclose(res["deviance"], 1743.6282720, rtol=1e-8)
    assert len(res["theta"]) == 3 and res["feval"] > 0 and res["messages"] == []
    vc = res["varcorr"]
    assert [r["grp"] for r in vc] == ["Subject", "Subject", "Subject", "Residual"]
    assert vc[0]["var2"] is None  # NaN becomes null
    np.testing.assert_allclose(vc[3]["sdcor"], res["sigma"])
    # lme4 1.1-31: logLik(m), AIC(m), BIC(m) of the REML fit
    np.testing.assert_allclose([res["logLik"], res["AIC"], res["BIC"]],
                               [-871.81413598, 1755.62827196, 1774.78601307], rtol=1e-9)


def test_fit_ml_json_not_reml(capsys):
    assert fit_json(capsys, SLEEP, "--data", "sleepstudy", "--ml")["REML"] is False


def test_fit_csv_file(capsys, tmp_path):
    path = tmp_path / "sleep.csv"
    load_dataset("sleepstudy").to_csv(path, index=False)
    code, out, _ = run(capsys, "fit", SLEEP, "--data", str(path))
    assert code == 0
    assert "REML criterion at convergence: 1743.6" in out
    assert "Data: sleep" in out
    np.testing.assert_allclose(
        fit_json(capsys, SLEEP, "--data", str(path))["fixef"]["Days"], 10.467286, rtol=1e-6)


def test_fit_stdin(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(load_dataset("sleepstudy").to_csv(index=False)))
    code, out, err = run(capsys, "fit", SLEEP, "--data", "-")
    assert code == 0, err
    assert "REML criterion at convergence: 1743.6" in out
    assert "Data: stdin" in out


def test_fit_stdin_empty(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert_error(capsys, "fit", SLEEP, "--data", "-", match="standard input")


@pytest.mark.parametrize("suffix", [".tsv", ".tab", ".TSV", ".tsv.gz"])
def test_fit_tab_separated_file(capsys, tmp_path, suffix):
    path = tmp_path / f"sleep{suffix}"
    load_dataset("sleepstudy").to_csv(path, sep="\t", index=False)
    code, out, err = run(capsys, "fit", SLEEP, "--data", str(path))
    assert code == 0, err
    assert "REML criterion at convergence: 1743.6" in out
    assert "Data: sleep\n" in out


def test_csv_file_is_comma_separated(capsys, tmp_path):
    # a tab-separated file named .csv is one column to the comma-separated reader
    path = tmp_path / "sleep.csv"
    load_dataset("sleepstudy").to_csv(path, sep="\t", index=False)
    assert_error(capsys, "fit", SLEEP, "--data", str(path), match="unknown column")


def test_singular_fit_warns_on_stderr(capsys):
    code, out, err = run(capsys, "fit", "Yield ~ 1 + (1 | Batch)", "--data", "Dyestuff2")
    assert code == 0 and "Random effects" in out
    assert "pylmer: warning: boundary (singular) fit" in err


# ------------------------------------------------------------------------- data files

def test_missing_file(capsys, tmp_path):
    path = tmp_path / "nowhere.csv"
    assert_error(capsys, "fit", SLEEP, "--data", str(path), match=str(path))


def test_unknown_dataset_name(capsys):
    assert_error(capsys, "fit", SLEEP, "--data", "nosuchdata", match="unknown data set")


def test_unreadable_csv(capsys, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert_error(capsys, "fit", SLEEP, "--data", str(path), match="cannot read data file")


HAVE_PYARROW = importlib.util.find_spec("pyarrow") is not None


def test_parquet_without_pyarrow(capsys, tmp_path, monkeypatch):
    # Hide both of pandas' Parquet engines, installed or not.
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "fastparquet", None)
    path = tmp_path / "sleep.parquet"
    path.write_bytes(b"PAR1 not really parquet PAR1")
    assert_error(capsys, "fit", SLEEP, "--data", str(path), match="install it")


@pytest.mark.skipif(not HAVE_PYARROW, reason="pyarrow is not installed")
def test_parquet_file(capsys, tmp_path):
    path = tmp_path / "sleep.parquet"
    load_dataset("sleepstudy").to_parquet(path)
    code, out, _ = run(capsys, "fit", SLEEP, "--data", str(path))
    assert code == 0 and "REML criterion at convergence: 1743.6" in out


def test_parquet_engine_missing_message(capsys, tmp_path, monkeypatch):
    # simulate a machine without pyarrow (and fastparquet), whatever this one has
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "fastparquet", None)
    path = tmp_path / "sleep.parquet"
    path.write_bytes(b"PAR1")
    code, _, err = run(capsys, "fit", SLEEP, "--data", str(path))
    assert code == 2
    assert "pyarrow" in err and "CSV" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- fit: glmer

def test_family_binomial(capsys):
    code, out, _ = run(capsys, "fit", CBPP, "--data", "cbpp", "--family", "binomial")
    assert code == 0
    assert "Family: binomial  ( logit )" in out
    res = fit_json(capsys, CBPP, "--data", "cbpp", "--family", "binomial")
    np.testing.assert_allclose(-2 * res["logLik"], CBPP_DEV, rtol=1e-6)
    assert res["REML"] is False and (res["family"], res["link"]) == ("binomial", "logit")
    assert res["sigma"] == 1.0 and res["nAGQ"] == 1


def test_family_binomial_probit(capsys):
    res = fit_json(capsys, CBPP, "--data", "cbpp", "--family", "binomial", "--link", "probit")
    assert res["link"] == "probit"
    logit = fit_json(capsys, CBPP, "--data", "cbpp", "--family", "binomial")
    assert res["fixef"]["(Intercept)"] != pytest.approx(logit["fixef"]["(Intercept)"])
    code, out, _ = run(capsys, "fit", CBPP, "--data", "cbpp", "--family", "binomial",
                       "--link", "probit")
    assert code == 0 and "( probit )" in out


def test_nagq(capsys):
    res = fit_json(capsys, CBPP, "--data", "cbpp", "--family", "binomial", "--nagq", "25")
    assert res["nAGQ"] == 25
    code, out, _ = run(capsys, "fit", CBPP, "--data", "cbpp", "--family", "binomial",
                       "--nagq", "25")
    assert code == 0 and "Adaptive Gauss-Hermite Quadrature, nAGQ = 25" in " ".join(out.split())


def test_family_poisson(capsys):
    res = fit_json(capsys, "incidence ~ period + (1 | herd)", "--data", "cbpp",
                   "--family", "poisson")
    assert (res["family"], res["link"]) == ("poisson", "log")


def test_nagq_zero(capsys):
    res = fit_json(capsys, CBPP, "--data", "cbpp", "--family", "binomial", "--nagq", "0")
    assert res["nAGQ"] == 0


# ------------------------------------------------------------------ weights, offset, ddf

def test_weights_expression_lmer(capsys):
    data = load_dataset("sleepstudy")
    ref = lmer(SLEEP, data, weights=data["Days"].to_numpy() + 1.0)
    res = fit_json(capsys, SLEEP, "--data", "sleepstudy", "--weights", "Days + 1")
    np.testing.assert_allclose(list(res["fixef"].values()), ref.fixef().to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(res["logLik"], float(ref.logLik()), rtol=1e-8)
    unweighted = fit_json(capsys, SLEEP, "--data", "sleepstudy")
    assert res["fixef"]["Days"] != pytest.approx(unweighted["fixef"]["Days"])


def test_weights_column_binomial_proportion(capsys):
    # lme4: glmer(incidence / size ~ ..., weights = size) is the cbind() fit
    res = fit_json(capsys, "incidence / size ~ period + (1 | herd)", "--data", "cbpp",
                   "--family", "binomial", "--weights", "size")
    ref = fit_json(capsys, CBPP, "--data", "cbpp", "--family", "binomial")
    np.testing.assert_allclose(list(res["fixef"].values()), list(ref["fixef"].values()),
                               rtol=1e-6)


def test_weights_csv_column(capsys, tmp_path):
    data = load_dataset("sleepstudy").assign(n=lambda d: d["Days"] % 3 + 1)
    path = tmp_path / "sleep.csv"
    data.to_csv(path, index=False)
    ref = lmer(SLEEP, data, weights="n")
    res = fit_json(capsys, SLEEP, "--data", str(path), "--weights", "n")
    np.testing.assert_allclose(res["fixef"]["Days"], ref.fixef()["Days"], rtol=1e-6)
    # an R expression of the column: scaling the weights leaves the fixed effects
    res10 = fit_json(capsys, SLEEP, "--data", str(path), "--weights", "n/10")
    np.testing.assert_allclose(res10["fixef"]["Days"], ref.fixef()["Days"], rtol=1e-6)


def test_offset_expression(capsys):
    pois = "y ~ x + (1 | f1) + (1 | f2)"
    res = fit_json(capsys, pois, "--data", "poisson_offset_sim", "--family", "poisson",
                   "--offset", "log(exposure)")
    ref = fit_json(capsys, "y ~ x + offset(log(exposure)) + (1 | f1) + (1 | f2)",
                   "--data", "poisson_offset_sim", "--family", "poisson")
    np.testing.assert_allclose(list(res["fixef"].values()), list(ref["fixef"].values()),
                               rtol=1e-6)
    np.testing.assert_allclose(res["logLik"], ref["logLik"], rtol=1e-8)


def test_bad_weights_and_offset(capsys):
    assert_error(capsys, "fit", SLEEP, "--data", "sleepstudy", "--weights", "nosuch",
                 match="nosuch")
    assert_error(capsys, "fit", SLEEP, "--data", "sleepstudy", "--weights=-Days",
                 match="negative")
    assert_error(capsys, "fit", SLEEP, "--data", "sleepstudy", "--offset", "besselJ(Days, 0)",
                 match="besselJ")


def test_ddf_satterthwaite(capsys):
    code, out, _ = run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--ddf", "Satterthwaite")
    assert code == 0
    assert "t-tests use Satterthwaite's method" in " ".join(out.split())
    assert "Pr(>|t|)" in out
    res = fit_json(capsys, SLEEP, "--data", "sleepstudy", "--ddf", "satterthwaite")
    assert res["ddf"] == "Satterthwaite"
    days = res["coefficients"]["Days"]
    np.testing.assert_allclose(days["df"], 17.0, rtol=1e-4)  # lmerTest: 17
    np.testing.assert_allclose(days["Estimate"], res["fixef"]["Days"])
    assert 0 < days["Pr(>|t|)"] < 1e-5


def test_ddf_kenward_roger_and_lme4(capsys):
    res = fit_json(capsys, SLEEP, "--data", "sleepstudy", "--ddf", "Kenward-Roger")
    assert res["ddf"] == "Kenward-Roger" and "df" in res["coefficients"]["Days"]
    code, out, _ = run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--ddf", "lme4")
    assert code == 0 and "Pr(>|t|)" not in out and "Linear mixed model fit by REML" in out
    assert "ddf" not in fit_json(capsys, SLEEP, "--data", "sleepstudy", "--ddf", "lme4")


def test_ddf_errors(capsys):
    assert_error(capsys, "fit", SLEEP, "--data", "sleepstudy", "--ddf", "Wald",
                 match="--ddf")
    assert_error(capsys, "fit", CBPP, "--data", "cbpp", "--family", "binomial",
                 "--ddf", "Satterthwaite", match="--ddf applies to linear mixed models")
    assert_error(capsys, "fit", SLEEP, "--data", "sleepstudy", "--ml", "--ddf", "Kenward-Roger",
                 match="REML")


# ------------------------------------------------------------------------------ bad input

def test_bad_family(capsys):
    assert_error(capsys, "fit", CBPP, "--data", "cbpp", "--family", "binomail",
                 match="unknown family 'binomail'")


def test_bad_link(capsys):
    assert_error(capsys, "fit", CBPP, "--data", "cbpp", "--family", "binomial",
                 "--link", "sqrt", match="link 'sqrt' not available")


def test_link_or_nagq_without_family(capsys):
    assert_error(capsys, "fit", SLEEP, "--data", "sleepstudy", "--link", "probit",
                 match="--link needs --family")
    assert_error(capsys, "fit", SLEEP, "--data", "sleepstudy", "--nagq", "5",
                 match="--nagq needs --family")


def test_reml_with_family(capsys):
    assert_error(capsys, "fit", CBPP, "--data", "cbpp", "--family", "binomial", "--reml",
                 match="--reml")


def test_unknown_column(capsys):
    assert_error(capsys, "fit", "Reaction ~ Dayz + (1 | Subject)", "--data", "sleepstudy",
                 match="unknown column 'Dayz'")


def test_malformed_formula(capsys):
    assert_error(capsys, "fit", "Reaction ~ Days + (1 | Subject", "--data", "sleepstudy",
                 match="unbalanced parentheses")


def test_no_random_effects(capsys):
    assert_error(capsys, "fit", "Reaction ~ Days", "--data", "sleepstudy",
                 match="no random effects")


@pytest.mark.parametrize("argv, match", [
    (["Reaction ~ Days + (1 | Subject", "--data", "sleepstudy"], "unbalanced parentheses"),
    (["Reaction ~ Dayz + (1 | Subject)", "--data", "sleepstudy"], "unknown column 'Dayz'"),
    (["Reaction ~ besselJ(Days, 0) + (1 | Subject)", "--data", "sleepstudy"],
     "besselJ() in 'besselJ(Days, 0)' is not supported"),
    ([SLEEP, "--data", "no/such/file.csv"], "data file not found: no/such/file.csv"),
    ([SLEEP, "--data", "nosuchdata"], "unknown data set"),
    ([CBPP, "--data", "cbpp", "--family", "binomail"], "unknown family 'binomail'"),
])
def test_errors_one_line(capsys, argv, match):
    assert_error(capsys, "fit", *argv, match=match)


def test_bad_file_one_line(capsys, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b'a,b\n1,"2\n')  # an unterminated quote
    assert_error(capsys, "fit", SLEEP, "--data", str(path), match="cannot read data file")
    path = tmp_path / "bad.tsv"
    path.write_bytes(b"\xff\xfe\x00\x01not text")
    assert_error(capsys, "fit", SLEEP, "--data", str(path), match="cannot read data file")


def test_any_exception_is_one_error_line(capsys, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("first line\nsecond line")

    monkeypatch.setattr(pylmer.cli, "lmer", boom)
    err = assert_error(capsys, "fit", SLEEP, "--data", "sleepstudy",
                       match="first line; second line")
    assert err == "pylmer: error: first line; second line\n"

    def silent(*args, **kwargs):
        raise ZeroDivisionError

    monkeypatch.setattr(pylmer.cli, "lmer", silent)
    assert_error(capsys, "fit", SLEEP, "--data", "sleepstudy", match="ZeroDivisionError")


def test_warnings_one_line_each(capsys, monkeypatch):
    def noisy():
        warnings.warn("a warning\nover two lines")
        warnings.warn("a warning\nover two lines")  # repeated: shown once
        warnings.warn("another", UserWarning)
        return "the output"

    monkeypatch.setattr(pylmer.cli, "_datasets", noisy)
    code, out, err = run(capsys, "datasets")
    assert code == 0 and out == "the output\n"
    assert err.splitlines() == ["pylmer: warning: a warning; over two lines",
                                "pylmer: warning: another"]


def test_usage_errors_exit_2(capsys):
    assert_error(capsys, "fit", SLEEP, match="--data")  # --data is required
    assert_error(capsys, "fit", SLEEP, "--data", "sleepstudy", "--reml", "--ml",
                 match="not allowed with")
    assert_error(capsys, "fit", SLEEP, "--data", "sleepstudy", "--nagq", "many",
                 match="invalid int value: 'many'")
    assert_error(capsys, match="required")  # no command
    assert_error(capsys, "frobnicate", match="invalid choice: 'frobnicate'")
    assert_error(capsys, "fit", SLEEP, "--data", "sleepstudy", "--bogus", match="--bogus")


# ------------------------------------------------------------------ datasets, version, help

def test_datasets(capsys):
    code, out, _ = run(capsys, "datasets")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["name", "nrow", "ncol"]
    assert any(line.split()[:3] == ["sleepstudy", "180", "3"] for line in lines)
    assert any(line.split()[0] == "cbpp" for line in lines[1:])


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"pylmer {__version__}"


@pytest.mark.parametrize("argv", [["--help"], ["fit", "--help"], ["datasets", "-h"]])
def test_help(capsys, argv):
    code, out, _ = run(capsys, *argv)
    assert code == 0 and out.startswith("usage: pylmer")
    if "fit" in argv:
        assert "--family" in out and "--nagq" in out and "--json" in out
        for opt in ("--weights", "--offset", "--ddf", "--nagq"):
            assert opt in out
        text = " ".join(out.split())
        assert "log(exposure)" in text and "Satterthwaite" in text and "Kenward-Roger" in text
        assert "Gauss-Hermite" in text and "standard input" in text and ".tsv" in text


def test_module_entry_point_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "pylmer.cli", "fit", "Reaction ~ Dayz + (1 | Subject)",
         "--data", "sleepstudy"], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("pylmer: error: unknown column 'Dayz'")
    assert "Traceback" not in proc.stderr


def test_ctrl_c_during_fit_subprocess():
    """SIGINT during a real fit: one line on stderr, exit status 130, no traceback."""
    csv = load_dataset("InstEval").to_csv(index=False).encode()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pylmer.cli", "fit", "y ~ service + (1|s) + (1|d) + (1|dept)",
         "--data", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Writing 1.4 MB through the pipe returns once the command is reading its data, so
        # the interpreter has started and main() is running: the SIGINT cannot land in the
        # imports. The fit itself takes seconds; interrupt it a second in.
        proc.stdin.write(csv)
        proc.stdin.close()
        time.sleep(1.0)
        assert proc.poll() is None, "the fit ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert err == "pylmer: interrupted\n"
    assert out == ""


# ----------------------------------------------------------------------------- fit: NB, Beta, clmm

FAMILY_DATA = __import__("pathlib").Path(__file__).parent / "reference" / "families" / "data"


def test_fit_negative_binomial_families(capsys):
    data = str(FAMILY_DATA / "Salamanders.csv")
    nb2 = fit_json(capsys, "count ~ mined + (1 | site)", "--data", data, "--family", "nbinom2")
    assert nb2["family"] == "nbinom2"
    assert nb2["dispersion"]["name"] == "theta" and nb2["dispersion"]["estimated"]
    assert nb2["dispersion"]["value"] == pytest.approx(0.6390482, rel=5e-3)  # glmmTMB
    assert nb2["logLik"] == pytest.approx(-869.1661480, abs=1e-4)
    nb = fit_json(capsys, "count ~ mined + (1 | site)", "--data", data, "--family", "glmer.nb")
    assert nb["family"].startswith("Negative Binomial(0.639")
    assert nb["logLik"] == pytest.approx(-869.1149944, abs=1e-4)  # lme4, converged
    fixed = fit_json(capsys, "count ~ mined + (1 | site)", "--data", data, "--family",
                     "negative.binomial", "--theta", "2")
    assert fixed["dispersion"] == {"name": "theta", "value": 2.0, "estimated": False}
    assert_error(capsys, "fit", "count ~ mined + (1 | site)", "--data", data, "--family",
                 "negative.binomial", match="needs --theta")
    assert_error(capsys, "fit", "count ~ mined + (1 | site)", "--data", data, "--theta", "2",
                 match="--theta needs --family")


def test_fit_clmm(capsys):
    out = fit_json(capsys, "ordered(rating) ~ temp + contact + (1 | judge)", "--data",
                   str(FAMILY_DATA / "wine.csv"), "--family", "cumulative")
    assert list(out["thresholds"]) == ["1|2", "2|3", "3|4", "4|5"]
    assert out["logLik"] == pytest.approx(-81.5654093, abs=1e-4)  # ordinal::clmm
    assert out["fixef"]["tempwarm"] == pytest.approx(3.0629935, abs=2e-3 * 3.06)
