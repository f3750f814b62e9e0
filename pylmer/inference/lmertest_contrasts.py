"""lmerTest's hypothesis matrices for the fixed terms of an LMM: types I, II and III.

One matrix L per term (rows = restrictions, columns = the model's coefficients); the term
is tested by ``L beta = 0``. As lmerTest 3.1-3:

- type I (``get_contrasts_type1``): sequential. ``L' `` is the unit lower-triangular
  Doolittle factor of ``crossprod(X)``; a term's rows test it adjusted for the terms before
  it and ignoring those after.
- type II (``get_contrasts_type2_unfolded``): a term contained in no other term gets its
  marginal contrast (rows of the identity for its columns); any other term the type I
  rows of ``crossprod(X)`` with its columns and those of the terms containing it moved
  last, i.e. adjusted for every term except those containing it.
- type III (``get_contrasts_type3``): with X in treatment coding and rdX the
  over-parameterized design (every level of every factor), ``L = (X^+ rdX)'``; the columns
  of a term contained in a higher-order term are orthogonalized against that term's
  columns, and the result is mapped to the model's own contrast coding.

Containment is lmerTest's (SAS's): term F1 is contained in F2 when every variable of F1
is in F2, F2 has more variables, and both have the same numeric variables; so ``sex`` is
not contained in ``verbal:sex`` when verbal is numeric.

A model with at most one term (or one column) gets the type I matrices for every type,
as in lmerTest: the type I rows are then a basis of the same hypothesis, and lmerTest's
Satterthwaite df depend on the basis.
"""

from __future__ import annotations

import numpy as np

from ..design.fixed import fixed_design
from ..design.modelmatrix import term_columns, term_names

__all__ = ["containment", "doolittle", "lmertest_contrasts"]


def _terms(model):
    """(labels, variable index tuples, intercept) of the fixed terms, in R's order."""
    terms = model.lf.fixed.plan.terms
    return list(terms.term_labels), list(terms.terms), bool(terms.intercept)


def _term_columns(labels, assign) -> dict[str, np.ndarray]:
    """lmerTest's ``term2colX``: each term's columns of X (0-based; none for a term whose
    columns were all dropped for rank deficiency)."""
    return {label: np.flatnonzero(assign == k) for k, label in enumerate(labels, start=1)}


def containment(model) -> dict[str, list[str]]:
    """lmerTest's ``containment``: for each term, the terms that contain it.

    A variable is numeric as R's ``dataClasses`` says "numeric": a plain double or
    integer vector (a logical, a factor or a matrix such as ``poly(x, 2)`` is not)."""
    labels, terms, _ = _terms(model)
    variables = model.lf.fr.variables
    names = model.lf.fixed.plan.terms.labels

    def numeric(i):
        value = variables[names[i]]
        return value.kind in ("double", "integer") and not value.is_matrix

    numerics = [{i for i in term if numeric(i)} for term in terms]
    return {label: [other for j, other in enumerate(labels)
                    if set(terms[k]) < set(terms[j]) and numerics[k] == numerics[j]]
            for k, label in enumerate(labels)}


