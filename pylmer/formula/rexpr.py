"""A small parser for R's formula expressions.

lme4 formulas are R code: ``Reaction ~ Days + (Days | Subject)``, ``I(age^2)``,
``cbind(incidence, size - incidence)``. This module parses that subset of R into a
tiny syntax tree, so the rest of pylmer can find random-effect bars, expand ``||`` and
``/``, print terms the way R deparses them (which is how R names model-matrix columns)
and hand the fixed part to formulaic in Python spelling.

Operator precedence follows R's ``?Syntax`` (lowest first):
``~``, ``|``/``||``, ``&``, comparison, ``+ -``, ``* /``, ``%op%``, ``:``, unary ``+ -``, ``^``.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

__all__ = [
    "BinOp",
    "Call",
    "FormulaSyntaxError",
    "Name",
    "Node",
    "Num",
    "Paren",
    "Str",
    "UnaryOp",
    "deparse",
    "parse",
    "to_python",
]


class FormulaSyntaxError(ValueError):
    """Raised when a formula is not valid R formula syntax."""


@dataclass(frozen=True)
class Node:
    pass


@dataclass(frozen=True)
class Name(Node):
    id: str


@dataclass(frozen=True)
class Num(Node):
    text: str


@dataclass(frozen=True)
class Str(Node):
    value: str


@dataclass(frozen=True)
class Call(Node):
    fn: str
    args: tuple[Node, ...]
    kwargs: tuple[tuple[str, Node], ...] = ()


@dataclass(frozen=True)
class BinOp(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class UnaryOp(Node):
    op: str
    operand: Node


@dataclass(frozen=True)
class Paren(Node):
    inner: Node


# --------------------------------------------------------------------------- tokenizer

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?L?)
  | (?P<bq>`[^`]*`)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z.][A-Za-z0-9._]*)
  | (?P<special>%[^%]*%)
  | (?P<op>\|\||&&|==|!=|<=|>=|\*\*|[~|&<>+\-*/:^(),=!])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    tokens = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise FormulaSyntaxError(
                f"unexpected character {text[pos]!r} at position {pos} in formula {text!r}"
            )
        kind = m.lastgroup
        if kind != "ws":
            tok = m.group()
            if kind == "bq":
                kind, tok = "name", tok[1:-1]
            elif kind == "op" and tok == "**":
                tok = "^"  # R accepts ** as a synonym of ^
            tokens.append(_Tok(kind, tok, pos))
        pos = m.end()
    tokens.append(_Tok("end", "", len(text)))
    return tokens


# --------------------------------------------------------------------------- parser

# binary operators by precedence level, lowest first; all left-associative except ^
_LEVELS = [
    ("~",),
    ("|", "||"),
    ("&", "&&"),
    ("==", "!=", "<", ">", "<=", ">="),
    ("+", "-"),
    ("*", "/"),
    ("%",),  # any %op%
    (":",),
]


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, message: str, tok: _Tok | None = None) -> FormulaSyntaxError:
        tok = tok or self.peek()
        where = f"at position {tok.pos}" if tok.kind != "end" else "at the end"
        return FormulaSyntaxError(f"{message} {where} of formula {self.text!r}")

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text or tok.kind in ("name", "str", "num"):
            raise self.error(f"expected {text!r}, found {tok.text or 'nothing'!r}", tok)

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise self.error("empty formula")
        node = self.binary(0)
        if self.peek().kind != "end":
            raise self.error(f"unexpected {self.peek().text!r}")
        return node

    def _is_op(self, tok: _Tok, ops: tuple[str, ...]) -> bool:
        if tok.kind == "special":
            return ops == ("%",)
        return tok.kind == "op" and tok.text in ops

    def binary(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self.unary()
        ops = _LEVELS[level]
        # R allows a one-sided formula: ~ x
        if ops == ("~",) and self._is_op(self.peek(), ops):
            self.take()
            return UnaryOp("~", self.binary(level + 1))
        left = self.binary(level + 1)
        while self._is_op(self.peek(), ops):
            op = self.take().text
            if self.peek().kind == "end" or self.peek().text in (")", ","):
                raise self.error(f"operator {op!r} is missing its right-hand side")
            left = BinOp(op, left, self.binary(level + 1))
        return left

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("-", "+", "!"):
            self.take()
            return UnaryOp(tok.text, self.unary())
        return self.power()

    def power(self) -> Node:
        base = self.primary()
        if self.peek().kind == "op" and self.peek().text == "^":
            self.take()
            return BinOp("^", base, self.unary())  # right-associative, binds tighter than unary -
        return base

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "num":
            return Num(tok.text.rstrip("L"))
        if tok.kind == "str":
            return Str(tok.text[1:-1])
        if tok.kind == "name":
            if self.peek().kind == "op" and self.peek().text == "(":
                return self.call(tok.text)
            return Name(tok.text)
        if tok.kind == "op" and tok.text == "(":
            if self.peek().kind == "op" and self.peek().text == ")":
                raise self.error("empty parentheses", tok)
            inner = self.binary(1)
            if self.peek().text != ")" or self.peek().kind != "op":
                raise self.error("unbalanced parentheses: missing ')'", tok)
            self.take()
            return Paren(inner)
        if tok.kind == "end":
            raise self.error("formula ends unexpectedly", tok)
        if tok.text == ")":
            raise self.error("unbalanced parentheses: unexpected ')'", tok)
        raise self.error(f"unexpected {tok.text!r}", tok)

    def call(self, fn: str) -> Call:
        self.expect("(")
        args: list[Node] = []
        kwargs: list[tuple[str, Node]] = []
        if self.peek().text == ")" and self.peek().kind == "op":
            self.take()
            return Call(fn, ())
        while True:
            tok = self.peek()
            nxt = self.tokens[self.i + 1]
            if tok.kind == "name" and nxt.kind == "op" and nxt.text == "=":
                self.take()
                self.take()
                kwargs.append((tok.text, self.binary(1)))
            else:
                args.append(self.binary(1))
            tok = self.take()
            if tok.kind == "op" and tok.text == ")":
                return Call(fn, tuple(args), tuple(kwargs))
            if not (tok.kind == "op" and tok.text == ","):
                raise self.error(f"unbalanced parentheses in call to {fn}()", tok)


def parse(text: str) -> Node:
    """Parse an R formula (or R expression) into a syntax tree."""
    if not isinstance(text, str):
        raise TypeError(f"formula must be a string, got {type(text).__name__}")
    return _Parser(text).parse()


# --------------------------------------------------------------------------- printing

_SYNTACTIC = re.compile(r"^((\.[A-Za-z._]|[A-Za-z])[A-Za-z0-9._]*|\.)$")
_R_RESERVED = {"if", "else", "repeat", "while", "function", "for", "next", "break",
               "TRUE", "FALSE", "NULL", "Inf", "NaN", "NA", "in"}
# operators R's deparse() prints without surrounding spaces
_TIGHT = {"^", ":", "/", "%%", "%/%"}


_R_CONSTANTS = {"TRUE", "FALSE", "NULL", "Inf", "NaN", "NA"}


def _r_name(name: str) -> str:
    if name in _R_CONSTANTS or (_SYNTACTIC.match(name) and name not in _R_RESERVED):
        return name
    return f"`{name}`"


def _r_num(text: str) -> str:
    # R deparses 2.0 as 2 and 1e3 as 1000
    try:
        value = float(text)
    except ValueError:
        return text
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def deparse(node: Node) -> str:
    """Print a syntax tree as R's ``deparse()`` would (R's column-naming rules)."""
    if isinstance(node, Name):
        return _r_name(node.id)
    if isinstance(node, Num):
        return _r_num(node.text)
    if isinstance(node, Str):
        return '"' + node.value + '"'
    if isinstance(node, Paren):
        return "(" + deparse(node.inner) + ")"
    if isinstance(node, UnaryOp):
        return node.op + (" " if node.op == "~" else "") + deparse(node.operand)
    if isinstance(node, BinOp):
        sep = node.op if node.op in _TIGHT else f" {node.op} "
        return deparse(node.left) + sep + deparse(node.right)
    if isinstance(node, Call):
        parts = [deparse(a) for a in node.args]
        parts += [f"{k} = {deparse(v)}" for k, v in node.kwargs]
        return f"{node.fn}(" + ", ".join(parts) + ")"
    raise TypeError(f"cannot deparse {node!r}")


# R operators inside a function call, as Python spells them
_PY_OPS = {"^": "**", "%%": "%", "%/%": "//", "&&": "and", "||": "or", "|": "|", "&": "&"}
_PY_CONST = {"TRUE": "True", "FALSE": "False", "T": "True", "F": "False", "NULL": "None",
             "Inf": "inf", "pi": "pi"}


def _py_name(name: str) -> str:
    if name.isidentifier() and not keyword.iskeyword(name):
        return name
    return f"`{name}`"


def to_python(node: Node, inside_call: bool = False) -> str:
    """Spell a tree for formulaic.

    At formula level, operators keep their formula meaning (``+``, ``:``, ``*``, ``^``
    for crossing); inside function calls the argument is Python code, so R arithmetic is
    translated (``I(age^2)`` becomes ``I(age ** 2)``: in Python ``^`` is XOR).
    """
    if isinstance(node, Name):
        if inside_call and node.id in _PY_CONST:
            return _PY_CONST[node.id]
        return _py_name(node.id)
    if isinstance(node, Num):
        return node.text
    if isinstance(node, Str):
        return repr(node.value)
    if isinstance(node, Paren):
        return "(" + to_python(node.inner, inside_call) + ")"
    if isinstance(node, UnaryOp):
        op = "not " if (node.op == "!" and inside_call) else node.op
        return op + to_python(node.operand, inside_call)
    if isinstance(node, BinOp):
        if not inside_call:
            return f"{to_python(node.left)} {node.op} {to_python(node.right)}"
        # Python's precedence differs from R's (x > 2 & z): keep R's grouping explicit
        left, right = (to_python(n, True) for n in (node.left, node.right))
        left = f"({left})" if isinstance(node.left, BinOp) else left
        right = f"({right})" if isinstance(node.right, BinOp) else right
        return f"{left} {_PY_OPS.get(node.op, node.op)} {right}"
    if isinstance(node, Call):
        parts = [to_python(a, True) for a in node.args]
        parts += [f"{k}={to_python(v, True)}" for k, v in node.kwargs]
        return f"{node.fn}(" + ", ".join(parts) + ")"
    raise TypeError(f"cannot translate {node!r}")


def variables(node: Node) -> list[str]:
    """Names referenced by an expression (function names excluded), in order, once each."""
    out: list[str] = []

    def walk(n: Node) -> None:
        if isinstance(n, Name):
            if n.id not in out:
                out.append(n.id)
        elif isinstance(n, Paren):
            walk(n.inner)
        elif isinstance(n, UnaryOp):
            walk(n.operand)
        elif isinstance(n, BinOp):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Call):
            for a in n.args:
                walk(a)
            for _, v in n.kwargs:
                walk(v)

    walk(node)
    return out


# --------------------------------------------------------------------------- Python -> R

_FROM_PY_BINOP = {
    "Add": "+", "Sub": "-", "Mult": "*", "Div": "/", "Pow": "^", "Mod": "%%",
    "FloorDiv": "%/%", "BitAnd": "&", "BitOr": "|",
}
_FROM_PY_CMP = {"Eq": "==", "NotEq": "!=", "Lt": "<", "Gt": ">", "LtE": "<=", "GtE": ">="}
_FROM_PY_CONST = {True: "TRUE", False: "FALSE", None: "NULL"}


def from_python(expr: str) -> Node:
    """formulaic's (Python) spelling of an expression -> an R tree.

    formulaic normalises what we give it (``I(age ** 2)``, ``x % 3``); R names columns by
    deparsing the R expression (``I(age^2)``, ``x%%3``), so we translate back.
    """
    import ast

    quoted: dict[str, str] = {}

    def unquote(match: re.Match) -> str:
        key = f"_pylmer_q{len(quoted)}_"
        quoted[key] = match.group(1)
        return key

    tree = ast.parse(re.sub(r"`([^`]*)`", unquote, expr), mode="eval").body

    def name(text: str) -> Name:
        return Name(quoted.get(text, text))

    def conv(n: ast.AST) -> Node:
        if isinstance(n, ast.Name):
            return name(n.id)
        if isinstance(n, ast.Attribute):  # total.fruits reads as an attribute in Python
            inner = conv(n.value)
            if isinstance(inner, Name):
                return Name(f"{inner.id}.{n.attr}")
            raise FormulaSyntaxError(f"cannot translate {expr!r}")
        if isinstance(n, ast.Constant):
            if isinstance(n.value, bool) or n.value is None:
                return Name(_FROM_PY_CONST[n.value])
            if isinstance(n.value, str):
                return Str(n.value)
            return Num(repr(n.value))
        if isinstance(n, ast.BinOp):
            return BinOp(_FROM_PY_BINOP[type(n.op).__name__], conv(n.left), conv(n.right))
        if isinstance(n, ast.UnaryOp):
            op = {"USub": "-", "UAdd": "+", "Not": "!", "Invert": "!"}[type(n.op).__name__]
            return UnaryOp(op, conv(n.operand))
        if isinstance(n, ast.Compare) and len(n.ops) == 1:
            return BinOp(_FROM_PY_CMP[type(n.ops[0]).__name__], conv(n.left),
                         conv(n.comparators[0]))
        if isinstance(n, ast.BoolOp):
            op = "&&" if isinstance(n.op, ast.And) else "||"
            out = conv(n.values[0])
            for v in n.values[1:]:
                out = BinOp(op, out, conv(v))
            return out
        if isinstance(n, ast.Call):
            fn = conv(n.func)
            if not isinstance(fn, Name):
                raise FormulaSyntaxError(f"cannot translate {expr!r}")
            return Call(fn.id, tuple(conv(a) for a in n.args),
                        tuple((k.arg, conv(k.value)) for k in n.keywords))
        raise FormulaSyntaxError(f"cannot translate {expr!r}")

    return _parenthesize(conv(tree))


_PRECEDENCE = {"|": 1, "||": 1, "&": 2, "&&": 2, "==": 3, "!=": 3, "<": 3, ">": 3, "<=": 3,
               ">=": 3, "+": 4, "-": 4, "*": 5, "/": 5, "%%": 6, "%/%": 6, ":": 7, "^": 9}


def _parenthesize(node: Node) -> Node:
    """Python trees carry no parentheses: add R's where precedence needs them."""
    if isinstance(node, BinOp):
        left, right = _parenthesize(node.left), _parenthesize(node.right)
        mine = _PRECEDENCE.get(node.op, 0)
        if isinstance(left, BinOp) and _PRECEDENCE.get(left.op, 0) < mine:
            left = Paren(left)
        if isinstance(right, BinOp) and (_PRECEDENCE.get(right.op, 0) < mine or (
                _PRECEDENCE.get(right.op, 0) == mine and node.op != "^")):
            right = Paren(right)
        if node.op == "^" and isinstance(left, UnaryOp):
            left = Paren(left)
        return BinOp(node.op, left, right)
    if isinstance(node, UnaryOp):
        inner = _parenthesize(node.operand)
        if isinstance(inner, BinOp) and _PRECEDENCE.get(inner.op, 0) < 9:
            inner = Paren(inner)
        return UnaryOp(node.op, inner)
    if isinstance(node, Call):
        return Call(node.fn, tuple(_parenthesize(a) for a in node.args),
                    tuple((k, _parenthesize(v)) for k, v in node.kwargs))
    return node
