"""Adaptive Gauss-Hermite quadrature of a GLMM's marginal likelihood (``nAGQ > 1``).

The likelihood is a product over independent clusters of integrals over their random
effects. Each integral is taken by a Gauss-Hermite rule for the standard normal, centred at
the cluster's conditional modes and scaled by the Cholesky factor of the Hessian of the
penalized deviance there (the Laplace approximation is the one-point rule). Two layouts
are integrated:

- **One grouping factor** (:class:`FactorRule`): all terms on the same factor, e.g.
  ``(1 | g)``, ``(1 + x | g)`` or ``(1 | g) + (0 + x | g)``; d effects per level, a
  product rule of k^d points (lme4's ``nAGQ`` for a single scalar term is d = 1).
- **Two nested scalar terms** (:class:`NestedRule`), ``(1 | a/b)``: for each level of the
  outer factor, k points over its effect and, at each, k points over each inner level's
  effect, centred at that effect's conditional mean given the outer one.

Everything else (crossed factors, vector terms in a nesting) is refused by :func:`plan`.

Deviances use lme4's convention for its AGQ: deviance residuals in place of -2 log
p(y | u), i.e. without the saturated log-likelihood (the devfun adds it back for the
families whose saturated term depends on an extra parameter).

With u = u_hat + L^-T z for a level with factor L (L L' = H), each level contributes
``devc0 + log|H| - 2 log m`` with ``devc0 = D(u_hat) + |u_hat|^2`` and
``m = sum_k w_k exp(|z_k|^2 / 2 - (D(u_k) + |u_k|^2 - devc0) / 2)``, D the sum of the
level's deviance residuals and w the rule's weights (summing to one).
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import numpy as np
from scipy.special import logsumexp

from .design import covariance
from .exceptions import PylmerError
from .linalg import kernels
from .linalg.solution import LOG_2PI

__all__ = ["FactorRule", "NestedRule", "Rule", "gh_rule", "plan", "product_rule",
           "sparse_rule"]

MAX_POINTS = 100  # lme4's GHrule(): "ord < 101L is not TRUE"
MAX_PRODUCT_POINTS = 20_000  # k^d knots per level at most
# knots x observations evaluated at once (doubles): above, the knots go in blocks
KNOT_BLOCK = 4_000_000


def gh_rule(n: int) -> np.ndarray:
    """lme4's ``GHrule(n)``: columns z, w, log dnorm(z) of the Gauss-Hermite rule for the
    standard normal density (weights summing to 1)."""
    z, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / np.sqrt(2.0 * np.pi)
    z[np.abs(z) < 1e-14] = 0.0
    ldnorm = -0.5 * z * z - 0.5 * LOG_2PI
    return np.column_stack([z, w, ldnorm])


class Rule(NamedTuple):
    """A quadrature rule for the d-variate standard normal, its knot at the origin apart:
    knots (K, d), log|weight| + |z|^2 / 2 and the weight's sign for each, the origin's
    weight (the weights sum to one)."""

    Z: np.ndarray
    logw: np.ndarray
    sign: np.ndarray
    w_zero: float


def _rule(Z: np.ndarray, w: np.ndarray) -> Rule:
    origin = np.all(Z == 0.0, axis=1)
    w_zero = float(w[origin].sum())
    keep = ~origin & (w != 0.0)
    Z, w = Z[keep], w[keep]
    return Rule(np.ascontiguousarray(Z), np.ascontiguousarray(np.log(np.abs(w))
                                                              + 0.5 * np.sum(Z * Z, axis=1)),
                np.ascontiguousarray(np.sign(w)), w_zero)


def product_rule(k: int, d: int) -> Rule:
    """The k^d-point product of the k-point Gauss-Hermite rule."""
    rule = gh_rule(k)
    idx = np.array(list(itertools.product(range(k), repeat=d)), dtype=np.intp).reshape(-1, d)
    return _rule(rule[:, 0][idx], np.prod(rule[:, 1][idx], axis=1))


def sparse_rule(k: int, d: int) -> Rule:
    """Smolyak's sparse grid of the Gauss-Hermite rules with 1, 3, 5, ..., k points (an
    even k counts as k - 1): exact for polynomials of total degree up to k (odd k) with
    far fewer than k^d points, at the price of negative weights.

    ``A(q, d) = sum over q - d < |l| <= q of (-1)^(q - |l|) C(d - 1, q - |l|)
    Q_l1 x ... x Q_ld``, with Q_l the (2 l - 1)-point rule and q = d + L - 1."""
    L = (k + 1) // 2
    q = d + L - 1
    rules = {lev: gh_rule(2 * lev - 1) for lev in range(1, L + 1)}
    weights: dict[tuple, float] = {}
    for levels in itertools.product(range(1, L + 1), repeat=d):
        total = sum(levels)
        if not q - d < total <= q:
            continue
        coef = (-1) ** (q - total) * math.comb(d - 1, q - total)
        for picks in itertools.product(*(range(2 * lev - 1) for lev in levels)):
            knot = tuple(float(rules[lev][i, 0]) for lev, i in zip(levels, picks))
            w = coef * math.prod(rules[lev][i, 1] for lev, i in zip(levels, picks))
            weights[knot] = weights.get(knot, 0.0) + w
    Z = np.array(list(weights), dtype=float).reshape(-1, d)
    return _rule(Z, np.array(list(weights.values())))


def _same_factor(a, b) -> bool:
    return (list(a.factor.categories) == list(b.factor.categories)
            and np.array_equal(np.asarray(a.factor.codes), np.asarray(b.factor.codes)))


def plan(lf, nAGQ: int, grid: str = "product"):
    """The quadrature rule for a model and ``nAGQ`` (None for nAGQ <= 1), or a
    :class:`~pylmer.PylmerError` naming the terms when no rule integrates them. ``grid``
    ("product" or "sparse") chooses the rule for three or more effects per level."""
    if nAGQ <= 1:
        return None
    if nAGQ > MAX_POINTS:
        raise PylmerError(f"nAGQ = {nAGQ}: at most {MAX_POINTS} quadrature points (lme4's "
                          "limit)")
    rt = lf.reTrms
    terms = list(rt.terms)
    labels = [str(t.term) for t in terms]
    if all(_same_factor(terms[0], t) for t in terms[1:]):
        d = sum(t.nc for t in terms)
        if grid == "sparse" and d >= 3:
            rule = FactorRule(lf, nAGQ, sparse=True)
            if len(rule.rule.Z) + 1 > MAX_PRODUCT_POINTS:
                raise PylmerError(
                    f"nAGQ = {nAGQ} with {d} random effects per level of {rt.cnms[0][0]!r}: "
                    f"the sparse grid has {len(rule.rule.Z) + 1} points per level (at most "
                    f"{MAX_PRODUCT_POINTS}); use fewer points")
            return rule
        if nAGQ ** d > MAX_PRODUCT_POINTS:
            raise PylmerError(
                f"nAGQ = {nAGQ} with {d} random effects per level of "
                f"{rt.cnms[0][0]!r} is a product rule of {nAGQ}^{d} = {nAGQ ** d} points per "
                f"level (at most {MAX_PRODUCT_POINTS}); use fewer points, e.g. "
                f"nAGQ = {max(2, int(MAX_PRODUCT_POINTS ** (1.0 / d)))}, or the sparse grid "
                "(GlmerControl(agq_grid='sparse'))")
        return FactorRule(lf, nAGQ)
    if len(terms) == 2 and all(t.nc == 1 for t in terms):
        inner, outer = terms  # lme4's order: more levels first
        mapping = _nesting(inner, outer)
        if mapping is not None:
            return NestedRule(lf, nAGQ, mapping)
        a, b = rt.cnms[1][0], rt.cnms[0][0]
        raise PylmerError(
            f"nAGQ > 1 integrates nested terms, but in {labels[0]} + {labels[1]} the levels "
            f"of {b!r} are not nested in those of {a!r} (a level occurs with more than one "
            "of the other's): crossed effects cannot be integrated level by level; use "
            f"nAGQ = 1 (the Laplace approximation). If each level of {a!r} has its own "
            f"{b!r} units whose labels are reused across {a!r}, they are nested: write "
            f"(1 | {a}/{b}), i.e. (1 | {a}) + (1 | {a}:{b})")
    raise PylmerError(
        "nAGQ > 1 integrates the random effects of one grouping factor (any number of terms, "
        "e.g. (1 + x | g)) or two nested scalar terms ((1 | a/b)); this model has "
        + " + ".join(labels) + ": use nAGQ = 1 (the Laplace approximation)")


def _nesting(inner, outer) -> np.ndarray | None:
    """outer level of each inner level when every inner level lies in one outer level."""
    ci, co = np.asarray(inner.factor.codes), np.asarray(outer.factor.codes)
    nl = len(inner.factor.categories)
    first = np.full(nl, -1, dtype=np.intp)
    first[ci[::-1]] = co[::-1]
    return first if np.array_equal(first[ci], co) and np.all(first >= 0) else None


class FactorRule:
    """AGQ over the d effects of each level of one grouping factor: the product rule, or
    for d >= 3 optionally the sparse grid."""

    def __init__(self, lf, k: int, sparse: bool = False):
        rt = lf.reTrms
        terms = list(rt.terms)
        self.k = k
        self.codes = np.ascontiguousarray(np.asarray(terms[0].factor.codes), dtype=np.intp)
        self.nlev = len(terms[0].factor.categories)
        self.d = sum(t.nc for t in terms)
        # the raw model rows of each observation's effects, and the effects' places in u
        self.M = np.column_stack([t.mm for t in terms]).astype(float)
        cols, th_off = [], []
        off = 0
        for t, g0 in zip(terms, rt.Gp[:-1]):
            cols.append(int(g0) + np.arange(self.nlev)[:, None] * t.nc + np.arange(t.nc))
            th_off.append(off)
            off += covariance.n_theta(t.nc)
        self.cols = np.concatenate(cols, axis=1)  # (nlev, d)
        self.theta_offsets = th_off
        self.ncs = [t.nc for t in terms]
        self.rule = sparse_rule(k, self.d) if sparse else product_rule(k, self.d)
        self.block = KNOT_BLOCK
        # a single scalar term takes its scales from the PIRLS factor, as lme4
        self.needs_weights = self.d > 1

    def _T(self, theta) -> np.ndarray:
        T = np.zeros((self.d, self.d))
        at = 0
        for nc, off in zip(self.ncs, self.theta_offsets):
            T[at: at + nc, at: at + nc] = covariance.theta_to_block(
                theta[off: off + covariance.n_theta(nc)], nc)
            at += nc
        return T

    def deviance(self, state, weights, response, L_diag=None, ldL2=None) -> float:
        """The AGQ deviance at a PIRLS state; ``weights`` the Laplace weights at its modes.
        For d = 1, ``L_diag`` and ``ldL2`` (the PIRLS factor's, as lme4 uses) may be
        given instead of being computed from the weights."""
        V = self.M @ self._T(state.theta)  # rows of Z Lambda within each level
        uhat = state.u[self.cols]  # (nlev, d)
        if self.d == 1 and L_diag is not None:
            Linv = (1.0 / L_diag[self.cols[:, 0]])[:, None, None]
            ld = float(ldL2)
        else:
            H = np.zeros((self.nlev, self.d, self.d))
            np.add.at(H, self.codes, weights[:, None, None] * V[:, :, None] * V[:, None, :])
            H += np.eye(self.d)
            L = np.linalg.cholesky(H)
            Linv = np.linalg.inv(L)
            ld = 2.0 * float(np.sum(np.log(np.diagonal(L, axis1=1, axis2=2))))
        rule = self.rule
        A = np.einsum("nij,nj->ni", Linv[self.codes], V)  # eta moves by A_i . z
        uu0 = np.ascontiguousarray(np.sum(uhat * uhat, axis=1))
        if len(rule.Z) * len(self.codes) <= self.block:
            devres, uu = self._at_knots(state, response, A, Linv, uhat, slice(None))
            value = kernels.agq_accumulate(self.codes, devres,
                                           np.ascontiguousarray(state.devres), uu0, uu,
                                           rule.logw, rule.sign, rule.w_zero, ld)
        else:  # the knots a block at a time: eta at every knot would not fit in memory
            value = self._in_blocks(state, response, A, Linv, uhat, uu0, ld)
        if not np.isfinite(value) and np.any(rule.sign < 0):
            raise PylmerError("the sparse grid's negative weights gave a level a "
                              "non-positive integral: use the product rule "
                              "(GlmerControl(agq_grid='product')) or more points")
        return value


    def _at_knots(self, state, response, A, Linv, uhat, knots):
        """Deviance residuals and |u|^2 of every level at the knots ``knots``."""
        Z = self.rule.Z[knots]
        eta = np.ascontiguousarray(state.eta[None, :] + Z @ A.T)
        U = uhat[None, :, :] + np.einsum("lji,kj->kli", Linv, Z)  # u_hat + L^-T z
        return response.devres_at(eta), np.ascontiguousarray(np.sum(U * U, axis=2))

    def _in_blocks(self, state, response, A, Linv, uhat, uu0, ld) -> float:
        rule, n = self.rule, len(self.codes)
        devc0 = uu0 + np.bincount(self.codes, state.devres, self.nlev)
        sums = np.zeros(self.nlev)
        step = max(1, self.block // n)
        for start in range(0, len(rule.Z), step):
            knots = slice(start, start + step)
            devres, uu = self._at_knots(state, response, A, Linv, uhat, knots)
            kernels.agq_level_sums(self.codes, devres, devc0, uu, rule.logw[knots],
                                   rule.sign[knots], sums)
        mult = rule.w_zero + sums
        if np.any(mult <= 0):
            return float("nan")
        return float(np.sum(devc0) + ld - 2.0 * np.sum(np.log(mult)))


class NestedRule:
    """Nested AGQ for ``(1 | a/b)``: k outer points per level of a, and at each k inner
    points per level of b within it."""

    def __init__(self, lf, k: int, mapping: np.ndarray):
        rt = lf.reTrms
        inner, outer = rt.terms
        self.k = k
        self.ci = np.asarray(inner.factor.codes, dtype=np.intp)
        self.co = np.asarray(outer.factor.codes, dtype=np.intp)
        self.n_in, self.n_out = len(inner.factor.categories), len(outer.factor.categories)
        self.mapping = mapping  # outer level of each inner level
        self.needs_weights = True
        self.m_in, self.m_out = inner.mm[:, 0].astype(float), outer.mm[:, 0].astype(float)
        self.g_in, self.g_out = int(rt.Gp[0]), int(rt.Gp[1])
        rule = gh_rule(k)
        self.z, self.logw = rule[:, 0], np.log(rule[:, 1])

    def deviance(self, state, weights, response, L_diag=None, ldL2=None) -> float:
        th_in, th_out = state.theta[0], state.theta[1]
        v_in, v_out = self.m_in * th_in, self.m_out * th_out
        u_in = state.u[self.g_in: self.g_in + self.n_in]
        u_out = state.u[self.g_out: self.g_out + self.n_out]
        # the Hessian at the modes: H_bb (diagonal), H_ab, H_aa; the outer effect's
        # marginal precision is the Schur complement
        H_bb = 1.0 + np.bincount(self.ci, weights * v_in * v_in, self.n_in)
        H_ab = np.bincount(self.ci, weights * v_in * v_out, self.n_in)
        H_aa = 1.0 + np.bincount(self.co, weights * v_out * v_out, self.n_out)
        r = H_ab / H_bb  # the inner mode moves by -r per unit of the outer effect
        schur = H_aa - np.bincount(self.mapping, H_ab * r, self.n_out)
        S, s = 1.0 / np.sqrt(schur), 1.0 / np.sqrt(H_bb)
        z, logw, K = self.z, self.logw, self.k
        # outer step of each observation's level (K_out), inner knots (K_in)
        a_step = S[self.co][None, :] * z[:, None]  # (K, n): u_a - u_a_hat
        b_shift = -r[self.ci][None, :] * a_step  # conditional mean's move
        eta = (state.eta[None, None, :] + (v_out[None, :] * a_step)[:, None, :]
               + (v_in[None, :] * b_shift)[:, None, :]
               + (v_in * s[self.ci])[None, None, :] * z[None, :, None])  # (K_o, K_i, n)
        devres = response.devres_at(np.ascontiguousarray(eta.reshape(K * K, -1)))
        D = np.zeros((K * K, self.n_in))
        np.add.at(D.T, self.ci, devres.T)
        D = D.reshape(K, K, self.n_in)
        # inner integrals: log I_j(m) = log s_j + logsumexp_t(log w_t + t^2 / 2
        #   - (D_j(m, t) + u_b(m, t)^2) / 2), u_b = u_hat + shift + s t
        shift_j = -r[None, :] * (S[self.mapping][None, :] * z[:, None])  # (K_o, n_in)
        ub = u_in[None, None, :] + shift_j[:, None, :] + s[None, None, :] * z[None, :, None]
        expo = (logw + 0.5 * z * z)[None, :, None] - 0.5 * (D + ub * ub)
        log_I = np.log(s)[None, :] + logsumexp(expo, axis=1)  # (K_o, n_in)
        # outer integrals
        ua = u_out[None, :] + S[None, :] * z[:, None]  # (K_o, n_out)
        inner_sum = np.zeros((K, self.n_out))
        np.add.at(inner_sum.T, self.mapping, log_I.T)
        outer = (logw + 0.5 * z * z)[:, None] - 0.5 * ua * ua + inner_sum
        log_L = np.log(S) + logsumexp(outer, axis=0)
        return float(-2.0 * np.sum(log_L))
