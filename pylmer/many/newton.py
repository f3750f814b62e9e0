"""Minimizing one profiled criterion per response, for many responses in lockstep.

Each response has its own theta, and each iteration evaluates every active response's
points in one compiled call (:class:`pylmer.linalg.kernels.BatchLmm`):

1. a start on a shared grid of thetas, where the factorization at each grid point serves
   every response, then the best grid point of each response;
2. Newton steps on finite-difference derivatives (central differences for the gradient
   and the Hessian's diagonal, one point per off-diagonal pair), with the Hessian's
   eigenvalues taken in absolute value so that every step goes down, a trust radius and
   a backtracking line search;
3. diagonal elements that end within ``SNAP`` of zero are set to zero where that does not
   raise the criterion: lme4's boundary (singular) fits.

theta is searched without bounds: the criterion depends on theta only through
``Lambda Lambda'``, which does not change when a column of a term's factor changes sign,
so a negative diagonal element is the same model as its column negated; each column is
turned to a non-negative diagonal at the end.

A response is "converged" when, with a positive definite Hessian, the gradient is
negligible, or a full Newton step changes the criterion by less than ``FTOL`` or moves theta
by less than ``XTOL``. Each response's path
depends on its own values only, so the result does not depend on how responses are
batched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BatchResult", "grid_start", "minimize"]

FTOL = 1e-10        # a change of the criterion this small ends the search
XTOL = 1e-8         # as does a step this short (in theta)
STEP = 1e-4         # finite-difference step, relative to max(1, |theta|)
MAXIT = 60          # Newton iterations per response
MAX_HALVINGS = 30   # line-search halvings per iteration
SNAP = 1e-4         # diagonal elements below this are tried at zero
# a shared start grid per number of diagonal elements (0.01, not 0: at 0 the criterion of a
# scalar term is flat in that element by symmetry, and a Newton step would not leave it)
GRID = {1: (0.01, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 4.0),
        2: (0.01, 0.2, 0.5, 1.0, 2.0, 3.5),
        3: (0.01, 0.3, 1.0, 2.5),
        4: (0.01, 0.5, 1.5),
        5: (0.05, 1.0),
        6: (0.05, 1.0)}


@dataclass
class BatchResult:
    """Per response: theta, the criterion, Newton iterations, criterion evaluations, and
    whether the search converged."""

    theta: np.ndarray
    fval: np.ndarray
    iterations: np.ndarray
    feval: np.ndarray
    converged: np.ndarray


def grid_start(criterion, m: int, diagonal: np.ndarray, theta0: np.ndarray) -> np.ndarray:
    """Each response's best point of a shared grid over the diagonal elements (off-diagonal
    elements 0), lme4's start where there are too many elements for a grid."""
    kd = int(diagonal.sum())
    start = np.tile(np.asarray(theta0, dtype=float), (m, 1))
    if kd not in GRID:
        return start
    levels = np.asarray(GRID[kd])
    mesh = np.stack(np.meshgrid(*[levels] * kd, indexing="ij"), axis=-1).reshape(-1, kd)
    points = np.zeros((len(mesh), len(diagonal)))
    points[:, diagonal] = mesh
    resp = np.tile(np.arange(m, dtype=np.intp), len(points))
    # all responses at one grid point are consecutive rows: one factorization each
    values = criterion(np.ascontiguousarray(np.repeat(points, m, axis=0)), resp)
    best = np.argmin(values.reshape(len(points), m), axis=0)
    ok = np.isfinite(values.reshape(len(points), m)[best, np.arange(m)])
    start[ok] = points[best[ok]]
    return start


def _stencil(theta: np.ndarray, h: np.ndarray):
    """The finite-difference points around each row of theta: +h_i, -h_i for each i, then
    +h_i +h_j for each pair i < j."""
    k = theta.shape[1]
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    pts = np.repeat(theta[:, None, :], 2 * k + len(pairs), axis=1)
    for i in range(k):
        pts[:, 2 * i, i] += h[:, i]
        pts[:, 2 * i + 1, i] -= h[:, i]
    for c, (i, j) in enumerate(pairs):
        pts[:, 2 * k + c, i] += h[:, i]
        pts[:, 2 * k + c, j] += h[:, j]
    return pts, pairs


def _derivatives(f0, vals, h, pairs):
    """Gradient and Hessian from the stencil's values."""
    m, k = h.shape
    plus, minus = vals[:, 0:2 * k:2], vals[:, 1:2 * k:2]
    g = (plus - minus) / (2.0 * h)
    H = np.zeros((m, k, k))
    idx = np.arange(k)
    H[:, idx, idx] = (plus - 2.0 * f0[:, None] + minus) / h**2
    for c, (i, j) in enumerate(pairs):
        hij = (vals[:, 2 * k + c] - plus[:, i] - plus[:, j] + f0) / (h[:, i] * h[:, j])
        H[:, i, j] = H[:, j, i] = hij
    return g, H


