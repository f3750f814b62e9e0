"""The penalized least-squares solution at one theta, as the devfun hands it out.

:class:`PLSSnapshot` is what a fitted model keeps and what the profile and Satterthwaite's
derivatives evaluate; :func:`profiled_deviance` is lme4's criterion (ML or REML, sigma
profiled out or given), written once; :class:`DenseFactor` is the dense path's factor
behind the factor interface (``solve_L``, ``solve_Lt``, ``logdet``, ``L``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sps
from scipy.linalg import lapack

__all__ = ["DenseFactor", "LOG_2PI", "PLSSnapshot", "profiled_deviance"]

LOG_2PI = np.log(2.0 * np.pi)


def profiled_deviance(ldL2: float, ldW: float, ldRX2: float, pwrss: float, n: int, p: int,
                      REML: bool, sigma: float | None = None) -> float:
    """lme4's deviance (ML) or REML criterion from the penalized least-squares results.

    With ``sigma=None`` sigma is profiled out (lme4's objective); with a value, the
    criterion at that sigma (the profile and Satterthwaite's parametrization). ``ldW`` is
    the log-determinant of the prior weights.
    """
    if sigma is None:
        if not pwrss > 0:  # a response fitted exactly: log(0), without numpy's warning
            return -np.inf
        if REML:
            nmp = n - p
            return ldL2 - ldW + ldRX2 + nmp * (1.0 + LOG_2PI + np.log(pwrss / nmp))
        return ldL2 - ldW + n * (1.0 + LOG_2PI + np.log(pwrss / n))
    sigma2 = sigma**2
    dev = ldL2 - ldW + pwrss / sigma2 + n * (LOG_2PI + np.log(sigma2))
    if REML:
        dev += ldRX2 - p * (LOG_2PI + np.log(sigma2))
    return dev


@dataclass(frozen=True)
class PLSSnapshot:
    """The penalized least squares solution at one theta, copied out of the workspace (its
    arrays read-only): what a fitted model keeps.

    ``backend`` is the factorization the workspace used (None: dense) and ``factor`` a copy
    of the factor L at theta (``solve_L``, ``L``), for a model's conditional variances.
    """

    theta: np.ndarray
    beta: np.ndarray
    u: np.ndarray
    RX: np.ndarray
    RZX: np.ndarray
    ldL2: float
    ldRX2: float
    pwrss: float
    ldW: float
    backend: str | None
    factor: object = None

    def __post_init__(self):
        for value in (self.theta, self.beta, self.u, self.RX, self.RZX):
            value.flags.writeable = False

    def criterion(self, n: int, p: int, REML: bool, sigma: float | None = None) -> float:
        """The profiled deviance (ML) or REML criterion of this solution for n observations
        and p fixed effects, at ``sigma`` or with sigma profiled out (see
        :func:`profiled_deviance`)."""
        return float(profiled_deviance(self.ldL2, self.ldW, self.ldRX2, self.pwrss, n, p,
                                       REML, sigma=sigma))


class DenseFactor:
    """A dense factor L (lower triangular, the identity permutation), with the factor
    interface's ``solve_L``, ``solve_Lt``, ``logdet`` and ``L``."""

    backend = "dense"

    def __init__(self, L: np.ndarray):
        self._L = L

    def solve_L(self, B: np.ndarray) -> np.ndarray:
        """``L^{-1} B``."""
        out, _ = lapack.dtrtrs(self._L, np.asarray(B, dtype=float), lower=1)
        return out

    def solve_Lt(self, B: np.ndarray) -> np.ndarray:
        """``L'^{-1} B``."""
        out, _ = lapack.dtrtrs(self._L, np.asarray(B, dtype=float), lower=1, trans=1)
        return out

    def logdet(self) -> float:
        return 2.0 * float(np.sum(np.log(np.diagonal(self._L))))

    def L(self) -> sps.csc_matrix:
        return sps.csc_matrix(self._L)
