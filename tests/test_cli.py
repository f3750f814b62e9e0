"""The ``pylmer`` command line (pylmer/cli.py): every option and every kind of bad input."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from pylmer import __version__, load_dataset
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
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("pylmer") and "error:" in err and match in err
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


def test_usage_errors_exit_2(capsys):
    assert run(capsys, "fit", SLEEP)[0] == 2  # --data is required
    assert run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--reml", "--ml")[0] == 2
    assert run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--nagq", "many")[0] == 2
    assert run(capsys)[0] == 2  # no command
    assert run(capsys, "frobnicate")[0] == 2


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


def test_module_entry_point_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "pylmer.cli", "fit", "Reaction ~ Dayz + (1 | Subject)",
         "--data", "sleepstudy"], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("pylmer: error: unknown column 'Dayz'")
    assert "Traceback" not in proc.stderr