def _newton_step(g, H, radius):
    """The step ``-|H|^-1 g`` (eigenvalues in absolute value, floored), within the radius;
    and whether H is positive definite."""
    w, V = np.linalg.eigh(H)
    scale = np.maximum(np.abs(w).max(axis=1, keepdims=True), 1e-12)
    wmod = np.maximum(np.abs(w), 1e-8 * scale)
    s = -np.einsum("mij,mj->mi", V, np.einsum("mji,mj->mi", V, g) / wmod)
    norm = np.linalg.norm(s, axis=1)
    shrink = np.minimum(1.0, radius / np.maximum(norm, 1e-300))
    return s * shrink[:, None], w[:, 0] > 0


def minimize(criterion, theta0: np.ndarray, diagonal: np.ndarray, columns: list,
             maxit: int = MAXIT) -> BatchResult:
    """Minimize ``criterion(theta[m, k], resp[m]) -> (m,)`` for every response, each from
    its row of ``theta0``."""
    theta = np.array(theta0, dtype=float)
    m, k = theta.shape
    all_resp = np.arange(m, dtype=np.intp)
    fval = criterion(np.ascontiguousarray(theta), all_resp)
    feval = np.ones(m, dtype=np.int64)
    iterations = np.zeros(m, dtype=np.int64)
    converged = np.zeros(m, dtype=bool)
    active = np.isfinite(fval)
    radius = np.full(m, 1.0)
    for _ in range(maxit):
        A = np.flatnonzero(active)
        if len(A) == 0:
            break
        th, f0 = theta[A], fval[A]
        h = STEP * np.maximum(1.0, np.abs(th))
        pts, pairs = _stencil(th, h)
        npt = pts.shape[1]
        vals = criterion(np.ascontiguousarray(pts.reshape(-1, k)),
                         np.repeat(A, npt).astype(np.intp)).reshape(len(A), npt)
        feval[A] += npt
        iterations[A] += 1
        bad = ~np.isfinite(vals).all(axis=1)
        vals[bad] = f0[bad, None]  # no derivatives there: stops below, not converged
        g, H = _derivatives(f0, vals, h, pairs)
        step, pd = _newton_step(g, H, radius[A])
        t = np.ones(len(A))
        f_new = np.full(len(A), np.inf)
        todo = np.flatnonzero(~bad)
        slope = np.einsum("mi,mi->m", g, step)
        for _ in range(MAX_HALVINGS):
            if len(todo) == 0:
                break
            trial = th[todo] + t[todo, None] * step[todo]
            fv = criterion(np.ascontiguousarray(trial), A[todo])
            feval[A[todo]] += 1
            f_new[todo] = fv
            ok = fv <= f0[todo] + 1e-4 * t[todo] * np.minimum(slope[todo], 0.0)
            todo = todo[~ok]
            t[todo] *= 0.25
        moved = np.isfinite(f_new) & (f_new <= f0)
        idx = A[moved]
        theta[idx] += t[moved, None] * step[moved]
        change = np.where(moved, f0 - f_new, 0.0)
        fval[idx] = f_new[moved]
        length = np.abs(t * step.T).max(axis=0) if k else np.zeros(len(A))
        full = moved & (t == 1.0)
        radius[A] = np.where(full, np.maximum(radius[A], 2.0 * length),
                             np.maximum(length, 1e-3))
        small = (change < FTOL) | (length < XTOL)
        # a line search that finds no decrease at a stationary point is at the minimum:
        # Newton's predicted decrease (the decrement, g' |H|^-1 g / 2) is within rounding
        stationary = -0.5 * slope < 10 * FTOL
        done = bad | ~moved | small
        # a short step is the end only where Newton's full step was taken: one the line
        # search had to shorten says the model of the criterion is poor there, not that
        # the minimum is reached
        converged[A] = (stationary | (small & (t == 1.0))) & pd & ~bad & done
        active[A[done]] = False
    _snap(criterion, theta, fval, diagonal, feval)
    _turn_columns(theta, columns)
    return BatchResult(theta, fval, iterations, feval, converged)


def _snap(criterion, theta, fval, diagonal, feval):
    """Set near-zero diagonal elements to zero where the criterion does not rise."""
    for i in np.flatnonzero(diagonal):
        near = np.flatnonzero(np.isfinite(fval) & (np.abs(theta[:, i]) < SNAP)
                              & (theta[:, i] != 0.0))
        if len(near) == 0:
            continue
        trial = theta[near].copy()
        trial[:, i] = 0.0
        fv = criterion(np.ascontiguousarray(trial), near.astype(np.intp))
        feval[near] += 1
        ok = fv <= fval[near] + FTOL
        theta[near[ok]] = trial[ok]
        fval[near[ok]] = fv[ok]


def _turn_columns(theta, columns):
    """Each factor column with a negative diagonal element, negated (the same model)."""
    for col in columns:
        neg = theta[:, col[0]] < 0
        theta[np.ix_(neg, col)] *= -1.0
