"""R's ``update.formula``: a new formula from an old one and R's shorthand (``. ~ . - x``)."""

from __future__ import annotations

from .rexpr import BinOp, Call, Name, Num, Paren, UnaryOp, deparse, parse

__all__ = ["update_formula"]


def update_formula(old: str, new: str) -> str:
    """R's ``update.formula``: ``.`` in the new formula is the old response (left) or the
    old right-hand side (right)."""
    old_tree, new_tree = parse(old), parse(new)
    if not (isinstance(old_tree, BinOp) and old_tree.op == "~"):
        return new

    def substitute(node, dot):
        if isinstance(node, Name) and node.id == ".":
            return dot
        if isinstance(node, BinOp):
            return BinOp(node.op, substitute(node.left, dot), substitute(node.right, dot))
        if isinstance(node, UnaryOp):
            return UnaryOp(node.op, substitute(node.operand, dot))
        if isinstance(node, Paren):
            return Paren(substitute(node.inner, dot))
        if isinstance(node, Call):
            return Call(node.fn, tuple(substitute(a, dot) for a in node.args), node.kwargs)
        return node

    if isinstance(new_tree, UnaryOp) and new_tree.op == "~":  # "~ . - x": keep the response
        new_tree = BinOp("~", old_tree.left, new_tree.operand)
    if not (isinstance(new_tree, BinOp) and new_tree.op == "~"):
        return new
    rhs = drop_subtracted(substitute(new_tree.right, old_tree.right))
    return deparse(BinOp("~", substitute(new_tree.left, old_tree.left), rhs))


def drop_subtracted(rhs):
    """Cancel ``- term`` against an added ``term`` on a right-hand side, as R's
    ``update.formula`` simplifies ``Days + (Days | Subject) - Days`` to ``(Days | Subject)``.
    Subtractions with nothing to cancel (``- 1``) stay."""
    def signed_terms(node, sign):
        if isinstance(node, BinOp) and node.op in ("+", "-"):
            right_sign = sign if node.op == "+" else -sign
            return signed_terms(node.left, sign) + signed_terms(node.right, right_sign)
        return [(sign, node)]

    terms = signed_terms(rhs, 1)
    kept = []
    for sign, node in terms:
        added = [i for i, (s, n) in enumerate(kept) if s > 0 and deparse(n) == deparse(node)]
        if sign < 0 and added:
            del kept[added[0]]
        else:
            kept.append((sign, node))
    if len(kept) == len(terms):
        return rhs
    if not kept or kept[0][0] < 0:
        kept.insert(0, (1, Num("1")))
    out = kept[0][1]
    for sign, node in kept[1:]:
        out = BinOp("+" if sign > 0 else "-", out, node)
    return out
