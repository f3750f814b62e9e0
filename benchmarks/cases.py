"""The benchmark models and their data, identical for pylmer and lme4.

Every case names a CSV file plus a column spec (``type`` of each column and, for factors,
R's level order) in the format of ``pylmer/datasets/data/<name>.columns.json``. pylmer reads
shipped data sets with ``load_dataset`` and simulated ones with :func:`read_frame` (the same
rules); the R side reads the same file with the same types and levels (see ``r_side.py``).
"""

from __future__ import annotations

import importlib.resources
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE_MODELS = Path(__file__).resolve().parent.parent / "tests" / "reference" / "models"
INSTEVAL_ID = "insteval_reml"
CROSSED_FORMULA = "y ~ x + (1 | f1) + (1 | f2)"
CROSSED_LEVELS = (1_000, 10_000)  # levels of f1 and f2
CROSSED_SEED = 20240611
CROSSED_BINOMIAL_LEVELS = (10_000, 1_000)  # levels of f1 and f2
CROSSED_BINOMIAL_SEED = 20240612


@dataclass(frozen=True)
class Case:
    """One model to fit on both sides.

    name : row label; formula, REML : the lmer arguments; csv, columns : the data file and
    its column spec; dataset : shipped data set name (pylmer loads it with load_dataset), or
    None for simulated data; large : fit in a separate process per side, peak memory measured.
    family, link, nAGQ : for GLMMs (fitted with glmer), R's family name (``binomial``,
    ``poisson``, ``Gamma``), its link and the number of quadrature points; family is None for
    LMMs (fitted with lmer).
    """

    name: str
    formula: str
    REML: bool
    csv: str
    columns: dict
    dataset: str | None = None
    large: bool = False
    family: str | None = None
    link: str | None = None
    nAGQ: int = 1
    slow_in_r: bool = False

    @property
    def glmm(self) -> bool:
        return self.family is not None

    @property
    def fit_kind(self) -> str:
        """REML or ML (LMMs); Laplace, AGQ <n> or nAGQ 0 (GLMMs)."""
        if not self.glmm:
            return "REML" if self.REML else "ML"
        return {0: "nAGQ 0", 1: "Laplace"}.get(self.nAGQ, f"AGQ {self.nAGQ}")

    @property
    def family_label(self) -> str:
        """``family(link)``, e.g. ``Gamma(log)``; empty for LMMs."""
        return f"{self.family}({self.link})" if self.glmm else ""

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> Case:
        return cls(**json.loads(text))


def _shipped(name: str) -> tuple[str, dict]:
    data = importlib.resources.files("pylmer.datasets") / "data"
    spec = json.loads((data / f"{name}.columns.json").read_text(encoding="utf-8"))
    return str(data / f"{name}.csv"), spec["columns"]


def _reference_models(model_type: str) -> list[dict]:
    refs = []
    for path in sorted(REFERENCE_MODELS.glob("*.json")):
        ref = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(ref, dict) and ref.get("model_type") == model_type:
            refs.append(ref)
    return refs


def reference_cases() -> list[Case]:
    """The reference LMMs of tests/reference/models (lme4's calls), InstEval marked large."""
    cases = []
    for ref in _reference_models("LMM"):
        csv, columns = _shipped(ref["dataset"])
        cases.append(Case(ref["model_id"], ref["formula"], bool(ref["REML"]), csv, columns,
                          dataset=ref["dataset"], large=ref["model_id"] == INSTEVAL_ID))
    return cases


def glmm_cases() -> list[Case]:
    """The reference GLMMs of tests/reference/models: formula, family, link and nAGQ of
    lme4's glmer call (otherwise lme4's defaults)."""
    cases = []
    for ref in _reference_models("GLMM"):
        csv, columns = _shipped(ref["dataset"])
        cases.append(Case(ref["model_id"], ref["formula"], False, csv, columns,
                          dataset=ref["dataset"], family=ref["family"], link=ref["link"],
                          nAGQ=int(ref["nAGQ"])))
    return cases


def simulate_crossed(n: int) -> pd.DataFrame:
    """y = 1 + 0.5 x + a[f1] + b[f2] + e with 1e3 x 1e4 crossed levels (seeded by n)."""
    rng = np.random.default_rng([CROSSED_SEED, n])
    n1, n2 = CROSSED_LEVELS
    f1, f2 = rng.integers(n1, size=n), rng.integers(n2, size=n)
    a, b = rng.normal(0.0, 1.0, n1), rng.normal(0.0, 0.5, n2)
    x = _dyadic(rng.normal(size=n))
    y = _dyadic(1.0 + 0.5 * x + a[f1] + b[f2] + rng.normal(size=n))
    return pd.DataFrame({"y": y, "x": x, "f1": f1 + 1, "f2": f2 + 1})


