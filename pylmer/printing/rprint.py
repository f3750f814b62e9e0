"""R's number and text layout: the pieces of R that lme4's print methods rely on, so that
printed output is character-for-character R's.

- :func:`r_round` is R 4's ``round(x, digits)`` (``fround``: the nearer of the two
  candidates, ties to even);
- :func:`r_format` is ``format(x, digits, nsmall)`` for a numeric vector (``formatReal``:
  one number of decimals for the whole vector, chosen so the element needing most still
  shows ``digits`` significant digits, fixed notation unless scientific is narrower);
- :func:`zapsmall`, :func:`quantile7` (``quantile(type = 7)``), :func:`abbreviate`;
- :func:`print_matrix` and :func:`print_named` lay out character matrices and named
  vectors as ``print.default`` does (column blocks no wider than 80 characters);
- :func:`cat_fill` is ``cat(..., fill = TRUE)``, :func:`deparse_lines` ``deparse()`` of a
  formula with its 60-byte line breaking, :func:`formula_lines` the formula as lme4
  prints it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..formula.bars import expand_double_vert
from ..formula.rexpr import BinOp, Call, Node, Paren, UnaryOp, deparse, parse

__all__ = [
    "EPS", "SIGNIF_LEGEND", "format_pval", "signif_symbol",
    "WIDTH", "DIGITS", "r_round", "r_format", "format_number", "zapsmall", "quantile7",
    "abbreviate", "print_matrix", "print_named", "cat_fill", "deparse_lines", "formula_lines",
    "formula_deparse", "r_name_tag",
]

WIDTH = 80  # getOption("width")
DIGITS = 7  # getOption("digits")

# =========================================================================== numbers


def _pow_di(x: float, n: int) -> float:
    """R's ``R_pow_di``: x^n by repeated squaring (1 / x^|n| for negative n)."""
    xn = 1.0
    neg = n < 0
    n = abs(n)
    while True:
        if n & 1:
            xn *= x
        n >>= 1
        if not n:
            break
        x *= x
    return 1.0 / xn if neg else xn


def _fround(x: float, digits: float) -> float:
    if not math.isfinite(x) or math.isnan(digits):
        return x + digits if math.isnan(digits) else x
    if digits > 308 + 15 or x == 0.0:
        return x
    if digits < -308:
        return 0.0
    if digits == 0.0:
        return float(np.rint(x))
    dig = math.floor(digits + 0.5)
    sgn = -1.0 if x < 0 else 1.0
    x = abs(x)
    l10x = math.log10(2.0) * (0.5 + (math.frexp(x)[1] - 1))
    if l10x + dig > 15:
        return sgn * x
    pow10 = _pow_di(10.0, dig)
    x10 = x * pow10
    i10 = math.floor(x10)
    xd = i10 / pow10
    xu = math.ceil(x10) / pow10
    du, dd = xu - x, x - xd
    return sgn * (xu if (du < dd or (math.fmod(i10, 2.0) == 1 and du == dd)) else xd)


def r_round(x, digits: float = 0):
    """R 4's ``round(x, digits)``, element-wise; returns a float or an ndarray."""
    if np.ndim(x) == 0:
        return _fround(float(x), float(digits))
    arr = np.asarray(x, dtype=float)
    return np.array([_fround(v, float(digits)) for v in arr.ravel()]).reshape(arr.shape)


def zapsmall(x, digits: int = DIGITS) -> np.ndarray:
    """R's ``zapsmall``: round to ``digits`` significant digits of the largest value."""
    x = np.asarray(x, dtype=float)
    finite = x[~np.isnan(x)]
    if finite.size == 0:
        return x
    mx = float(np.max(np.abs(finite)))
    return r_round(x, max(0.0, digits - math.log10(mx)) if mx > 0 else digits)


def quantile7(x, probs: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0)) -> np.ndarray:
    """R's ``quantile(x, probs, type = 7)`` with R's arithmetic."""
    xs = np.sort(np.asarray(x, dtype=float))
    n = len(xs)
    out = []
    for p in probs:
        index = 1 + max(n - 1, 0) * p
        lo, hi = math.floor(index), math.ceil(index)
        q = xs[lo - 1]
        if index > lo and xs[hi - 1] != q:
            h = index - lo
            q = (1 - h) * q + h * xs[hi - 1]
        out.append(q)
    return np.array(out)


