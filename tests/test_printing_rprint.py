"""R's number and text layout (pylmer.printing.rprint) against what R 4.2.2 prints: format,
round, zapsmall, quantile, abbreviate, the wrapping of matrices, named vectors and cat's
fill, deparsed formulas, and format.pval."""

import numpy as np
import pytest

from pylmer.printing.rprint import (
    abbreviate,
    cat_fill,
    deparse_lines,
    format_pval,
    formula_lines,
    print_matrix,
    print_named,
    quantile7,
    r_format,
    r_round,
    zapsmall,
)


@pytest.mark.parametrize("x, digits, nsmall, expected", [
    ([123456789, 0.1], 4, 0, ["1.235e+08", "1.000e-01"]),
    ([1e-20], 7, 0, ["1e-20"]),
    ([1e-20, 13.81], 4, 0, ["1.000e-20", "1.381e+01"]),
    ([0.0001234, 100], 3, 0, ["1.23e-04", "1.00e+02"]),
    ([9996, 1], 3, 0, ["9996", "   1"]),
    ([99999.5], 4, 0, ["1e+05"]),
    ([-1.5e10, 2], 7, 0, ["-1.5e+10", " 2.0e+00"]),
    ([0.15], 1, 0, ["0.1"]),
    ([0.125, 0.135], 2, 0, ["0.12", "0.14"]),
    ([612.0885, 35.07169, 654.9410], 4, 0, ["612.09", " 35.07", "654.94"]),
    ([1.0, 0.07, 0.07, 1.0], 7, 2, ["1.00", "0.07", "0.07", "1.00"]),
    ([1.0, -0.138, -0.138, 1.0], 7, 3, [" 1.000", "-0.138", "-0.138", " 1.000"]),
    ([float("nan"), 1.0, float("inf"), -float("inf")], 7, 2, [" NaN", "1.00", " Inf", "-Inf"]),
    ([-0.0, 0.5], 7, 0, ["0.0", "0.5"]),
])
def test_r_format(x, digits, nsmall, expected):
    assert r_format(x, digits, nsmall) == expected


def test_r_round_and_zapsmall():
    # R 4: round(c(0.15, 0.25, 2.675, 1.005), c(1, 1, 2, 2)) -> 0.1 0.2 2.67 1
    assert [r_round(0.15, 1), r_round(0.25, 1), r_round(2.675, 2), r_round(1.005, 2)] == \
        [0.1, 0.2, 2.67, 1.0]
    assert r_round(-0.5) == -0.0 and r_round(2.5) == 2.0
    # zapsmall(c(-3.953567, 5.179345), 5): round to 5 - log10(5.18) -> 4 decimals
    np.testing.assert_array_equal(zapsmall([-3.953567, 5.179345], 5), [-3.9536, 5.1793])


def test_quantile7():
    np.testing.assert_allclose(quantile7([3.0, 1.0, 2.0, 10.0]), [1, 1.75, 2.5, 4.75, 10])


def test_abbreviate():
    names = ["(Intercept)", "temperature.L", "recipeB:temperature^4", "I(Days^2)",
             "standLRT", "sexM", "log(x + 1)", "a b c", "poly(x, 2)1", "poly(x, 2)2",
             "recipeB:temperature.L", "recipeC:temperature.L"]
    assert abbreviate(names, 6) == ["(Intr)", "tmpr.L", "rcB:^4", "I(D^2)", "stnLRT", "sexM",
                                    "lg(+1)", "a b c", "p(,2)1", "p(,2)2", "rcB:.L",
                                    "rcC:.L"]
    assert abbreviate(names, 11) == ["(Intercept)", "temperatr.L", "rcpB:tmpr^4", "I(Days^2)",
                                     "standLRT", "sexM", "log(x + 1)", "a b c",
                                     "poly(x, 2)1", "poly(x, 2)2", "rcpB:tmpr.L",
                                     "rcpC:tmpr.L"]


def test_print_matrix_wraps_columns_below_80():
    # R: a block of columns is at most 79 characters wide
    cells = [["x" * 9] * 8] * 2
    lines = print_matrix(cells, ["", ""], [f"c{j}" for j in range(1, 9)])
    assert len(lines) == 6 and lines[3] == " c8       "
    cells = [["x" * 8] * 8] * 2
    lines = print_matrix(cells, ["", ""], [f"c{j}" for j in range(1, 9)])
    assert len(lines) == 3 and len(lines[0]) == 72


def test_print_named_lines():
    lines = print_named([" " * 17 + "v"] * 7, [f"n{j}" for j in range(1, 8)], gap=2)
    assert len(lines) == 4 and lines[0].endswith("n4  ") and lines[2].endswith("n7  ")


def test_cat_fill_and_deparse():
    assert cat_fill(["Formula:", "a" * 62, "b" * 20]) == ["Formula: " + "a" * 62 + " ",
                                                          "b" * 20]
    assert cat_fill(["Formula:", "a" * 90]) == ["Formula: ", "a" * 90]
    from pylmer.formula.rexpr import parse

    tree = parse("y ~ aaaaaaaaaa * bbbbbbbbbbbbbbb * cccccccccccccccc * dddddddddddd * "
                 "eeeeeeeeeee + log(fffffffffffffff, ggggggggggggg, hhhhhhhhhhhhhhhhh)")
    assert deparse_lines(tree) == [
        "y ~ aaaaaaaaaa * bbbbbbbbbbbbbbb * cccccccccccccccc * dddddddddddd * ",
        "    eeeeeeeeeee + log(fffffffffffffff, ggggggggggggg, hhhhhhhhhhhhhhhhh)"]
    # lmer's call keeps (x || g) expanded, as lme4's expandDoubleVerts writes it
    assert formula_lines("Reaction~Days+(Days||Subject)") == [
        "Formula: Reaction ~ Days + ((1 | Subject) + (0 + Days | Subject))"]


@pytest.mark.parametrize("pv, digits, expected", [
    ([0.5, 1e-20], 3, ["0.5", "<2e-16"]),
    ([0.5, 0.012345, 1e-20], 3, ["0.5000", "0.0123", "<2e-16"]),
    ([1e-20, 1e-30], 3, ["<2e-16", "<2e-16"]),
    ([0.00012345, 0.2], 3, ["0.000123", "0.200000"]),
    ([0.00002345, 0.2, 1e-5], 3, ["2.35e-05", "0.2", "1.00e-05"]),
    ([0.00012345, 0.2], 1, ["1e-04", "0.2"]),
    ([0.001, 1], 3, ["0.001", "1.000"]),
    ([0.123456, 0.5, 1e-20], 5, ["0.12346", "0.50000", "< 2e-16"]),
])
def test_format_pval(pv, digits, expected):
    assert format_pval(pv, digits) == expected