def _dyadic(values: np.ndarray) -> np.ndarray:
    """Round to multiples of 2**-10, whose short decimals every CSV reader parses exactly.

    R's read.csv misreads about 1 in 20000 shortest-round-trip doubles by one ulp; values
    with at most 10 decimals and 12 digits are read exactly by both R and pandas.
    """
    return np.round(values * 1024.0) / 1024.0


def simulate_crossed_binomial(n: int) -> pd.DataFrame:
    """0/1 y with logit P(y = 1) = -0.5 + 0.3 x + a[f1] + b[f2] (seeded by n).

    f1 has 1e4 levels with a ~ N(0, 0.8^2), f2 1e3 levels with b ~ N(0, 0.5^2), x ~ N(0, 1);
    every row picks its levels uniformly.
    """
    rng = np.random.default_rng([CROSSED_BINOMIAL_SEED, n])
    n1, n2 = CROSSED_BINOMIAL_LEVELS
    f1, f2 = rng.integers(n1, size=n), rng.integers(n2, size=n)
    a, b = rng.normal(0.0, 0.8, n1), rng.normal(0.0, 0.5, n2)
    x = _dyadic(rng.normal(size=n))
    eta = -0.5 + 0.3 * x + a[f1] + b[f2]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.int64)
    return pd.DataFrame({"y": y, "x": x, "f1": f1 + 1, "f2": f2 + 1})


def _crossed_columns(y_type: str, levels: tuple[int, int]) -> dict:
    columns = {"y": {"type": y_type}, "x": {"type": "numeric"}}
    for col, nlev in zip(("f1", "f2"), levels):
        columns[col] = {"type": "factor", "levels": [str(i) for i in range(1, nlev + 1)]}
    return columns


def _write_once(frame_of_n, n: int, csv: Path) -> None:
    # Shortest round-trip strings of the dyadic values: every side reads the same doubles.
    if not csv.exists():
        frame_of_n(n).to_csv(csv, index=False)


def crossed_case(n: int, directory: Path) -> Case:
    """Simulate the crossed design with n rows and write it to ``directory`` for both sides."""
    csv = directory / f"crossed_{n}.csv"
    _write_once(simulate_crossed, n, csv)
    return Case(f"crossed_{size_label(n)}", CROSSED_FORMULA, True, str(csv),
                _crossed_columns("numeric", CROSSED_LEVELS), large=True)


def crossed_binomial_case(n: int, directory: Path) -> Case:
    """The crossed binomial GLMM with n rows (glmer, Laplace), written to ``directory``.

    lme4 needs far longer for it than for the LMMs (see ``--slow-lme4``).
    """
    csv = directory / f"crossed_binomial_{n}.csv"
    _write_once(simulate_crossed_binomial, n, csv)
    return Case(f"crossed_binomial_{size_label(n)}", CROSSED_FORMULA, False, str(csv),
                _crossed_columns("integer", CROSSED_BINOMIAL_LEVELS), large=True,
                family="binomial", link="logit", nAGQ=1, slow_in_r=True)


def size_label(n: int) -> str:
    """1e5 for 100000, otherwise the plain number."""
    exp = len(str(n)) - 1
    return f"1e{exp}" if n == 10**exp else str(n)


# Mirrors pylmer.datasets: exact float parsing, factor labels read as strings.
_PANDAS_VERSION = tuple(int(part) for part in re.findall(r"\d+", pd.__version__)[:2])
_EXACT_FLOATS = {"float_precision": "round_trip"} if _PANDAS_VERSION < (3, 1) else {}
_READ_DTYPE = {"numeric": "float64", "integer": "int64", "factor": str, "ordered": str}


def read_frame(csv: str, columns: dict) -> pd.DataFrame:
    """Read a CSV with its column spec the way ``pylmer.load_dataset`` does."""
    frame = pd.read_csv(csv, dtype={c: _READ_DTYPE[i["type"]] for c, i in columns.items()},
                        **_EXACT_FLOATS)
    for col, info in columns.items():
        if info["type"] in ("factor", "ordered"):
            frame[col] = pd.Categorical(frame[col], categories=info["levels"],
                                        ordered=info["type"] == "ordered")
    return frame


def load_case_data(case: Case) -> pd.DataFrame:
    if case.dataset is not None:
        from pylmer import load_dataset

        return load_dataset(case.dataset)
    return read_frame(case.csv, case.columns)
