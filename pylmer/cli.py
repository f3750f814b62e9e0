"""The ``pylmer`` command: fit a mixed model from the shell, list the shipped data sets.

::

    pylmer fit "Reaction ~ Days + (Days | Subject)" --data sleepstudy
    pylmer fit "cbind(incidence, size - incidence) ~ period + (1 | herd)" \\
        --data cbpp --family binomial --json
    pylmer fit "y ~ x + (1 | g)" --data mydata.csv --ml
    pylmer datasets

Errors print ``pylmer: error: <message>`` on stderr and exit with status 2 (argparse's
convention); warnings (e.g. a singular fit) print ``pylmer: warning: <message>``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings

import numpy as np
import pandas as pd

from . import __version__, glmer, list_datasets, lmer, load_dataset
from .family import get_family

__all__ = ["main", "build_parser", "read_data"]

PROG = "pylmer"
FAMILIES = ("binomial", "poisson", "Gamma", "inverse.gaussian", "gaussian")
_FILE_SUFFIXES = (".csv", ".parquet", ".pq")


class CliError(Exception):
    """A user error: reported as ``pylmer: error: ...`` with exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``pylmer`` command."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Fit linear and generalized linear mixed-effects models "
        "with lme4's formulas and numbers.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    fit = sub.add_parser(
        "fit", help="fit a model and print its summary",
        description="Fit a model with lmer (no --family) or glmer (with --family) and "
        "print lme4's summary, or the main results as JSON.")
    fit.add_argument("formula", metavar="FORMULA",
                     help='lme4 formula, e.g. "Reaction ~ Days + (Days | Subject)"')
    fit.add_argument("--data", required=True, metavar="NAME_OR_FILE",
                     help="a shipped data set (see `pylmer datasets`; any case) or a "
                     "CSV or Parquet file")
    fit.add_argument("--family", metavar="F",
                     help="GLMM family: " + ", ".join(FAMILIES) + " (fits with glmer)")
    fit.add_argument("--link", metavar="L",
                     help="link function of --family, e.g. probit (default: canonical)")
    crit = fit.add_mutually_exclusive_group()
    crit.add_argument("--reml", dest="reml", action="store_true", default=None,
                      help="fit a linear mixed model by REML (the default)")
    crit.add_argument("--ml", dest="reml", action="store_false", default=None,
                      help="fit by maximum likelihood")
    fit.add_argument("--nagq", type=int, metavar="K",
                     help="adaptive Gauss-Hermite points for glmer (default 1: Laplace)")
    fit.add_argument("--json", action="store_true",
                     help="print a JSON object instead of the summary")

    sub.add_parser("datasets", help="list the shipped data sets",
                   description="List the data sets that --data NAME accepts.")
    return parser


def read_data(spec: str) -> pd.DataFrame:
    """A shipped data set by name, or a CSV / Parquet file by path."""
    lower = spec.lower()
    is_file = os.path.isfile(spec)
    if not is_file and (lower.endswith(_FILE_SUFFIXES) or os.sep in spec or "/" in spec):
        raise CliError(f"data file not found: {spec}")
    if not is_file:
        try:
            return load_dataset(spec)
        except ValueError as e:
            raise CliError(f"{e} (and no file named {spec!r})") from None
    stem = os.path.splitext(os.path.basename(spec))[0]
    try:
        if lower.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(spec)
        else:
            frame = pd.read_csv(spec)
    except ImportError:  # no Parquet engine
        raise CliError(f"reading Parquet file {spec} needs pyarrow: install it "
                       "(pip install pyarrow) or use a CSV file") from None
    except (OSError, ValueError) as e:  # unreadable or malformed (pandas' errors are ValueErrors)
        raise CliError(f"cannot read data file {spec}: {e}") from None
    frame.attrs["name"] = stem
    return frame


def _family(args):
    if args.family is None:
        for opt, val in (("--link", args.link), ("--nagq", args.nagq)):
            if val is not None:
                raise CliError(f"{opt} needs --family (linear mixed models use lmer)")
        return None
    if args.reml:
        raise CliError("--reml applies to linear mixed models only; glmer fits by "
                       "maximum likelihood")
    if args.nagq is not None and args.nagq < 0:
        raise CliError(f"--nagq must be 0 or more, not {args.nagq}")
    family = get_family(args.family)
    return type(family)(link=args.link) if args.link is not None else family


def _clean(x):
    """JSON-ready: numpy scalars to Python, NaN / infinity to None."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_clean(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if x is None or isinstance(x, str):
        return x
    return None if pd.isna(x) else str(x)


def model_json(model, formula: str) -> dict:
    """The main results of a fitted model as a JSON-ready dict."""
    family = getattr(model, "family", None)
    vcov = model.vcov()
    varcorr = model.VarCorr().as_frame().astype(object)
    info = model.optinfo
    out = {
        "formula": formula,
        "family": family.family if family is not None else "gaussian",
        "link": family.link.name if family is not None else "identity",
        "REML": bool(model.REML),
        "nobs": model.nobs(),
        "ngrps": dict(model.ngrps()),
        "fixef": model.fixef().to_dict(),
        "se": dict(zip(vcov.index, np.sqrt(np.diag(vcov.to_numpy())))),
        "vcov": {r: vcov.loc[r].to_dict() for r in vcov.index},
        "theta": np.asarray(model.theta),
        "varcorr": varcorr.to_dict(orient="records"),
        "sigma": model.sigma(),
        "logLik": float(model.logLik()),
        "AIC": model.AIC(),
        "BIC": model.BIC(),
        "deviance": model.deviance(REML=model.REML),  # lme4 1.1-31's deviance(), no warning
        "feval": info.feval,
        "messages": list(info.messages),
    }
    if family is not None:
        out["nAGQ"] = model.nAGQ
    return _clean(out)


def _fit(args) -> str:
    data = read_data(args.data)
    family = _family(args)
    if family is None:
        model = lmer(args.formula, data, REML=args.reml is not False)
    else:
        model = glmer(args.formula, data, family=family,
                      nAGQ=1 if args.nagq is None else args.nagq)
    if args.json:
        return json.dumps(model_json(model, args.formula), indent=2, allow_nan=False)
    return str(model.summary())


def _datasets() -> str:
    return list_datasets().to_string(index=False)


def _warn(messages) -> None:
    seen = set()
    for msg in messages:
        if msg not in seen:
            seen.add(msg)
            print(f"{PROG}: warning: {msg}", file=sys.stderr)


def main(argv=None) -> int:
    """Run the ``pylmer`` command with ``argv`` (default: ``sys.argv[1:]``); the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version and usage errors
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            text = _fit(args) if args.command == "fit" else _datasets()
        except Exception as e:  # noqa: BLE001 -- every failure is reported, none as a traceback
            _warn(str(w.message) for w in caught)
            msg = str(e) or type(e).__name__
            print(f"{PROG}: error: {msg}", file=sys.stderr)
            return 2
    _warn(str(w.message) for w in caught)
    try:
        print(text, flush=True)
    except BrokenPipeError:  # e.g. `pylmer datasets | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
