"""Convergence checks at the optimum, as lme4's ``checkConv``, in lme4's words.

- singular fit: a bounded (diagonal) theta below ``tol`` -> :class:`SingularFitWarning`
  "boundary (singular) fit: see help('isSingular')"; further checks are skipped, as lme4.
- gradient: finite-difference gradient scaled by the Hessian's Cholesky factor ->
  :class:`ConvergenceWarning` "Model failed to converge with max|grad| = ...".
- Hessian: negative, zero or widely spread eigenvalues -> :class:`ConvergenceWarning`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .control import LmerControl
from .exceptions import ConvergenceWarning, SingularFitWarning, warn_user

__all__ = ["Derivs", "deriv12", "check_conv", "is_singular", "SINGULAR_MESSAGE"]

SINGULAR_MESSAGE = "boundary (singular) fit: see help('isSingular')"


@dataclass(frozen=True)
class Derivs:
    gradient: np.ndarray
    Hessian: np.ndarray


def deriv12(fun: Callable[[np.ndarray], float], x: np.ndarray, fx: float,
            lower: np.ndarray | None = None, upper: np.ndarray | None = None,
            delta: float = 1e-4) -> Derivs:
    """Central finite-difference gradient and Hessian (lme4's ``deriv12``).

    lme4 calls it without bounds (steps may cross a bound of theta; the objectives
    accept that), which is the default here.
    """
    x = np.asarray(x, dtype=float)
    nx = len(x)
    lower = np.full(nx, -np.inf) if lower is None else lower
    upper = np.full(nx, np.inf) if upper is None else upper
    H = np.empty((nx, nx))
    g = np.empty(nx)
    for j in range(nx):
        xadd, xsub = x.copy(), x.copy()
        xadd[j] = min(x[j] + delta, upper[j])
        xsub[j] = max(x[j] - delta, lower[j])
        fadd, fsub = fun(xadd), fun(xsub)
        H[j, j] = (fadd - 2.0 * fx + fsub) / delta**2
        g[j] = (fadd - fsub) / (2.0 * delta)
        for i in range(j):
            xaa, xas, xsa, xss = xadd.copy(), xadd.copy(), xsub.copy(), xsub.copy()
            xaa[i] = min(x[i] + delta, upper[i])
            xas[i] = max(x[i] - delta, lower[i])
            xsa[i] = min(x[i] + delta, upper[i])
            xss[i] = max(x[i] - delta, lower[i])
            H[i, j] = H[j, i] = (fun(xaa) - fun(xas) - fun(xsa) + fun(xss)) / (4.0 * delta**2)
    return Derivs(g, H)


def is_singular(theta: np.ndarray, lower: np.ndarray, tol: float = 1e-4) -> bool:
    """lme4's ``isSingular``: some bounded theta (a diagonal element) below ``tol``."""
    bounded = np.asarray(lower) == 0
    return bool(np.any(np.asarray(theta)[bounded] < tol))


def _act(action: str, message: str, category: type[Warning]) -> None:
    if action == "stop":
        raise RuntimeError(message)
    if action == "warning":
        warn_user(message, category)


def _hessian_messages(H: np.ndarray, tol: float) -> list[str]:
    try:
        ev = np.linalg.eigvalsh(H)
    except np.linalg.LinAlgError:
        return ["Problem with Hessian check (infinite or missing values?)"]
    if not np.all(np.isfinite(ev)):
        return ["Problem with Hessian check (infinite or missing values?)"]
    negative = int(np.sum(ev < -tol))
    if negative:
        message = f"Model failed to converge: degenerate  Hessian with {negative} negative eigenvalues"
        return [message]
    if np.any(np.abs(ev) < tol) or np.min(ev) <= 0:
        return [" Hessian is numerically singular: parameters are not uniquely determined"]
    out = []
    if np.max(ev) * tol > 1:
        out.append("Model is nearly unidentifiable: very large eigenvalue\n - Rescale variables?")
    if np.min(ev) / np.max(ev) < tol:
        out.append("Model is nearly unidentifiable: large eigenvalue ratio\n"
                   " - Rescale variables?")
    return out


def check_conv(derivs: Derivs | None, theta: np.ndarray, lower: np.ndarray,
               control: LmerControl) -> tuple[str, ...]:
    """Run lme4's checks; warn (or raise) per ``control``; return the messages."""
    messages: list[str] = []
    if control.check_conv_singular != "ignore" and is_singular(
            theta, lower, control.check_conv_singular_tol):
        messages.append(SINGULAR_MESSAGE)
        _act(control.check_conv_singular, SINGULAR_MESSAGE, SingularFitWarning)
        return tuple(messages)
    if is_singular(theta, lower, control.check_conv_singular_tol) or derivs is None:
        return tuple(messages)
    if control.check_conv_grad != "ignore":
        g = derivs.gradient
        try:
            R = np.linalg.cholesky(derivs.Hessian).T
            scaled = np.linalg.solve(R, g)
        except np.linalg.LinAlgError:
            scaled = None
        if scaled is None or not np.all(np.isfinite(scaled)):
            msg = "unable to evaluate scaled gradient"
        else:
            mingrad = np.minimum(np.abs(scaled), np.abs(g))
            worst = float(np.max(mingrad))
            msg = None
            if worst > control.check_conv_grad_tol:
                msg = (f"Model failed to converge with max|grad| = {worst:.6g} "
                       f"(tol = {control.check_conv_grad_tol:g}, component "
                       f"{int(np.argmax(mingrad)) + 1})")
        if msg:
            messages.append(msg)
            _act(control.check_conv_grad, msg, ConvergenceWarning)
    if control.check_conv_hess != "ignore":
        hess = _hessian_messages(derivs.Hessian, control.check_conv_hess_tol)
        if hess:
            messages.extend(hess)
            _act(control.check_conv_hess, ";".join(hess), ConvergenceWarning)
    return tuple(messages)
