"""The classic lme4 data sets, shipped with pylmer.

Each data set is stored in ``pylmer/datasets/data/`` as ``<name>.csv`` (written by R's
``write.csv``) plus ``<name>.columns.json``, which gives every column's type
(``numeric | integer | factor | ordered``) and, for factors, R's level order. The level
order matters: it fixes the reference level of treatment contrasts and the order of
random-effect levels, exactly as in R.

R equivalent: ``data(sleepstudy, package="lme4")`` and friends.

Examples
--------
>>> from pylmer.datasets import load_dataset, list_datasets
>>> sleepstudy = load_dataset("sleepstudy")
>>> sleepstudy.shape
(180, 3)
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re

import pandas as pd

from ..exceptions import PylmerError

__all__ = ["list_datasets", "load_dataset"]

# Canonical name -> one-line description (in lme4's words where lme4 has a help page).
_DESCRIPTIONS = {
    "sleepstudy": "reaction times in a sleep deprivation study (18 subjects, 10 days)",
    "Dyestuff": "yield of dyestuff by batch of an intermediate product (6 batches x 5)",
    "Dyestuff2": "simulated yields in the Dyestuff layout; zero between-batch variance",
    "Penicillin": "inhibition-zone diameters: 6 penicillin samples x 24 plates (crossed)",
    "Pastes": "paste strength: 10 batches, 3 casks per batch, 2 assays per cask (nested)",
    "cbpp": "contagious bovine pleuropneumonia: new cases per herd, 15 herds x 4 periods",
    "cake": "breakage angle of chocolate cakes: 3 recipes x 6 temperatures x 15 replicates",
    "grouseticks": "ticks on red grouse chicks: 403 chicks, 118 broods, 63 locations",
    "VerbAgg": "verbal aggression questionnaire: 316 respondents x 24 items",
    "InstEval": "lecture evaluations: 73421 ratings of 1128 lecturers by 2972 students",
    "Exam": "exam scores of 4059 students in 65 inner-London schools (mlmRev)",
    "gamma_sim": "simulated Gamma (log link) responses: 40 groups x 25 observations",
    "poisson_offset_sim": "simulated Poisson counts with exposure offset, 30 x 20 crossed",
    "Salamanders": "salamander counts at 23 stream sites, mined or not, 7 species (glmmTMB)",
    "wine": "bitterness ratings (1-5, ordered) of wines by 9 judges (ordinal)",
    "nb_sim": "simulated negative binomial counts: 40 groups x 15 observations",
    "beta_sim": "simulated proportions (Beta, logit link): 30 groups x 20 observations",
    "agq_logit_slope": "simulated binary responses, random intercept and slope: 40 x 8",
    "agq_pois_slope": "simulated counts, random intercept and slope: 50 groups x 8",
    "agq_logit_nested": "simulated binary responses, nested groups: 20 a x 4 b x 5",
}

_BY_LOWER_NAME = {name.lower(): name for name in _DESCRIPTIONS}


def _data_file(filename: str):
    """Traversable for a file in the installed ``pylmer/datasets/data`` directory."""
    return importlib.resources.files(__name__) / "data" / filename


def _canonical_name(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"data set name must be a string, got {type(name).__name__}")
    try:
        return _BY_LOWER_NAME[name.lower()]
    except KeyError:
        available = ", ".join(_DESCRIPTIONS)
        raise PylmerError(f"unknown data set {name!r}; available data sets: {available}") from None


@functools.cache
def _columns_spec(name: str) -> dict:
    """The parsed ``<name>.columns.json`` (cached; treat as read-only)."""
    return json.loads(_data_file(f"{name}.columns.json").read_text(encoding="utf-8"))


# Doubles in the CSVs are shortest round-trip strings. pandas < 3.1 parses them exactly only
# with float_precision="round_trip"; pandas >= 3.1 always does and deprecates the option.
_PANDAS_VERSION = tuple(int(part) for part in re.findall(r"\d+", pd.__version__)[:2])
_EXACT_FLOATS = {"float_precision": "round_trip"} if _PANDAS_VERSION < (3, 1) else {}

_READ_DTYPE = {"numeric": "float64", "integer": "int64", "factor": str, "ordered": str}


@functools.cache
def _load_cached(name: str) -> pd.DataFrame:
    """Parse ``<name>.csv`` once; callers must copy the result before handing it out."""
    columns = _columns_spec(name)["columns"]
    with _data_file(f"{name}.csv").open("rb") as fh:
        frame = pd.read_csv(
            fh,
            # Factor labels are read as strings so that "01" stays "01".
            dtype={col: _READ_DTYPE[info["type"]] for col, info in columns.items()},
            **_EXACT_FLOATS,
        )
    if list(frame.columns) != list(columns):
        raise PylmerError(
            f"{name}.csv has columns {list(frame.columns)}, but {name}.columns.json "
            f"describes {list(columns)}"
        )
    for col, info in columns.items():
        if info["type"] in ("factor", "ordered"):
            frame[col] = _to_categorical(frame[col], info["levels"], info["type"], name, col)
    return frame


def _to_categorical(values: pd.Series, levels, kind: str, name: str, col: str) -> pd.Categorical:
    unknown = set(values.dropna()) - set(levels)
    if unknown:
        raise PylmerError(
            f"{name}.csv column {col!r} has values not among its levels: {sorted(unknown)[:5]}"
        )
    return pd.Categorical(values, categories=levels, ordered=(kind == "ordered"))


def load_dataset(name: str) -> pd.DataFrame:
    """Load one of the lme4 example data sets as a pandas DataFrame.

    R equivalent: ``data(sleepstudy, package="lme4")`` (``Exam`` comes from R's mlmRev
    package, ``Salamanders`` from glmmTMB, ``wine`` from ordinal; ``gamma_sim``,
    ``poisson_offset_sim``, ``nb_sim``, ``beta_sim`` and the three ``agq_*`` sets are
    simulated data sets used in pylmer's tests).

    Parameters
    ----------
    name : str
        One of ``sleepstudy``, ``Dyestuff``, ``Dyestuff2``, ``Penicillin``, ``Pastes``,
        ``cbpp``, ``cake``, ``grouseticks``, ``VerbAgg``, ``InstEval``, ``Exam``,
        ``gamma_sim``, ``poisson_offset_sim``, ``Salamanders``, ``wine``, ``nb_sim``,
        ``beta_sim``, ``agq_logit_slope``, ``agq_pois_slope``, ``agq_logit_nested``. Case
        does not matter.

    Returns
    -------
    pandas.DataFrame
        A fresh copy: changing it does not affect later calls. Column types follow R:
        factors are ``Categorical`` with R's level order, ordered factors are ordered
        ``Categorical``, integers are ``int64`` and numeric columns ``float64``
        (bit-identical to the values R used).

    Raises
    ------
    ValueError
        If ``name`` is not a known data set; the message lists the available ones.

    See Also
    --------
    list_datasets : names, sizes and one-line descriptions of all data sets.

    Examples
    --------
    >>> sleepstudy = load_dataset("sleepstudy")
    >>> list(sleepstudy.columns)
    ['Reaction', 'Days', 'Subject']
    >>> sleepstudy["Subject"].cat.categories[:3].tolist()
    ['308', '309', '310']
    """
    canonical = _canonical_name(name)
    frame = _load_cached(canonical).copy()
    # remembered so that summaries print "Data: sleepstudy", as lme4's do
    frame.attrs["name"] = canonical
    return frame


def list_datasets() -> pd.DataFrame:
    """List the data sets that :func:`load_dataset` provides.

    R equivalent: ``data(package="lme4")``.

    Returns
    -------
    pandas.DataFrame
        One row per data set with columns ``name`` (canonical name), ``nrow``, ``ncol``
        and ``description`` (one line).

    Examples
    --------
    >>> datasets = list_datasets()
    >>> datasets.loc[datasets["name"] == "Dyestuff", ["name", "nrow", "ncol"]]
           name  nrow  ncol
    1  Dyestuff    30     2
    """
    rows = []
    for name, description in _DESCRIPTIONS.items():
        spec = _columns_spec(name)
        rows.append(
            {"name": name, "nrow": spec["nrow"], "ncol": spec["ncol"], "description": description}
        )
    return pd.DataFrame(rows, columns=["name", "nrow", "ncol", "description"])
