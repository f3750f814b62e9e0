"""Random well-formed formulas over the whitelisted R functions either fit or raise a
pylmer error, and no formula text ever reaches Python's eval, exec or compile."""

from __future__ import annotations

import builtins
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pylmer import PylmerError, lFormula, lmer


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 96
    return pd.DataFrame({
        "y": rng.standard_normal(n) + np.repeat(rng.standard_normal(12), 8),
        "x": rng.uniform(0.5, 4.0, n),
        "z": rng.uniform(-2.0, 2.0, n),
        "k": rng.integers(0, 4, n),
        "f": pd.Categorical(rng.choice(["lo", "mid", "hi"], n), categories=["lo", "mid", "hi"]),
        "flag": rng.random(n) > 0.5,
        "ch": rng.choice(["a", "b"], n).astype(object),
        "g": np.repeat([f"g{j}" for j in range(12)], 8),
    })


DATA = _data()
# pylmer's own modules are all imported (and their dataclasses made) before anything is
# recorded: what the recorder then sees can only come from a fit
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    lmer("y ~ x + f + (1 | g)", DATA).summary()

_numbers = st.sampled_from(["1", "2", "0.5", "3", "10"])
_columns = st.sampled_from(["x", "z", "k"])
_math = st.sampled_from(["abs", "sqrt", "exp", "log", "log1p", "log2", "log10", "sin", "cos",
                         "tan", "floor", "ceiling", "round", "expm1", "trunc", "sign"])
_ops = st.sampled_from(["+", "-", "*", "/", "^", "%%", "%/%"])


def _numeric(depth: int):
    leaf = st.one_of(_columns, _numbers)
    if depth == 0:
        return leaf
    inner = _numeric(depth - 1)
    return st.one_of(
        leaf,
        st.builds(lambda f, a: f"{f}({a})", _math, inner),
        st.builds(lambda a, o, b: f"({a} {o} {b})", inner, _ops, inner),
        st.builds(lambda a, b: f"pmin({a}, {b})", inner, inner),
        st.builds(lambda a: f"mean({a})", inner),
        st.builds(lambda c, a, b: f"ifelse({c} > 1, {a}, {b})", _columns, inner, inner),
    )


_factor = st.one_of(
    st.sampled_from(["f", "flag", "ch", "factor(k)", "as.factor(k)", "ordered(k)",
                     "cut(z, 3)", "cut(x, breaks = c(0, 1, 2, 5))", "interaction(f, ch)",
                     "relevel(f, ref = \"hi\")", "C(f, contr.sum)", "C(f, contr.helmert)",
                     "I(z > 0)", "factor(k > 1)", "ifelse(z > 0, \"p\", \"n\")"]),
)
_transform = st.sampled_from(["poly(z, 2)", "poly(x, 2, raw = TRUE)", "ns(z, df = 3)",
                              "bs(x, df = 4)", "scale(x)", "scale(z, scale = FALSE)"])
_term = st.one_of(
    st.builds(lambda e: f"I({e})", _numeric(2)),
    _numeric(1),
    _factor,
    _transform,
    st.builds(lambda a, b: f"{a}:{b}", _factor, _columns),
    st.builds(lambda a, b: f"{a} * {b}", _factor, _factor),
)
_rhs = st.lists(_term, min_size=1, max_size=3).map(" + ".join)
_random = st.sampled_from(["(1 | g)", "(1 | g) + (0 + z | g)", "(z || g)", "(1 | f)"])
_prefix = st.sampled_from(["", "0 + ", "1 + "])


class _Recorder:
    """Wraps builtins.eval / exec / compile and records every source they are given."""

    def __init__(self):
        self.seen: list[str] = []
        self.saved = {}

    def __enter__(self):
        for name in ("eval", "exec", "compile"):
            original = getattr(builtins, name)
            self.saved[name] = original

            def wrapper(source, *args, _original=original, **kwargs):
                self.seen.append(source if isinstance(source, str) else repr(source))
                return _original(source, *args, **kwargs)

            setattr(builtins, name, wrapper)
        return self

    def __exit__(self, *exc):
        for name, original in self.saved.items():
            setattr(builtins, name, original)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=_prefix, rhs=_rhs, random=_random)
def test_random_formulas_fit_or_raise_a_pylmer_error(prefix, rhs, random):
    formula = f"y ~ {prefix}{rhs} + {random}"
    data = DATA.copy()
    with _Recorder() as seen, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            m = lmer(formula, data)
        except PylmerError:
            return
        names = set(m.lf.X_colnames)
    # nothing reached Python's evaluator, except (if ever) a column name pylmer made
    assert all(source in names for source in seen.seen), (formula, seen.seen)
    assert np.isfinite(m.REMLcrit()), formula
    assert np.isfinite(m.fixef().to_numpy()).all(), formula
    pd.testing.assert_frame_equal(data, DATA)  # the caller's data are never modified


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("xzkfg()+-*/^:|~ ,.'\"`=_![]{}%;0123\n"
                                                     "abcdelopnrstI")), max_size=60))
def test_arbitrary_text_is_parsed_or_refused_cleanly(text):
    """Any string at all: a model matrix or a pylmer error, never an internal error."""
    with _Recorder() as seen:
        try:
            lFormula("y ~ " + text + " + (1 | g)", DATA)
        except PylmerError:
            pass
        except Exception as exc:  # noqa: BLE001 -- the point of the test
            pytest.fail(f"{type(exc).__name__} for {text!r}: {exc}")
    assert seen.seen == [], (text, seen.seen)
