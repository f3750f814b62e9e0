"""Random-effect bars: lme4's ``findbars``, ``nobars``, ``expandDoubleVerts`` and ``/``.

A mixed-model formula is split into its response, its fixed part and its random-effect
terms. Each term ``(lhs | group)`` is kept as a :class:`RandomTerm`; ``(x || g)`` becomes
``(1 | g) + (0 + x | g)`` and ``(1 | a/b)`` becomes ``(1 | b:a) + (1 | a)``, exactly as
lme4 writes them (the grouping names ``cask:batch``, ``student:(class:school)`` are
lme4's).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .rexpr import (
    BinOp,
    Call,
    FormulaSyntaxError,
    Name,
    Node,
    Num,
    Paren,
    UnaryOp,
    deparse,
    parse,
    variables,
)
from .terms import Terms, terms_of

__all__ = ["MixedFormula", "RandomTerm", "parse_mixed_formula"]


@dataclass(frozen=True)
class RandomTerm:
    """One random-effect term ``(lhs | group)``.

    Attributes
    ----------
    lhs : Node
        The left-hand side, a model formula for the term's columns (``1``, ``Days``,
        ``0 + Days``).
    group : tuple of str
        Variables whose interaction forms the grouping factor (``("batch",)``,
        ``("cask", "batch")`` for ``cask:batch``).
    group_name : str
        The grouping factor's name as lme4 prints it (``"cask:batch"``).
    """

    lhs: Node
    group: tuple[str, ...]
    group_name: str

    @property
    def lhs_text(self) -> str:
        return deparse(self.lhs)

    def __str__(self) -> str:
        return f"({self.lhs_text} | {self.group_name})"

    @cached_property
    def terms(self) -> Terms:
        """R's terms of the left-hand side, a model formula of its own (``~ 0 + x``)."""
        return terms_of(flatten_sum(self.lhs), str(self))


@dataclass(frozen=True)
class MixedFormula:
    """A parsed lme4 formula.

    Attributes
    ----------
    text : str
        The formula as given.
    response : Node or None
        The left-hand side (``Reaction``, ``cbind(incidence, size - incidence)``).
    fixed_terms : tuple of (sign, Node)
        Top-level terms of the fixed part; sign is ``+1`` or ``-1`` (for ``- 1``).
    offsets : tuple of Node
        Arguments of ``offset(...)`` terms.
    random : tuple of RandomTerm
        Random-effect terms in formula order, after expanding ``||`` and ``/``.
    """

    text: str
    response: Node | None
    fixed_terms: tuple[tuple[int, Node], ...]
    offsets: tuple[Node, ...]
    random: tuple[RandomTerm, ...]

    @cached_property
    def terms(self) -> Terms:
        """R's terms of the fixed part."""
        return terms_of(list(self.fixed_terms), self.text)

    @property
    def fixed_rhs(self) -> str:
        """The fixed part's right-hand side in R spelling (``"1"`` when empty)."""
        return _join_terms(self.fixed_terms)

    def __str__(self) -> str:
        lhs = deparse(self.response) + " " if self.response is not None else ""
        rhs = [self.fixed_rhs] + [str(t) for t in self.random]
        return lhs + "~ " + " + ".join(rhs)


def _join_terms(terms: tuple[tuple[int, Node], ...]) -> str:
    if not terms:
        return "1"
    out = ""
    for k, (sign, node) in enumerate(terms):
        text = deparse(node)
        if k == 0:
            out = text if sign > 0 else f"-{text}"
        else:
            out += (" + " if sign > 0 else " - ") + text
    return out


def flatten_sum(node: Node, sign: int = 1) -> list[tuple[int, Node]]:
    """Split ``a + b - c`` into signed top-level terms."""
    if isinstance(node, BinOp) and node.op in ("+", "-"):
        right_sign = sign if node.op == "+" else -sign
        return flatten_sum(node.left, sign) + flatten_sum(node.right, right_sign)
    if isinstance(node, UnaryOp) and node.op in ("+", "-"):
        return flatten_sum(node.operand, sign if node.op == "+" else -sign)
    return [(sign, node)]


def _is_bar(node: Node) -> bool:
    return isinstance(node, BinOp) and node.op in ("|", "||")


def _contains_bar(node: Node) -> bool:
    if _is_bar(node):
        return True
    if isinstance(node, Paren):
        return _contains_bar(node.inner)
    if isinstance(node, BinOp) and node.op in ("+", "-"):
        return _contains_bar(node.left) or _contains_bar(node.right)
    return False


def _group_variables(node: Node, formula: str) -> list[list[str]]:
    """Grouping expression -> list of interactions (each a list of variable names).

    ``a`` -> [[a]]; ``a:b`` -> [[a, b]]; ``a/b`` -> [[b, a], [a]] (lme4's
    ``makeInteraction``: the innermost factor is written first).
    """
    if isinstance(node, Name):
        return [[node.id]]
    if isinstance(node, Paren):
        return _group_variables(node.inner, formula)
    if isinstance(node, BinOp) and node.op == ":":
        left = _group_variables(node.left, formula)
        right = _group_variables(node.right, formula)
        if len(left) != 1 or len(right) != 1:
            raise FormulaSyntaxError(
                f"cannot combine ':' with '/' in grouping factor {deparse(node)!r} of {formula!r}"
            )
        return [left[0] + right[0]]
    if isinstance(node, BinOp) and node.op == "/":
        outer = _group_variables(node.left, formula)
        inner = _group_variables(node.right, formula)
        if len(inner) != 1:
            raise FormulaSyntaxError(f"unsupported nesting {deparse(node)!r} in {formula!r}")
        return [inner[0] + outer[0]] + outer
    raise FormulaSyntaxError(
        f"grouping factor {deparse(node)!r} in {formula!r} must be a variable name, an "
        "interaction a:b or a nesting a/b"
    )


