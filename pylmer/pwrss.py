"""The PIRLS loop's solver for models the compiled scalar solver does not take.

Vector-valued random-effects terms (Lambda not diagonal), and models whose factor is too
dense for the scalar layout, solve PIRLS's penalized weighted least-squares step on the
model's workspace (:class:`pylmer.linalg.pls.PLSWorkspace`): small models as one dense joint
system, larger ones through the workspace's sparse factor (CHOLMOD or blocked). The loop
itself (:class:`pylmer._pirls.Pirls`) is the same for both solvers; this class is its
:class:`pylmer._pwrss.WorkspaceSolver` owner.
"""

from __future__ import annotations

import numpy as np

from . import _pwrss, scalar_pirls
from .linalg import kernels

__all__ = ["WorkspacePwrss", "solver"]


class _ZLambdaDiagonal:
    """Z Lambda for a diagonal Lambda, applied as ``Z (lambda * u)``: no matrix is built."""

    __slots__ = ("Z", "lam")

    def __init__(self, Z, lam):
        self.Z, self.lam = Z, lam

    def __matmul__(self, u):
        return self.Z @ (self.lam * u)


class WorkspacePwrss:
    """``set_theta``, ``solve`` and ``ZLu`` on a model's workspace ``ws`` (its Zt, Lambda'
    template and Lind give Z Lambda)."""

    def __init__(self, ws):
        self.ws = ws
        # small models: the joint dense system (see solve)
        self._ZLX = (np.column_stack([np.zeros((ws.n, ws.q)), ws.X])
                     if ws.dense_crossproducts else None)
        # Z by rows, for Z Lambda u when Lambda is diagonal
        self._Z = ws.Zt.T.tocsr()
        self.theta = self.ZL = None

    def set_theta(self, theta) -> None:
        self.theta = np.asarray(theta, dtype=float)
        self.ZL = self.ZLambda(self.theta)

    def ZLambda(self, theta):
        """Z Lambda(theta): a dense array (small models), an operator (diagonal Lambda) or
        a CSR matrix; the step needs only its product with vectors (and, dense, itself)."""
        ws = self.ws
        values = np.asarray(theta, dtype=float)[ws.Lind]
        Z = ws.Z_dense()
        if Z is not None:  # small model: dense products beat sparse call overhead
            return Z @ ws.Lambdat_dense(values).T
        if ws.diagonal:  # Lambda's diagonal is its stored values, in column order
            return _ZLambdaDiagonal(self._Z, values)
        Lambdat = ws.Lambdat.copy()  # the workspace's own is its buffer
        Lambdat.data = values
        return (Lambdat @ ws.Zt).T.tocsr()

    def ZLu(self, u):
        return self.ZL @ u

    def solve(self, z, w, fit_beta: bool):
        """One penalized weighted least squares solve: (u, beta or None, ldL2, diag(L) or
        None where the workspace keeps it).

        Small models solve the joint system [ZL X]' W [ZL X] + diag(I, 0) densely (one
        product, one Cholesky: the leading block of its factor is L); larger ones go
        through the sparse workspace.
        """
        if self._ZLX is None:
            ws = self.ws
            if not fit_beta:
                return ws.solve_u(self.theta, z, w), None, ws.ldL2, None
            ws.reweight(z, w).set_theta(self.theta)
            return ws.u(), ws.beta.copy(), ws.ldL2, None
        q = self.ws.q
        M = self.ZL if not fit_beta else self._ZLX
        if fit_beta:
            M[:, :q] = self.ZL
        # one compiled call instead of five NumPy / LAPACK ones
        L, sol = np.empty((M.shape[1], M.shape[1])), np.empty(M.shape[1])
        info, ldL2 = kernels.weighted_normal_solve(np.ascontiguousarray(M), w, z, q, L, sol)
        if info != 0:
            raise np.linalg.LinAlgError("the penalized weighted cross-product is not "
                                        "positive definite")
        return sol[:q], (sol[q:] if fit_beta else None), ldL2, np.diagonal(L)[:q].copy()


def solver(ws, scalar: bool = True):
    """The PIRLS loop's solver for a model: the compiled scalar one where it applies (and
    ``scalar``), the workspace's otherwise."""
    out = scalar_pirls.build(ws) if scalar else None
    if out is None:
        out = _pwrss.WorkspaceSolver(WorkspacePwrss(ws), ws.n, ws.q, ws.X)
    return out