_LD = np.longdouble
_KP_MAX = 27 if np.finfo(np.longdouble).nmant > 52 else 22
_TBL = [_LD(1)]
for _ in range(_KP_MAX):
    _TBL.append(_TBL[-1] * _LD(10))  # exact: 10^27 fits a 64-bit mantissa


def _scientific(x: float, digits: int) -> tuple[int, int, int, bool]:
    """R's ``scientific()``: sign, decimal exponent, significant digits needed (at most
    ``digits``) and whether fixed notation's rounding widens the number (9996 -> 1e+04)."""
    if x == 0.0:
        return 0, 0, 1, False
    neg = int(x < 0)
    r = abs(x)
    if digits >= 16:
        text = f"{r:#.{digits - 1}e}"
        mant, exp = text.split("e")
        mant = mant.replace(".", "").rstrip("0")
        return neg, int(exp), max(1, len(mant)), False
    kp = math.floor(math.log10(r)) - digits + 1
    r_prec = _LD(r)
    if abs(kp) <= _KP_MAX:
        if kp > 0:
            r_prec = r_prec / _TBL[kp]
        elif kp < 0:
            r_prec = r_prec * _TBL[-kp]
    else:
        r_prec = r_prec / np.power(_LD(10), _LD(kp))
    if r_prec < _TBL[digits - 1]:
        r_prec = r_prec * _LD(10)
        kp -= 1
    alpha = float(np.rint(r_prec))
    nsig = digits
    for _ in range(digits):
        alpha /= 10.0
        if alpha == math.floor(alpha):
            nsig -= 1
        else:
            break
    if nsig == 0 and digits > 0:
        nsig = 1
        kp += 1
    kpower = kp + digits - 1
    rgt = min(max(digits - kpower, 0), _KP_MAX)
    fuzz = 0.5 / float(_TBL[rgt])
    widens = 0 < kpower <= _KP_MAX and _LD(r) < _TBL[kpower] - _LD(fuzz)
    return neg, kpower, nsig, bool(widens)


def format_real_info(x, digits: int = DIGITS, nsmall: int = 0,
                     na: bool = False) -> tuple[int, int, int]:
    """R's ``formatReal``: common (width, decimals, exponent flag) for a numeric vector.

    ``na=True``: a NaN stands for R's NA (printed "NA", two wide) rather than R's NaN."""
    values = np.asarray(x, dtype=float).ravel()
    nanflag = posinf = neginf = False
    neg = 0
    mxl = rgt = mxsl = mxns = None
    mnl = None
    for v in values:
        if not math.isfinite(v):
            if np.isnan(v):
                nanflag = True  # R's NA prints as "NA"; we have only NaN
            elif v > 0:
                posinf = True
            else:
                neginf = True
            continue
        neg_i, kpower, nsig, widens = _scientific(float(v), digits)
        left = kpower + 1 - (1 if widens else 0)
        sleft = neg_i + (1 if left <= 0 else left)
        right = nsig - left
        neg = neg or neg_i
        rgt = right if rgt is None else max(rgt, right)
        mxl = left if mxl is None else max(mxl, left)
        mnl = left if mnl is None else min(mnl, left)
        mxsl = sleft if mxsl is None else max(mxsl, sleft)
        mxns = nsig if mxns is None else max(mxns, nsig)
    if mxns is None:
        w, d, e = 0, 0, 0
    else:
        if mxl < 0:
            mxsl = 1 + neg
        rgt = max(rgt, 0)
        wF = mxsl + rgt + (rgt != 0)
        e = 2 if (mxl > 100 or mnl <= -99) else 1
        d = mxns - 1
        w = neg + (d > 0) + d + 4 + e
        if wF <= w:  # R_print.scipen = 0
            e = 0
            if nsmall > rgt:
                rgt = nsmall
                wF = mxsl + rgt + (rgt != 0)
            d, w = rgt, wF
    if nanflag:
        w = max(w, 2 if na else 3)
    if posinf:
        w = max(w, 3)
    if neginf:
        w = max(w, 4)
    return w, d, e


def encode_real(x: float, w: int, d: int, e: int, na: bool = False) -> str:
    """R's ``encodeReal0``: one number in the common format, right-justified to ``w``
    (a NaN as "NA" with ``na=True``)."""
    if x == 0.0:
        x = 0.0  # R drops the sign of zero: round(-1e-17, 3) prints as 0.000
    if np.isnan(x):
        text = "NA" if na else "NaN"
    elif not math.isfinite(x):
        text = "Inf" if x > 0 else "-Inf"
    elif e:
        text = f"{x:#.{d}e}" if d else f"{x:.0e}"
    else:
        text = f"{x:.{d}f}"
    return text.rjust(w)