def _group_name(variables: list[str]) -> str:
    """lme4's printed name: ``c:(b:a)`` for a three-way nesting, ``b:a`` for two."""
    names = [deparse(Name(v)) for v in variables]
    out = names[-1]
    for k, name in enumerate(reversed(names[:-1])):
        out = f"{name}:{out}" if k == 0 else f"{name}:({out})"
    return out


def _interaction_name(variables: list[str], node: Node) -> str:
    # a written interaction keeps its spelling; a nesting gets lme4's parentheses
    if isinstance(node, BinOp) and node.op == ":":
        return deparse(node)
    return _group_name(variables)


def expand_double_vert(lhs: Node) -> list[Node]:
    """``(1 + x + z || g)`` -> lhs ``1``, ``0 + x``, ``0 + z`` (lme4's expandDoubleVerts)."""
    terms = flatten_sum(lhs)
    no_intercept = any(
        (s < 0 and isinstance(t, Num) and t.text == "1") or (s > 0 and isinstance(t, Num)
                                                              and t.text == "0")
        for s, t in terms
    )
    columns = [t for s, t in terms if s > 0 and not isinstance(t, Num)]
    out: list[Node] = [] if no_intercept else [Num("1")]
    out += [BinOp("+", Num("0"), t) for t in columns]
    return out


def _bar_terms(node: Node, formula: str) -> list[RandomTerm]:
    if isinstance(node, Paren):
        return _bar_terms(node.inner, formula)
    if isinstance(node, BinOp) and node.op in ("+", "-") and not _is_bar(node):
        return _bar_terms(node.left, formula) + _bar_terms(node.right, formula)
    if not _is_bar(node):
        raise FormulaSyntaxError(
            f"term {deparse(node)!r} mixes random-effect bars with other terms in {formula!r}"
        )
    lhs_nodes = expand_double_vert(node.left) if node.op == "||" else [node.left]
    groups = _group_variables(node.right, formula)
    terms = []
    # lme4 expands || first and / second: (x || g/h) is (1 | h:g) + (1 | g) + (0 + x | h:g)
    # + (0 + x | g), in that order before the terms are sorted by their numbers of levels
    for lhs in lhs_nodes:
        for group in groups:
            name = _interaction_name(group, node.right) if len(groups) == 1 else \
                _group_name(group)
            terms.append(RandomTerm(lhs=lhs, group=tuple(group), group_name=name))
    return terms


def _expand_dot(node: Node, columns: list[str]) -> Node:
    """R's ``.`` in the fixed part: every column of the data not in the response."""
    if isinstance(node, Name) and node.id == ".":
        out: Node = Name(columns[0])
        for name in columns[1:]:
            out = BinOp("+", out, Name(name))
        return Paren(out)
    if isinstance(node, Paren):
        return Paren(_expand_dot(node.inner, columns))
    if isinstance(node, BinOp) and node.op in ("+", "-", "*", ":", "/", "^", "%in%"):
        return BinOp(node.op, _expand_dot(node.left, columns), _expand_dot(node.right, columns))
    if isinstance(node, UnaryOp) and node.op in ("+", "-"):
        return UnaryOp(node.op, _expand_dot(node.operand, columns))
    return node


def parse_mixed_formula(formula: str, columns: list[str] | None = None) -> MixedFormula:
    """Parse an lme4 formula into response, fixed terms, offsets and random terms.

    Parameters
    ----------
    formula : str
        For example ``"Reaction ~ Days + (Days | Subject)"``.
    columns : list of str, optional
        The data's columns: ``.`` in the fixed part stands for those not in the response.

    Raises
    ------
    FormulaSyntaxError
        For malformed formulas: unbalanced parentheses, ``(x |)``, ``(| g)``, no ``~``.
    """
    tree = parse(formula)
    if isinstance(tree, UnaryOp) and tree.op == "~":
        response, rhs = None, tree.operand
    elif isinstance(tree, BinOp) and tree.op == "~":
        response, rhs = tree.left, tree.right
    else:
        raise FormulaSyntaxError(
            f"formula {formula!r} has no '~': write it as 'response ~ terms', e.g. "
            "'Reaction ~ Days + (Days | Subject)'"
        )
    fixed: list[tuple[int, Node]] = []
    offsets: list[Node] = []
    random: list[RandomTerm] = []
    for sign, term in flatten_sum(rhs):
        if _is_bar(term):
            raise FormulaSyntaxError(
                f"random-effect term {deparse(term)!r} in {formula!r} must be in parentheses, "
                "e.g. (1 | g)"
            )
        if _contains_bar(term):
            if sign < 0:
                raise FormulaSyntaxError(f"cannot subtract random term {deparse(term)!r}")
            random += _bar_terms(term, formula)
        elif isinstance(term, Call) and term.fn == "offset":
            if len(term.args) != 1 or term.kwargs:
                raise FormulaSyntaxError(f"offset() takes one argument in {formula!r}")
            offsets.append(term.args[0])
        else:
            fixed.append((sign, term))
    if columns is not None:
        used = set(variables(response)) if response is not None else set()
        others = [str(c) for c in columns if str(c) not in used]
        if others:
            fixed = [(sign, _expand_dot(term, others)) for sign, term in fixed]
    parsed = MixedFormula(formula, response, tuple(fixed), tuple(offsets), tuple(random))
    for term in (parsed, *parsed.random):  # the term algebra's errors belong to parsing
        _ = term.terms
    return parsed

