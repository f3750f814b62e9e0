"""Tests for pylmer.datasets: every data set matches its CSV and columns.json exactly."""

import csv
import doctest
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pylmer.datasets
from pylmer.datasets import list_datasets, load_dataset

DATA_DIR = Path(pylmer.datasets.__file__).parent / "data"

NAMES = [
    "sleepstudy", "Dyestuff", "Dyestuff2", "Penicillin", "Pastes", "cbpp", "cake",
    "grouseticks", "VerbAgg", "InstEval", "Exam", "gamma_sim", "poisson_offset_sim",
    "Salamanders", "wine", "nb_sim", "beta_sim",
    "agq_logit_slope", "agq_pois_slope", "agq_logit_nested",
]  # fmt: skip

# (rows, columns) as in R: dim(lme4::sleepstudy) etc.
SHAPES = {
    "sleepstudy": (180, 3), "Dyestuff": (30, 2), "Dyestuff2": (30, 2),
    "Penicillin": (144, 3), "Pastes": (60, 4), "cbpp": (56, 4), "cake": (270, 5),
    "grouseticks": (403, 7), "VerbAgg": (7584, 9), "InstEval": (73421, 7),
    "Exam": (4059, 10), "gamma_sim": (1000, 3), "poisson_offset_sim": (1000, 5),
    "Salamanders": (644, 9), "wine": (72, 6), "nb_sim": (600, 4), "beta_sim": (600, 3),
    "agq_logit_slope": (320, 3), "agq_pois_slope": (400, 3), "agq_logit_nested": (400, 4),
}  # fmt: skip


def columns_spec(name):
    return json.loads((DATA_DIR / f"{name}.columns.json").read_text(encoding="utf-8"))["columns"]


def csv_columns(name):
    """The CSV's columns as lists of strings, read without pandas."""
    with open(DATA_DIR / f"{name}.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    return {col: [row[j] for row in body] for j, col in enumerate(header)}


def test_every_shipped_file_is_listed():
    shipped = {p.name.removesuffix(".columns.json") for p in DATA_DIR.glob("*.columns.json")}
    assert shipped == set(NAMES)
    assert {p.stem for p in DATA_DIR.glob("*.csv")} == set(NAMES)
    assert list(list_datasets()["name"]) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_shape_and_column_names(name):
    data = load_dataset(name)
    assert isinstance(data, pd.DataFrame)
    assert data.shape == SHAPES[name]
    assert list(data.columns) == list(columns_spec(name))
    assert isinstance(data.index, pd.RangeIndex) and data.index.start == 0


@pytest.mark.parametrize("name", NAMES)
def test_column_types_and_values_match_files(name):
    data = load_dataset(name)
    raw = csv_columns(name)
    for col, info in columns_spec(name).items():
        kind, series, text = info["type"], data[col], raw[col]
        if kind in ("factor", "ordered"):
            assert isinstance(series.dtype, pd.CategoricalDtype), col
            assert list(series.cat.categories) == info["levels"], col
            assert series.cat.ordered == (kind == "ordered"), col
            assert series.astype(str).tolist() == text, col
            assert not series.isna().any(), col
        elif kind == "integer":
            assert series.dtype == np.int64, col
            assert series.tolist() == [int(v) for v in text], col
        else:
            assert kind == "numeric"
            assert series.dtype == np.float64, col
            # Bit-exact: Python's float() is correctly rounded.
            expected = np.array([float(v) for v in text])
            assert np.array_equal(series.to_numpy(), expected), col


def test_known_values():
    sleepstudy = load_dataset("sleepstudy")
    assert sleepstudy["Reaction"][0] == 249.56
    assert sleepstudy["Days"].tolist()[:10] == list(range(10))
    assert sleepstudy["Subject"].cat.categories[0] == "308"
    assert sleepstudy["Subject"].nunique() == 18

    dyestuff = load_dataset("Dyestuff")
    assert dyestuff["Yield"][0] == 1545.0
    assert dyestuff["Yield"].sum() == 45825.0  # sum(Dyestuff$Yield) in R
    assert list(dyestuff["Batch"].cat.categories) == list("ABCDEF")

    cake = load_dataset("cake")
    assert cake["temperature"].cat.ordered
    assert cake["temperature"].cat.categories[0] == "175"

    # Level order is R's, not sorted: InstEval's dept starts with "15".
    assert load_dataset("InstEval")["dept"].cat.categories[0] == "15"
    # Labels with leading zeros stay strings.
    assert load_dataset("gamma_sim")["g"].cat.categories[0] == "g01"
    assert load_dataset("VerbAgg")["r2"].cat.categories.tolist() == ["N", "Y"]


def test_name_lookup_ignores_case():
    assert load_dataset("SLEEPSTUDY").equals(load_dataset("sleepstudy"))
    assert load_dataset("dyestuff").equals(load_dataset("Dyestuff"))


def test_returns_a_fresh_copy():
    first = load_dataset("sleepstudy")
    first.loc[0, "Reaction"] = -1.0
    first["Subject"] = first["Subject"].cat.rename_categories(lambda s: "x" + s)
    first["extra"] = 1
    second = load_dataset("sleepstudy")
    assert second["Reaction"][0] == 249.56
    assert second["Subject"].cat.categories[0] == "308"
    assert "extra" not in second.columns
    assert second is not load_dataset("sleepstudy")


def test_unknown_name_lists_available_data_sets():
    with pytest.raises(ValueError, match="unknown data set 'nosuchdata'") as excinfo:
        load_dataset("nosuchdata")
    for name in NAMES:
        assert name in str(excinfo.value)


def test_non_string_name_is_a_type_error():
    with pytest.raises(TypeError):
        load_dataset(3)


def test_list_datasets():
    table = list_datasets()
    assert list(table.columns) == ["name", "nrow", "ncol", "description"]
    for row in table.itertuples():
        assert (row.nrow, row.ncol) == SHAPES[row.name]
        assert isinstance(row.description, str) and 10 < len(row.description) < 120
        assert "\n" not in row.description


def test_docstring_examples():
    result = doctest.testmod(pylmer.datasets)
    assert result.attempted > 0 and result.failed == 0