def r_format(x, digits: int = DIGITS, nsmall: int = 0, na: bool = False) -> list[str]:
    """R's ``format(x, digits = digits, nsmall = nsmall)`` of a numeric vector.

    ``na=True`` formats NaN as R's NA ("NA"), as in tables where NaN marks a missing value
    (the first row of a likelihood-ratio table); otherwise as R's NaN."""
    values = [float(v) for v in np.asarray(x, dtype=float).ravel()]
    w, d, e = format_real_info(values, digits, nsmall, na)
    return [encode_real(v, w, d, e, na) for v in values]


def format_number(x: float, digits: int = DIGITS) -> str:
    """One number as ``cat()`` and ``print()`` show it (``digits`` significant)."""
    return r_format([x], digits)[0].strip()


# =========================================================================== text


def _stripchars(name: str, minlength: int) -> str:
    """R's C ``stripchars`` (``abbreviate(..., use.classes = TRUE)``) on an ASCII name."""
    s = list(name) + ["\0", "\0"]

    def strlen() -> int:
        return s.index("\0")

    def space(c: str) -> bool:
        return c in " \t\n\r\f\v"

    def delete(i: int) -> None:
        del s[i]
        s.append("\0")

    def first(i: int) -> bool:
        return space(s[i - 1])

    def last(i: int) -> bool:
        return not space(s[i - 1]) and (s[i + 1] == "\0" or space(s[i + 1]))

    def vowel(i: int) -> bool:
        return s[i] in "aeiou"

    def lower(i: int) -> bool:
        return "a" <= s[i] <= "z"

    nspace = 0

    def done() -> str:
        upper = strlen()
        if upper > minlength:
            for i in range(upper - 1, 0, -1):
                if space(s[i]):
                    delete(i)
        return "".join(s[: strlen()])

    if strlen() < minlength:
        return done()
    j = True
    for i in range(strlen() - 1, 0, -1):
        if space(s[i]):
            if j:
                s[i] = "\0"
            else:
                nspace += 1
        else:
            j = False
        if strlen() - nspace <= minlength:
            return done()
    passes = [
        lambda i: vowel(i) and last(i),
        lambda i: vowel(i) and not first(i),
        lambda i: lower(i) and last(i),
        lambda i: lower(i) and not first(i),
        lambda i: not first(i) and not space(s[i]) and s[i] != "\0",
    ]
    for test in passes:
        for i in range(strlen() - 1, 0, -1):
            if test(i):
                delete(i)
            if strlen() - nspace <= minlength:
                return done()
    return done()


def abbreviate(names: Sequence[str], minlength: int = 4) -> list[str]:
    """R's ``abbreviate(names, minlength)`` (method "left.kept"; made unique by
    lengthening, as R does)."""
    names = [n.strip(" ") for n in names]
    uniq = list(dict.fromkeys(names))
    out = list(uniq)
    todo = [True] * len(uniq)
    length = minlength
    while True:
        for k, name in enumerate(uniq):
            if todo[k]:
                out[k] = name if len(name) <= length else _stripchars(name, length)
        seen: set[str] = set()
        dup = []
        for v in out:
            dup.append(v in seen)
            seen.add(v)
        if not any(dup):
            break
        length += 1
        dup_values = {v for v, d in zip(out, dup) if d}
        todo = [d or v in dup_values for v, d in zip(out, dup)]
    lookup = dict(zip(uniq, out))
    return [lookup[n] for n in names]


def print_matrix(cells: Sequence[Sequence[str]], rownames: Sequence[str],
                 colnames: Sequence[str], right: bool = False, gap: int = 1,
                 width: int = WIDTH) -> list[str]:
    """``print(<character matrix>, quote = FALSE, right = right)``: the printed lines.

    Column width is the widest of the column's entries and label; row labels are
    left-justified; columns that do not fit within ``width`` go to further blocks.
    """
    nrow, ncol = len(rownames), len(colnames)
    rlabw = max((len(r) for r in rownames), default=0)
    w = [max([len(colnames[j])] + [len(cells[i][j]) for i in range(nrow)])
         for j in range(ncol)]
    lines: list[str] = []
    jmin = 0
    while jmin < ncol:
        total = rlabw
        jmax = jmin
        while True:
            total += w[jmax] + gap
            jmax += 1
            if not (jmax < ncol and total + w[jmax] + gap < width):
                break
        cols = range(jmin, jmax)
        head = " " * rlabw
        for j in cols:
            label = colnames[j]
            head += " " * gap + (label.rjust(w[j]) if right else label.ljust(w[j]))
        lines.append(head)
        for i in range(nrow):
            line = rownames[i].ljust(rlabw)
            for j in cols:
                cell = cells[i][j]
                line += " " * gap + (cell.rjust(w[j]) if right else cell.ljust(w[j]))
            lines.append(line)
        jmin = jmax
    return lines