def doolittle(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """lmerTest's ``doolittle(x)$L``: the unit lower-triangular L of ``x = L U``.

    As lmerTest, a pivot below ``eps`` (a column aliased with the earlier ones) gives a
    zero column of L instead of a division by (nearly) zero, and entries of L below
    ``eps`` are set to zero at the end (both thresholds absolute)."""
    n = x.shape[0]
    L, U = np.eye(n), np.zeros((n, n))
    for i in range(n):
        U[i] = x[i] - L[i, :i] @ U[:i]
        below = x[i + 1:, i] - L[i + 1:, :i] @ U[:i, i]
        L[i + 1:, i] = 0.0 if abs(U[i, i]) < eps else below / U[i, i]
    L[np.abs(L) < eps] = 0.0
    return L


def _type1(model) -> dict[str, np.ndarray]:
    X = model.lf.X
    labels, _, intercept = _terms(model)
    p = X.shape[1]
    if p == 0 or (p == 1 and intercept):  # no fixed term to test
        return {}
    Lt = np.ones((1, 1)) if p == 1 else doolittle(X.T @ X).T
    columns = _term_columns(labels, model.lf.fixed.assign)
    return {label: Lt[columns[label]] for label in labels}


def _type2(model) -> dict[str, np.ndarray]:
    X = model.lf.X
    labels, _, _ = _terms(model)
    p = X.shape[1]
    columns = _term_columns(labels, model.lf.fixed.assign)
    contained_in = containment(model)
    identity = np.eye(p)
    out = {}
    for label in labels:
        own = columns[label]
        if not contained_in[label]:  # marginal: the term's own coefficients are zero
            out[label] = identity[own]
            continue
        # the term, then the terms containing it, last: its type I rows then test it
        # adjusted for all the others but not for the terms that contain it
        moved = np.concatenate([own] + [columns[c] for c in contained_in[label]])
        order = np.concatenate([np.setdiff1d(np.arange(p), moved), moved])
        Xo = X[:, order]
        Lt = doolittle(Xo.T @ Xo).T
        rows = np.flatnonzero(np.isin(order, own))
        out[label] = Lt[rows][:, np.argsort(order)]  # back to X's column order
    return out


def _zapsmall(a: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """R's ``zapsmall``: entries negligible against the largest are exact zeros."""
    top = np.max(np.abs(a)) if a.size else 0.0
    return np.where(np.abs(a) < tol * top, 0.0, a)


def _rdX(model, terms):
    """lmerTest's ``get_rdX``: intercept, then ``~ 0 + term`` for every term (every level
    of every factor, the first factor varying fastest)."""
    lf = model.lf
    plan, n = lf.fixed.plan, lf.n
    columns, names = [np.ones((n, 1))], ["(Intercept)"]
    for term in terms:
        codings, full = [plan.codings[i] for i in term], (True,) * len(term)
        columns.append(term_columns(codings, full, lf.fr.variables, n))
        names += term_names(codings, full)
    return np.hstack(columns), names


def _type3(model) -> dict[str, np.ndarray]:
    lf = model.lf
    labels, terms, _ = _terms(model)
    treatment = fixed_design(lf.formula, lf.fr,
                             contrasts={f: "contr.treatment" for f in lf.fixed.contrasts},
                             check_rankX="silent.drop.cols")
    X, Xnames = treatment.X, list(treatment.colnames)
    rdX, rdnames = _rdX(model, terms)
    pinvX = np.linalg.pinv(X)
    L = _zapsmall(pinvX @ rdX).T  # (p_rd, p): row r = rdX's column r in X's coefficients
    columns = _term_columns(labels, treatment.assign)
    contained_in = containment(model)
    # higher-order terms first: each term's columns made orthogonal to (the already
    # orthogonalized) columns of the terms containing it
    for k in sorted(range(len(labels)), key=lambda k: -len(terms[k])):
        label = labels[k]
        if not contained_in[label]:
            continue
        A = L[:, np.concatenate([columns[c] for c in contained_in[label]])]
        Y = L[:, columns[label]]
        L[:, columns[label]] = _zapsmall(Y - A @ np.linalg.lstsq(A, Y, rcond=None)[0])
    L = L[[rdnames.index(name) for name in Xnames]]
    to_model = _zapsmall(pinvX @ lf.X)  # treatment coding -> the model's coding
    out = {}
    for label in labels:
        Lt = L[:, columns[label]].T
        out[label] = Lt[np.sum(np.abs(Lt), axis=1) > 1e-8] @ to_model
    return out


def lmertest_contrasts(model, type: int) -> dict[str, np.ndarray]:
    """The hypothesis matrix of each fixed term for lmerTest's type ``type`` (1, 2 or 3)
    tests, by term label in the model's order (lmerTest's ``show_tests(anova(m, type))``).

    A term whose columns were all dropped from a rank-deficient X has a matrix of no
    rows."""
    labels = _terms(model)[0]
    if type == 1 or model.lf.X.shape[1] <= 1 or len(labels) <= 1:
        return _type1(model)
    return _type2(model) if type == 2 else _type3(model)
