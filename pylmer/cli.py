"""The ``pylmer`` command: fit a mixed model from the shell, list the shipped data sets.

::

    pylmer fit "Reaction ~ Days + (Days | Subject)" --data sleepstudy
    pylmer fit "cbind(incidence, size - incidence) ~ period + (1 | herd)" \\
        --data cbpp --family binomial --json
    pylmer fit "y ~ x + (1 | g)" --data mydata.csv --ml
    pylmer fit "y ~ x + (1 | g)" --data mydata.tsv --weights n --ddf Satterthwaite
    some-command | pylmer fit "y ~ x + (1 | g)" --data -
    pylmer datasets

Every error prints one line ``pylmer: error: <message>`` on stderr and exits with status 2
(argparse's convention), usage errors included; warnings (e.g. a singular fit) print one
line each, ``pylmer: warning: <message>``. Ctrl-C prints ``pylmer: interrupted`` and exits
with status 130. None of them prints a traceback.
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

from . import __version__, clmm, glmer, glmer_nb, list_datasets, lmer, load_dataset
from .family import get_family, negative_binomial

__all__ = ["main", "build_parser", "read_data"]

PROG = "pylmer"
FAMILIES = ("binomial", "poisson", "Gamma", "inverse.gaussian", "gaussian", "nbinom2",
            "nbinom1", "beta", "glmer.nb", "negative.binomial", "cumulative")
DDF = ("lme4", "Satterthwaite", "Kenward-Roger")
STDIN = "-"
_TSV_SUFFIXES = (".tsv", ".tab")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_FILE_SUFFIXES = (".csv",) + _TSV_SUFFIXES + _PARQUET_SUFFIXES
_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zip", ".zst")  # pandas infers these
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, the shell's status for a command stopped by Ctrl-C


class CliError(Exception):
    """A user error: reported as ``pylmer: error: ...`` with exit status 2."""


class _UsageError(CliError):
    """A command-line usage error found by argparse."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error raises (main() prints it as one line) instead of
    printing the usage and exiting."""

    def error(self, message):
        raise _UsageError(f"{message}; try '{self.prog} --help'")


def _ddf(value: str) -> str:
    """--ddf: one of DDF, any case, or a unique prefix (as R's match.arg)."""
    low = value.strip().lower()
    hits = ([d for d in DDF if d.lower() == low]
            or [d for d in DDF if low and d.lower().startswith(low)])
    if len(hits) != 1:
        raise argparse.ArgumentTypeError(
            f"invalid choice: {value!r} (choose from {', '.join(DDF)})")
    return hits[0]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``pylmer`` command."""
    parser = _Parser(
        prog=PROG, description="Fit linear and generalized linear mixed-effects models "
        "with lme4's formulas and numbers.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    fit = sub.add_parser(
        "fit", help="fit a model and print its summary",
        description="Fit a model with lmer (no --family) or glmer (with --family) and "
        "print lme4's summary, or the main results as JSON.",
        epilog='example: pylmer fit "incidence / size ~ period + (1 | herd)" --data cbpp '
        '--family binomial --weights size --nagq 10')
    fit.add_argument("formula", metavar="FORMULA",
                     help='lme4 formula, e.g. "Reaction ~ Days + (Days | Subject)"')
    fit.add_argument("--data", required=True, metavar="NAME_OR_FILE",
                     help="a shipped data set (see `pylmer datasets`; any case), a CSV "
                     "(.csv), tab-separated (.tsv, .tab) or Parquet (.parquet, .pq) file, "
                     "or - to read CSV from standard input")
    fit.add_argument("--family", metavar="F",
                     help="GLMM family: " + ", ".join(FAMILIES) + " (fits with glmer; "
                     "glmer.nb with glmer_nb, cumulative, an ordinal response such as "
                     "ordered(rating), with clmm)")
    fit.add_argument("--link", metavar="L",
                     help="link function of --family, e.g. probit (default: canonical)")
    fit.add_argument("--theta", type=float, metavar="T",
                     help="the fixed theta of --family negative.binomial (the starting "
                     "theta of glmer.nb)")
    crit = fit.add_mutually_exclusive_group()
    crit.add_argument("--reml", dest="reml", action="store_true", default=None,
                      help="fit a linear mixed model by REML (the default)")
    crit.add_argument("--ml", dest="reml", action="store_false", default=None,
                      help="fit by maximum likelihood")
    fit.add_argument("--weights", metavar="EXPR",
                     help="prior weights (R: weights=): a column name or an R expression "
                     "of columns, e.g. n or \"n / 10\"; with --family binomial, the "
                     "numbers of trials of a proportion response")
    fit.add_argument("--offset", metavar="EXPR",
                     help="an offset (R: offset=): a column name or an R expression of "
                     "columns, e.g. \"log(exposure)\"; added to any offset() terms of "
                     "the formula")
    fit.add_argument("--ddf", type=_ddf, metavar="METHOD",
                     help="t-tests of the fixed effects for lmer, as lmerTest's summary: "
                     "Satterthwaite or Kenward-Roger (REML fits) add df and p-values; "
                     "lme4 (the default) prints lme4's summary (any case, or a prefix)")
    fit.add_argument("--nagq", type=int, metavar="K",
                     help="glmer only (R: nAGQ=): 1 (the default) the Laplace "
                     "approximation, 0 the faster nAGQ = 0 fit, K > 1 adaptive "
                     "Gauss-Hermite quadrature with K points (the effects of one grouping "
                     "factor, or (1 | a/b)), e.g. --nagq 25")
    fit.add_argument("--json", action="store_true",
                     help="print a JSON object instead of the summary")

    sub.add_parser("datasets", help="list the shipped data sets",
                   description="List the data sets that --data NAME accepts.")
    return parser


def _read_stdin() -> pd.DataFrame:
    stream = sys.stdin
    if stream is None:
        raise CliError("--data -: there is no standard input to read")
    try:
        frame = pd.read_csv(getattr(stream, "buffer", stream))
    except (OSError, ValueError) as e:  # pandas' parse errors are ValueErrors
        raise CliError(f"cannot read CSV data from standard input: {e}") from None
    frame.attrs["name"] = "stdin"
    return frame


def read_data(spec: str) -> pd.DataFrame:
    """A shipped data set by name, a CSV / TSV / Parquet file by path, or (``-``) CSV data
    on standard input.

    Files ending in ``.tsv`` or ``.tab`` are tab-separated, ``.parquet`` and ``.pq`` are
    Parquet, all others comma-separated (each may be compressed: ``.csv.gz`` ...).
    """
    if spec == STDIN:
        return _read_stdin()
    name = os.path.basename(spec)
    if name.lower().endswith(_COMPRESSION_SUFFIXES):
        name = os.path.splitext(name)[0]
    base = name.lower()  # the suffix that tells the format, compression left off
    is_file = os.path.isfile(spec)
    if not is_file and (base.endswith(_FILE_SUFFIXES) or os.sep in spec or "/" in spec):
        raise CliError(f"data file not found: {spec}")
    if not is_file:
        try:
            return load_dataset(spec)
        except ValueError as e:
            raise CliError(f"{e} (and no file named {spec!r})") from None
    stem = os.path.splitext(name)[0] or name
    try:
        if base.endswith(_PARQUET_SUFFIXES):
            frame = pd.read_parquet(spec)
        elif base.endswith(_TSV_SUFFIXES):
            frame = pd.read_csv(spec, sep="\t")
        else:
            frame = pd.read_csv(spec)
    except ImportError as e:  # no Parquet engine, or no module for a compression
        if base.endswith(_PARQUET_SUFFIXES):
            raise CliError(f"reading Parquet file {spec} needs pyarrow: install it "
                           "(pip install pyarrow) or use a CSV file") from None
        raise CliError(f"cannot read data file {spec}: {e}") from None
    except (OSError, ValueError) as e:  # unreadable or malformed (pandas' errors are ValueErrors)
        raise CliError(f"cannot read data file {spec}: {e}") from None
    frame.attrs["name"] = stem
    return frame


def _family(args):
    if args.family is None:
        for opt, val in (("--link", args.link), ("--nagq", args.nagq),
                         ("--theta", args.theta)):
            if val is not None:
                raise CliError(f"{opt} needs --family (linear mixed models use lmer)")
        if args.ddf == "Kenward-Roger" and args.reml is False:
            raise CliError("--ddf Kenward-Roger needs a REML fit (as pbkrtest): drop --ml")
        return None
    if args.reml:
        raise CliError("--reml applies to linear mixed models only; glmer fits by "
                       "maximum likelihood")
    if args.ddf is not None:
        raise CliError("--ddf applies to linear mixed models only (lmer, no --family); "
                       "glmer's summary gives z-tests")
    if args.nagq is not None and args.nagq < 0:
        raise CliError(f"--nagq must be 0 or more, not {args.nagq}")
    if args.family == "cumulative" and args.theta is not None:
        raise CliError("--theta goes with --family negative.binomial (or glmer.nb, as the "
                       "starting theta)")
    if args.family in ("glmer.nb", "cumulative"):  # fitted by glmer_nb() and clmm()
        return args.family
    if args.family == "negative.binomial":
        if args.theta is None:
            raise CliError("--family negative.binomial needs --theta (a number > 0); to "
                           "estimate theta use --family glmer.nb or nbinom2")
        return negative_binomial(args.theta, link=args.link or "log")
    if args.theta is not None:
        raise CliError("--theta goes with --family negative.binomial")
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


def model_json(model, formula: str, ddf: str | None = None) -> dict:
    """The main results of a fitted model as a JSON-ready dict; with ``ddf``
    ("Satterthwaite", "Kenward-Roger") also lmerTest's ``coefficients`` table."""
    family = model.family if model.isGLMM() else None
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
    if isinstance(getattr(family, "extra", None), float):  # NB theta, nbinom1 / Beta phi
        out["dispersion"] = {"name": family.extra_name, "value": family.extra,
                             "estimated": family.estimates_extra}
    if hasattr(model, "alpha"):
        out["thresholds"] = model.alpha.to_dict()
    if ddf is not None and ddf != "lme4":
        coefs = model.summary(ddf=ddf).coefficients
        out["ddf"] = ddf
        out["coefficients"] = {name: row.to_dict() for name, row in coefs.iterrows()}
    return _clean(out)


def _fit(args) -> str:
    data = read_data(args.data)
    family = _family(args)
    if family is None:
        model = lmer(args.formula, data, REML=args.reml is not False,
                     weights=args.weights, offset=args.offset)
    else:
        nAGQ = 1 if args.nagq is None else args.nagq
        if family == "glmer.nb":
            model = glmer_nb(args.formula, data, init_theta=args.theta,
                             link=args.link or "log", nAGQ=nAGQ, weights=args.weights,
                             offset=args.offset)
        elif family == "cumulative":
            model = clmm(args.formula, data, link=args.link or "logit", nAGQ=nAGQ,
                         weights=args.weights, offset=args.offset)
        else:
            model = glmer(args.formula, data, family=family, nAGQ=nAGQ,
                          weights=args.weights, offset=args.offset)
    if args.json:
        return json.dumps(model_json(model, args.formula, ddf=args.ddf), indent=2,
                          allow_nan=False)
    if family is None:
        return str(model.summary(ddf=args.ddf))
    return str(model.summary())


def _datasets() -> str:
    return list_datasets().to_string(index=False)


def _one_line(text: str) -> str:
    """A message on one line: its lines joined with '; ', blank ones dropped."""
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _warn(messages) -> None:
    seen = set()
    for msg in messages:
        msg = _one_line(msg)
        if msg and msg not in seen:
            seen.add(msg)
            print(f"{PROG}: warning: {msg}", file=sys.stderr)


def _error(exc: BaseException) -> int:
    """Report ``exc`` as one line ``pylmer: error: <message>``; the exit status, 2."""
    msg = _one_line(str(exc)) or type(exc).__name__
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return EXIT_ERROR


def _run(argv) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as e:
        return _error(e)
    except SystemExit as e:  # --help and --version
        return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_ERROR)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            text = _fit(args) if args.command == "fit" else _datasets()
        except Exception as e:  # noqa: BLE001 -- every failure is reported, none as a traceback
            _warn(str(w.message) for w in caught)
            return _error(e)
    _warn(str(w.message) for w in caught)
    try:
        print(text, flush=True)
    except BrokenPipeError:  # e.g. `pylmer datasets | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:  # e.g. a full disk
        return _error(e)
    return 0


def main(argv=None) -> int:
    """Run the ``pylmer`` command with ``argv`` (default: ``sys.argv[1:]``); the exit status.

    Errors print one line ``pylmer: error: <message>`` on stderr and give 2; Ctrl-C
    (KeyboardInterrupt) prints ``pylmer: interrupted`` and gives 130.
    """
    try:
        return _run(argv)
    except KeyboardInterrupt:
        try:
            print(f"{PROG}: interrupted", file=sys.stderr, flush=True)
        except (KeyboardInterrupt, OSError):
            pass
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
