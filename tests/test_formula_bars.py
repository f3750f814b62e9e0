"""Parsing of lme4 formulas (pylmer.formula.bars): bars, || and / expansion, offsets,
backquoted names (R's expression parser and deparse names: test_formula_rexpr.py)."""

import pytest

from pylmer import FormulaSyntaxError
from pylmer.formula.bars import parse_mixed_formula
from pylmer.formula.rexpr import deparse


def terms(formula):
    return [(t.lhs_text, t.group, t.group_name) for t in parse_mixed_formula(formula).random]


def test_simple_bar():
    m = parse_mixed_formula("Reaction ~ Days + (Days | Subject)")
    assert deparse(m.response) == "Reaction"
    assert m.fixed_rhs == "Days"
    assert terms("Reaction ~ Days + (Days | Subject)") == [("Days", ("Subject",), "Subject")]


def test_intercept_and_zero_forms():
    assert terms("y ~ 1 + (1 | g) + (0 + x | g) + (1 + x | h)") == [
        ("1", ("g",), "g"), ("0 + x", ("g",), "g"), ("1 + x", ("h",), "h")]


def test_double_bar_expands_like_lme4():
    assert terms("y ~ (x || g)") == [("1", ("g",), "g"), ("0 + x", ("g",), "g")]
    assert terms("y ~ (1 + x + z || g)") == [
        ("1", ("g",), "g"), ("0 + x", ("g",), "g"), ("0 + z", ("g",), "g")]
    assert terms("y ~ (0 + x + z || g)") == [("0 + x", ("g",), "g"), ("0 + z", ("g",), "g")]


def test_nesting_expands_innermost_first():
    assert terms("y ~ (1 | batch/cask)") == [
        ("1", ("cask", "batch"), "cask:batch"), ("1", ("batch",), "batch")]
    assert terms("y ~ (1 | school/class/student)") == [
        ("1", ("student", "class", "school"), "student:(class:school)"),
        ("1", ("class", "school"), "class:school"),
        ("1", ("school",), "school")]


def test_interaction_grouping_keeps_its_spelling():
    assert terms("y ~ (1 | recipe:replicate)") == [
        ("1", ("recipe", "replicate"), "recipe:replicate")]


def test_parenthesised_sum_of_bars():
    # lme4 prints (Days || Subject) as ((1 | Subject) + (0 + Days | Subject))
    assert terms("Reaction ~ Days + ((1 | Subject) + (0 + Days | Subject))") == [
        ("1", ("Subject",), "Subject"), ("0 + Days", ("Subject",), "Subject")]


def test_offsets_and_cbind():
    m = parse_mixed_formula("cbind(s, n - s) ~ x + offset(log(e)) + (1 | g)")
    assert deparse(m.response) == "cbind(s, n - s)"
    assert [deparse(o) for o in m.offsets] == ["log(e)"]
    assert m.fixed_rhs == "x"


def test_no_intercept_fixed_part():
    assert parse_mixed_formula("y ~ 0 + x + (1 | g)").fixed_rhs == "0 + x"
    assert parse_mixed_formula("y ~ x - 1 + (1 | g)").fixed_rhs == "x - 1"
    assert parse_mixed_formula("y ~ (1 | g)").fixed_rhs == "1"


def test_backquoted_names():
    m = parse_mixed_formula("`total fruits` ~ `my x` + (1 | `my g`)")
    assert deparse(m.response) == "`total fruits`"
    assert m.random[0].group == ("my g",)
    assert m.random[0].group_name == "`my g`"


@pytest.mark.parametrize("formula, fragment", [
    ("y ~ x + (x |)", "missing its right-hand side"),
    ("y ~ x + (| g)", "unexpected '|'"),
    ("y ~ x + (1 | g", "missing ')'"),
    ("y ~ x + 1 | g)", "unexpected ')'"),
    ("y ~ x + 1 | g", "must be in parentheses"),
    ("y x", "unexpected 'x'"),
    ("y + x", "no '~'"),
    ("", "empty formula"),
    ("y ~ (1 | a + b)", "grouping factor"),
    ("y ~ x + ()", "empty parentheses"),
])
def test_malformed_formulas(formula, fragment):
    with pytest.raises(FormulaSyntaxError, match=fragment.replace("(", r"\(").replace(")", r"\)")
                       .replace("|", r"\|")):
        parse_mixed_formula(formula)


def test_formula_must_be_a_string():
    with pytest.raises(TypeError, match="string"):
        parse_mixed_formula(42)
