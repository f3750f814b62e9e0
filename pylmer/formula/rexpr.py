"""A small parser for R's formula expressions.

lme4 formulas are R code: ``Reaction ~ Days + (Days | Subject)``, ``I(age^2)``,
``cbind(incidence, size - incidence)``. This module parses that subset of R into a
tiny syntax tree, so the rest of pylmer can find random-effect bars, expand ``||`` and
``/``, evaluate expressions with its own interpreter (:mod:`.evaluate`) and print terms
the way R deparses them (which is how R names model-matrix columns).

Operator precedence follows R's ``?Syntax`` (lowest first):
``~``, ``|``/``||``, ``&``, comparison, ``+ -``, ``* /``, ``%op%``, ``:``, unary ``+ -``, ``^``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..exceptions import FormulaError
from .rvalue import r_number

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
]


class FormulaSyntaxError(FormulaError):
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
  | (?P<hex>0[xX][0-9a-fA-F]+L?)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?L?)
  | (?P<bq>`[^`]*`)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>(?:[^\W\d_]|\.)[\w.]*)
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
        if m is None and text[pos] in "[]$@":
            raise FormulaSyntaxError(
                f"R's {'indexing [ ]' if text[pos] in '[]' else text[pos]!r} at position "
                f"{pos} is not supported in formulas (formula {_short(text)!r}); compute the "
                "column in your data first")
        if m is None:
            raise FormulaSyntaxError(
                f"unexpected character {text[pos]!r} at position {pos} in formula {text!r}"
            )
        kind = m.lastgroup
        if kind != "ws":
            tok = m.group()
            if kind == "bq":
                kind, tok = "name", tok[1:-1]
            elif kind == "hex":  # R reads 0x10 as 16
                value = int(tok.rstrip("L"), 16)
                kind, tok = "num", repr(float(value)) if value.bit_length() <= 1024 else "inf"
            elif kind == "op" and tok == "**":
                tok = "^"  # R accepts ** as a synonym of ^
            tokens.append(_Tok(kind, tok, pos))
        pos = m.end()
    tokens.append(_Tok("end", "", len(text)))
    return tokens


# --------------------------------------------------------------------------- parser

# binary operators and their precedence (R's ?Syntax, lowest first); all are
# left-associative except ^, which the parser handles with the unary operators
_PRECEDENCE_OF = {"~": 1, "|": 2, "||": 2, "&": 3, "&&": 3,
                  "==": 4, "!=": 4, "<": 4, ">": 4, "<=": 4, ">=": 4,
                  "+": 5, "-": 5, "*": 6, "/": 6, "%": 7, ":": 8}
_NOT_PRECEDENCE = 4  # R's ! binds looser than comparisons: !x == 2 is !(x == 2)

# A formula is data: its size is bounded, so that no input can exhaust the stack.
MAX_NESTING = 100  # parentheses, calls and unary operators inside one another
MAX_DEPTH = 250  # operations on the longest path of the syntax tree


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.nesting = 0

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, message: str, tok: _Tok | None = None) -> FormulaSyntaxError:
        tok = tok or self.peek()
        where = f"at position {tok.pos}" if tok.kind != "end" else "at the end"
        return FormulaSyntaxError(f"{message} {where} of formula {_short(self.text)!r}")

    def enter(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.error(f"the formula nests parentheses, calls or unary operators more "
                             f"than {MAX_NESTING} deep; simplify it")

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text or tok.kind in ("name", "str", "num"):
            raise self.error(f"expected {text!r}, found {tok.text or 'nothing'!r}", tok)

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise self.error("empty formula")
        node = self.expression(1)
        if self.peek().kind != "end":
            raise self.error(f"unexpected {self.peek().text!r}")
        return node

    def _precedence(self, tok: _Tok) -> int | None:
        if tok.kind == "special":
            return _PRECEDENCE_OF["%"]
        if tok.kind == "op":
            return _PRECEDENCE_OF.get(tok.text)
        return None

    def expression(self, lowest: int) -> Node:
        """Precedence climbing over the binary operators of precedence >= ``lowest``."""
        tok = self.peek()
        if lowest <= 1 and tok.kind == "op" and tok.text == "~":  # one-sided: ~ x
            self.take()
            self.enter()
            node = UnaryOp("~", self.expression(2))
            self.nesting -= 1
            left: Node = node
        else:
            left = self.unary()
        while True:
            prec = self._precedence(self.peek())
            if prec is None or prec < lowest:
                return left
            op = self.take().text
            if self.peek().kind == "end" or self.peek().text in (")", ","):
                raise self.error(f"operator {op!r} is missing its right-hand side")
            left = BinOp(op, left, self.expression(prec + 1))

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("-", "+", "!"):
            self.take()
            self.enter()
            if tok.text == "!":
                node: Node = UnaryOp("!", self.expression(_NOT_PRECEDENCE))
            else:
                node = UnaryOp(tok.text, self.unary())
            self.nesting -= 1
            return node
        return self.power()

    def power(self) -> Node:
        base = self.primary()
        if self.peek().kind == "op" and self.peek().text == "^":
            self.take()
            self.enter()
            node = BinOp("^", base, self.unary())  # right-associative, above unary minus
            self.nesting -= 1
            return node
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
            self.enter()
            inner = self.expression(2)
            self.nesting -= 1
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
        self.enter()
        args: list[Node] = []
        kwargs: list[tuple[str, Node]] = []
        if self.peek().text == ")" and self.peek().kind == "op":
            self.take()
            self.nesting -= 1
            return Call(fn, ())
        while True:
            tok = self.peek()
            nxt = self.tokens[self.i + 1]
            if tok.kind in ("name", "str") and nxt.kind == "op" and nxt.text == "=":
                self.take()
                self.take()
                name = tok.text if tok.kind == "name" else tok.text[1:-1]
                kwargs.append((name, self.expression(2)))
            else:
                args.append(self.expression(2))
            tok = self.take()
            if tok.kind == "op" and tok.text == ")":
                self.nesting -= 1
                return Call(fn, tuple(args), tuple(kwargs))
            if not (tok.kind == "op" and tok.text == ","):
                raise self.error(f"unbalanced parentheses in call to {fn}()", tok)


def _short(text: str) -> str:
    return text if len(text) <= 200 else text[:200] + "..."


def depth(node: Node) -> int:
    """Operations on the longest path from the root (counted without recursion)."""
    deepest = 0
    stack = [(node, 1)]
    while stack:
        n, d = stack.pop()
        deepest = max(deepest, d)
        if isinstance(n, Paren):
            stack.append((n.inner, d + 1))
        elif isinstance(n, UnaryOp):
            stack.append((n.operand, d + 1))
        elif isinstance(n, BinOp):
            stack.extend([(n.left, d + 1), (n.right, d + 1)])
        elif isinstance(n, Call):
            stack.extend((a, d + 1) for a in n.args)
            stack.extend((v, d + 1) for _, v in n.kwargs)
    return deepest


def parse(text: str) -> Node:
    """Parse an R formula (or R expression) into a syntax tree.

    The tree is bounded (:data:`MAX_NESTING`, :data:`MAX_DEPTH`): deeper input is a
    :class:`FormulaSyntaxError`, never a RecursionError.
    """
    if not isinstance(text, str):
        raise TypeError(f"formula must be a string, got {type(text).__name__}")
    node = _Parser(text).parse()
    if depth(node) > MAX_DEPTH:
        raise FormulaSyntaxError(
            f"formula {_short(text)!r} is nested more than {MAX_DEPTH} operations deep; "
            "simplify it")
    return node


# --------------------------------------------------------------------------- printing

_SYNTACTIC = re.compile(r"^(?:[^\W\d_][\w.]*|\.(?!\d)[\w.]*)$")
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
    # R deparses a number with 15 significant digits: 2.0 as 2, 1e3 as 1000, 1e5 as 1e+05
    try:
        value = float(text)
    except ValueError:
        return text
    return r_number(value)


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


def variables(node: Node) -> list[str]:
    """Names an expression refers to, in order, once each: function names and ``C()``'s
    contrast (``C(f, contr.sum)``) excluded. Walked without recursion."""
    out: list[str] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Name):
            if n.id not in out:
                out.append(n.id)
        elif isinstance(n, Paren):
            stack.append(n.inner)
        elif isinstance(n, UnaryOp):
            stack.append(n.operand)
        elif isinstance(n, BinOp):
            stack.extend([n.right, n.left])
        elif isinstance(n, Call):
            args = n.args[:1] if n.fn == "C" else n.args
            stack.extend(reversed([v for _, v in n.kwargs if n.fn != "C"]))
            stack.extend(reversed(args))
    return out
