"""Parsing of R expressions (pylmer.formula.rexpr): R's precedence and R's deparse names."""

import pytest

from pylmer.formula.rexpr import BinOp, Name, Num, UnaryOp, deparse, parse


@pytest.mark.parametrize("text, r_name", [
    ("I(age^2)", "I(age^2)"),
    ("I(age ** 2)", "I(age^2)"),
    ("log(x+1)", "log(x + 1)"),
    ("I(x/2)", "I(x/2)"),
    ("poly(x,2)", "poly(x, 2)"),
    ("scale(x, center = TRUE)", "scale(x, center = TRUE)"),
    ("I(-x^2)", "I(-x^2)"),
    ("I(2.0 * x)", "I(2 * x)"),
])
def test_deparse_like_R(text, r_name):
    assert deparse(parse(text)) == r_name


def test_R_precedence_of_not_and_comparison():
    # R's ! binds looser than comparisons and tighter than &: !x == 2 & z is (!(x == 2)) & z
    assert parse("!x == 2 & z") == BinOp("&", UnaryOp("!", BinOp("==", Name("x"), Num("2"))),
                                         Name("z"))


def test_unary_minus_binds_looser_than_power():
    assert parse("-x^2") == UnaryOp("-", BinOp("^", Name("x"), Num("2")))
    assert parse("a:b + c") == BinOp("+", BinOp(":", Name("a"), Name("b")), Name("c"))
    assert parse("1 + x | g") == BinOp("|", BinOp("+", Num("1"), Name("x")), Name("g"))
