"""R's ``terms()``: a model formula's right-hand side as an ordered list of terms.

The term algebra is R's (``terms.formula``): ``a + b`` joins, ``a:b`` interacts, ``a*b``
is ``a + b + a:b``, ``(a + b)^2`` crosses up to order 2, ``a/b`` is ``a + a:b``,
``b %in% a`` is ``a:b``, ``- a`` deletes, and ``0``, ``1``, ``- 1`` set the intercept.
Every other expression (``x``, ``log(x)``, ``I(x > 2)``, ``x > 2``) is a *variable*.
Variables are numbered in the order they first appear; a term is a set of variables and is
labelled by its variables in that order (``age %in% Sex`` after ``Sex`` is ``Sex:age``).
Terms are sorted by their order (main effects, then two-way interactions, ...), as R
does, and duplicates dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import FormulaError
from .rexpr import BinOp, Name, Node, Num, Paren, UnaryOp, deparse

__all__ = ["Terms", "terms_of"]


@dataclass(frozen=True)
class Terms:
    """The terms of a model formula's right-hand side.

    Attributes
    ----------
    variables : tuple of Node
        The variables, in order of first appearance.
    labels : tuple of str
        Each variable as R deparses it: its name in the model frame and in column names.
    terms : tuple of tuple of int
        Each term as the sorted indices of its variables, in R's order.
    intercept : bool
        Whether the model has an intercept.
    """

    variables: tuple[Node, ...]
    labels: tuple[str, ...]
    terms: tuple[tuple[int, ...], ...]
    intercept: bool

    @property
    def term_labels(self) -> list[str]:
        """R's ``attr(terms, "term.labels")``: ``["recipe", "temp", "recipe:temp"]``."""
        return [":".join(self.labels[i] for i in term) for term in self.terms]

    def used_variables(self) -> list[int]:
        """Indices of the variables that some term uses."""
        return sorted({i for term in self.terms for i in term})


class _Encoder:
    """R's ``EncodeVars``: terms as bit sets (frozensets) over the variables."""

    def __init__(self, formula: str):
        self.formula = formula
        self.variables: list[Node] = []
        self.labels: list[str] = []
        self.intercept = True

    def variable(self, node: Node) -> frozenset[int]:
        label = deparse(node)
        if label not in self.labels:
            self.labels.append(label)
            self.variables.append(node)
        return frozenset([self.labels.index(label)])

    def encode(self, node: Node) -> list[frozenset[int]]:
        if isinstance(node, Paren):
            return self.encode(node.inner)
        if isinstance(node, Num):
            if node.text in ("0", "1"):
                self.intercept = node.text == "1"
                return []
            raise FormulaError(f"invalid model formula {self.formula!r}: the number "
                               f"{node.text} cannot be a term (only 0 and 1)")
        if isinstance(node, Name) and node.id in ("TRUE", "FALSE"):  # R: as 1 and 0
            self.intercept = node.id == "TRUE"
            return []
        if isinstance(node, Name) and node.id == ".":
            raise FormulaError(f"'.' (all other columns) is not supported in formula "
                               f"{self.formula!r}: name the columns")
        if isinstance(node, UnaryOp) and node.op in ("+", "-"):
            if node.op == "+":
                return self.encode(node.operand)
            self.delete([], node.operand)
            return []
        if isinstance(node, BinOp):
            if node.op == "+":
                return _unique(self.encode(node.left) + self.encode(node.right))
            if node.op == "-":
                return self.delete(self.encode(node.left), node.right)
            if node.op == ":":
                return _interact(self.encode(node.left), self.encode(node.right))
            if node.op == "*":
                left, right = self.encode(node.left), self.encode(node.right)
                return _unique(left + right + _interact(left, right))
            if node.op == "/":
                left, right = self.encode(node.left), self.encode(node.right)
                outer = frozenset().union(*left) if left else frozenset()
                return _unique(left + [outer | t for t in right])
            if node.op == "%in%":
                left, right = self.encode(node.left), self.encode(node.right)
                inner = frozenset().union(*right) if right else frozenset()
                return _unique([t | inner for t in left])
            if node.op == "^":
                return self.power(node)
            if node.op in ("|", "||"):
                raise FormulaError(f"random-effect term {deparse(node)!r} in "
                                   f"{self.formula!r} must be in parentheses: (lhs | group)")
        return [self.variable(node)]

    def delete(self, left: list[frozenset[int]], node: Node) -> list[frozenset[int]]:
        inner = node.inner if isinstance(node, Paren) else node
        if isinstance(inner, Num) and inner.text in ("0", "1"):
            self.intercept = inner.text == "0"  # - 1 removes it, - 0 puts it back
            return left
        keep_intercept = self.intercept
        removed = set(self.encode(node))
        self.intercept = keep_intercept
        return [t for t in left if t not in removed]

    def power(self, node: BinOp) -> list[frozenset[int]]:
        exponent = node.right.inner if isinstance(node.right, Paren) else node.right
        if not isinstance(exponent, Num) or float(exponent.text) != int(float(exponent.text)) \
                or float(exponent.text) <= 1:  # R: "invalid power in formula" for k <= 1
            raise FormulaError(f"invalid power in formula term {deparse(node)!r}: write "
                               "(a + b)^k with a whole number k >= 2")
        base = self.encode(node.left)
        out = list(base)
        for _ in range(min(int(float(exponent.text)), len(self.labels)) - 1):
            out = _unique(out + _interact(out, base))
        return out


def _interact(left: list[frozenset[int]], right: list[frozenset[int]]) -> list[frozenset[int]]:
    return _unique([a | b for a in left for b in right])


def _unique(terms: list[frozenset[int]]) -> list[frozenset[int]]:
    out: list[frozenset[int]] = []
    for t in terms:
        if t and t not in out:
            out.append(t)
    return out


def terms_of(signed: list[tuple[int, Node]], formula: str) -> Terms:
    """R's ``terms()`` of a right-hand side given as signed top-level parts.

    Parameters
    ----------
    signed : list of (sign, Node)
        The top-level parts (``+ a``, ``- 1``), in order.
    formula : str
        The formula's text, for error messages.
    """
    enc = _Encoder(formula)
    found: list[frozenset[int]] = []
    for sign, node in signed:
        if sign > 0:
            found = _unique(found + enc.encode(node))
        else:
            found = enc.delete(found, node)
    ordered = sorted(found, key=len)  # stable: R's order by degree
    return Terms(
        variables=tuple(enc.variables),
        labels=tuple(enc.labels),
        terms=tuple(tuple(sorted(t)) for t in ordered),
        intercept=enc.intercept,
    )