def print_named(values: Sequence[str], names: Sequence[str], gap: int = 1,
                width: int = WIDTH) -> list[str]:
    """``print()`` of a named vector already formatted as strings (R right-justifies
    names and values to a common width, each followed by ``gap`` spaces)."""
    w = max([len(v) for v in values] + [len(n) for n in names])
    per_line = max(1, width // (w + gap))
    lines = []
    for start in range(0, len(values), per_line):
        stop = start + per_line
        lines.append("".join(n.rjust(w) + " " * gap for n in names[start:stop]))
        lines.append("".join(v.rjust(w) + " " * gap for v in values[start:stop]))
    return lines


def cat_fill(items: Sequence[str], width: int = WIDTH) -> list[str]:
    """``cat(..., fill = TRUE)``: items joined by spaces, a new line before an item that
    would pass ``width`` (the separating space stays at the end of the line)."""
    text = ""
    used = 0
    for k, item in enumerate(items):
        if k > 0:
            text += " "
        if k > 0 and used + len(item) + 1 > width:
            text += "\n"
            used = 0
        text += item
        used += len(item) + 1
    return text.split("\n")


# R's deparse() breaks lines after the operator of these (PP_BINARY) once past the cutoff
_TIGHT = {"^", ":", "/", "%%", "%/%"}


class _Deparser:
    """R's ``deparse()`` (``width.cutoff = 60``) with its line breaking and indentation."""

    def __init__(self, cutoff: int = 60):
        self.cutoff = cutoff
        self.lines: list[str] = []
        self.buf = ""
        self.indent = 0
        self.start = True

    def put(self, text: str) -> None:
        if self.start:
            self.start = False
            self.buf += "".join("    " if i <= 4 else "  " for i in range(1, self.indent + 1))
        self.buf += text

    def writeline(self) -> None:
        self.lines.append(self.buf)
        self.buf = ""
        self.start = True

    def linebreak(self, broke: bool) -> bool:
        if len(self.buf) > self.cutoff:
            if not broke:
                broke = True
                self.indent += 1
            self.writeline()
        return broke

    def node(self, node: Node) -> None:
        if isinstance(node, Paren):
            self.put("(")
            self.node(node.inner)
            self.put(")")
        elif isinstance(node, UnaryOp):
            self.put(node.op)
            self.node(node.operand)
        elif isinstance(node, BinOp):
            self.node(node.left)
            if node.op in _TIGHT:
                self.put(node.op)
                self.node(node.right)
                return
            self.put(f" {node.op} ")
            broke = self.linebreak(False)
            self.node(node.right)
            if broke:
                self.indent -= 1
        elif isinstance(node, Call):
            self.put(node.fn + "(")
            args = [(None, a) for a in node.args] + list(node.kwargs)
            broke = False
            for k, (name, arg) in enumerate(args):
                if name is not None:
                    self.put(f"{name} = ")
                self.node(arg)
                if k < len(args) - 1:
                    self.put(", ")
                    broke = self.linebreak(broke)
            if broke:
                self.indent -= 1
            self.put(")")
        else:
            self.put(deparse(node))

    def run(self, node: Node) -> list[str]:
        self.node(node)
        self.writeline()
        return self.lines


def deparse_lines(node: Node, cutoff: int = 60) -> list[str]:
    """R's ``deparse(expr)``: a list of lines of at most about ``cutoff`` bytes."""
    return _Deparser(cutoff).run(node)


def _expand_double_verts(node: Node) -> Node:
    """lme4's ``expandDoubleVerts``: ``(x || g)`` -> ``((1 | g) + (0 + x | g))``, as lmer
    writes it into the call it keeps (and prints)."""
    if isinstance(node, BinOp) and node.op == "||":
        parts = [Paren(BinOp("|", lhs, node.right)) for lhs in expand_double_vert(node.left)]
        out = parts[0]
        for part in parts[1:]:
            out = BinOp("+", out, part)
        return out
    if isinstance(node, Paren):
        return Paren(_expand_double_verts(node.inner))
    if isinstance(node, BinOp):
        return BinOp(node.op, _expand_double_verts(node.left),
                     _expand_double_verts(node.right))
    if isinstance(node, UnaryOp):
        return UnaryOp(node.op, _expand_double_verts(node.operand))
    return node


def formula_deparse(formula: str) -> list[str]:
    """``deparse(formula(m))``: the formula as lme4 keeps it in the call (``||`` expanded),
    in lines of R's deparse."""
    tree = parse(formula)
    if isinstance(tree, BinOp) and tree.op == "~":
        tree = BinOp("~", tree.left, _expand_double_verts(tree.right))
    return deparse_lines(tree)


def formula_lines(formula: str) -> list[str]:
    """The model formula as lme4 prints it ("Formula: ..." after ``cat(fill = TRUE)``)."""
    return cat_fill(["Formula:"] + formula_deparse(formula))


# =========================================================================== lme4 pieces

_R_RESERVED = {"if", "else", "repeat", "while", "function", "for", "next", "break", "TRUE",
               "FALSE", "NULL", "Inf", "NaN", "NA", "NA_integer_", "NA_real_",
               "NA_character_", "NA_complex_", "in"}


def r_name_tag(name: str) -> str:
    """How ``print()`` of a named list tags an element: ``$Subject``, or with backticks
    for a name that is not syntactic in R (``$`recipe:replicate```)."""
    import re

    syntactic = re.fullmatch(r"(([A-Za-z]|[.][._A-Za-z])[._A-Za-z0-9]*|[.])", name)
    if syntactic and name not in _R_RESERVED:
        return "$" + name
    return "$`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


# --------------------------------------------------------------------------- p-values

EPS = float(np.finfo(float).eps)  # .Machine$double.eps, printCoefmat's eps.Pvalue
# symnum's cut points and symbols in printCoefmat, and their legend (R in a UTF-8 locale
# quotes the symbols with sQuote's typographic quotes)
SIGNIF_CUTS = (0.001, 0.01, 0.05, 0.1)
SIGNIF_SYMBOLS = ("***", "**", "*", ".", " ")
SIGNIF_LEGEND = " ".join(f"{cut} \u2018{sym}\u2019" for cut, sym in
                         zip(("0",) + SIGNIF_CUTS, SIGNIF_SYMBOLS)) + " 1"


def format_pval(pv, digits: int, eps: float = EPS) -> list[str]:
    """R's ``format.pval(pv, digits, eps)``: p-values of at least 1e-4 (1e-3 for
    ``digits = 1``) in fixed notation, smaller ones in scientific notation (each group
    formatted together), those below ``eps`` as "<2e-16"."""
    pv = np.asarray(pv, dtype=float)
    out = ["NA" if np.isnan(v) else "" for v in pv]
    ok = ~np.isnan(pv)
    is0 = ok & (pv < eps)
    rest = np.flatnonzero(ok & ~is0)
    rr: list[str] = []
    if rest.size:
        vals = pv[rest]
        expo = np.floor(np.log10(np.where(vals > 0, vals, 1e-50)))
        fixp = (expo >= -3) | ((expo == -4) & (digits > 1))
        for group in (fixp, ~fixp):
            if group.any():
                for i, text in zip(rest[group], r_format(vals[group], digits)):
                    out[i] = text
        rr = [out[i] for i in rest]
    if is0.any():
        dig = max(1, digits - 2)
        if rr:
            nc = max(len(t) for t in rr)
            if dig > 1 and dig + 6 > nc:
                dig = max(1, nc - 7)
            sep = "" if dig == 1 and nc <= 6 else " "
        else:
            sep = "" if dig == 1 else " "
        below = "<" + sep + r_format([eps], dig)[0]
        for i in np.flatnonzero(is0):
            out[i] = below
    return out


def signif_symbol(p: float) -> str:
    """R's ``symnum(p, cutpoints = c(0, .001, .01, .05, .1, 1), na = FALSE)``."""
    if np.isnan(p):
        return ""
    for cut, symbol in zip(SIGNIF_CUTS, SIGNIF_SYMBOLS):
        if p <= cut:
            return symbol
    return SIGNIF_SYMBOLS[-1]
