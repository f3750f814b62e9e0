"""Fitting one LMM formula to many responses (R: a loop of ``lmer`` / ``refit`` over genes,
as variancePartition's ``dream`` or lmerSeq run it), in batches.

The shared structure (model frame, X, Z, C's pattern and its symbolic analysis) is built
once per set of rows; the responses are optimized together (:mod:`pylmer.many.newton`) on
the compiled batch evaluation (:mod:`pylmer.many.design`). A response with missing
values is fitted on its own complete cases: responses with the same missing rows share
that design. A response whose batch search does not converge is refitted alone by
lmer's own optimizer; a response that cannot be fitted gets a row saying why.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from ..design.fixed import rank_pivot
from ..exceptions import PylmerError, WarningLog
from ..fitting import fit_lmer
from ..lformula import LFormula
from ..linalg.threads import single_threaded_blas
from .design import batch_design
from .newton import grid_start, minimize
from .spec import ManySpec, unusable_messages

__all__ = ["SINGULAR_MESSAGE", "SINGULAR_TOL", "GroupFit", "complete_case_design",
           "fit_responses"]

# lme4's isSingular() tolerance and its message for a boundary fit
SINGULAR_TOL = 1e-4
SINGULAR_MESSAGE = "boundary (singular) fit: see help('isSingular')"


@dataclass
class GroupFit:
    """Per response: theta, criterion, beta, SEs, sigma, nobs, converged, Newton
    iterations, criterion evaluations, and the messages."""

    theta: np.ndarray
    crit: np.ndarray
    beta: np.ndarray
    se: np.ndarray
    sigma: np.ndarray
    nobs: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    feval: np.ndarray
    messages: list


def _empty(m: int, k: int, p: int) -> GroupFit:
    nan = np.full
    return GroupFit(nan((m, k), np.nan), nan(m, np.nan), nan((m, p), np.nan),
                    nan((m, p), np.nan), nan(m, np.nan), np.zeros(m, dtype=np.int64),
                    np.zeros(m, dtype=bool), np.zeros(m, dtype=np.int64),
                    np.zeros(m, dtype=np.int64), [[] for _ in range(m)])


def fit_responses(spec: ManySpec, Y: np.ndarray, unusable: dict, names: list,
                  n_jobs: int = 1, bar=None, log: WarningLog | None = None,
                  ) -> tuple[GroupFit, LFormula]:
    """Every response's fit (rows as the responses' columns), and the model structure of
    the complete rows.

    Responses are taken in blocks of ``spec.block`` by position, and each block is fitted
    on its own: a response's numbers then do not depend on threads or on a cluster's chunks
    (which are whole blocks), to the last bit."""
    lf0 = spec.lformula()
    k, p = len(lf0.reTrms.theta), lf0.X.shape[1]
    out = _empty(len(names), k, p)
    out.messages = unusable_messages(names, unusable)
    Ysub = Y[lf0.rows]
    designs: dict[bytes, tuple] = {b"": (lf0, None, [])}
    lock = threading.Lock()
    coef_at = {name: c for c, name in enumerate(lf0.X_colnames)}

    def design_of(miss) -> tuple:
        key = np.packbits(miss).tobytes() if miss.any() else b""
        with lock:
            if key not in designs:
                keep = np.flatnonzero(~miss)
                if same_model_on_rows(lf0, keep):  # lf0's structure on its rows
                    designs[key] = (lf0, keep, [])
                else:  # lmer's own model of its rows
                    lf, notes = complete_case_design(spec, lf0, miss, log)
                    designs[key] = (lf, None, notes)
            return designs[key]

    def run(block):
        groups: dict[bytes, list[int]] = {}
        for j in block:
            if names[j] not in unusable:
                miss = np.isnan(Ysub[:, j])
                groups.setdefault(np.packbits(miss).tobytes(), []).append(j)
        for members in groups.values():
            members = np.asarray(members)
            miss = np.isnan(Ysub[:, members[0]])
            lf, rows, notes = design_of(miss)
            for j in members:
                out.messages[j] += notes
            if lf is not None:
                cols = np.array([coef_at[c] for c in lf.X_colnames], dtype=np.intp)
                _fit_group(spec, lf, rows, Ysub[~miss][:, members], members, cols, out, log)
        return len(block)

    with single_threaded_blas(), ThreadPoolExecutor(max_workers=max(1, n_jobs)) as pool:
        for done in pool.map(run, spec.blocks(len(names))):
            if bar is not None:
                bar.update(done)
    return out, lf0


def complete_case_design(spec, lf0, miss, log) -> tuple:
    """The model on the rows where a response is observed, and the messages of building
    it (a fixed-effect column dropped as rank deficient, as lmer says); or None and why
    there is no such model."""
    kept = int((~miss).sum())
    item = ("design", np.packbits(miss).tobytes())
    if log is not None:
        log.working_on(item)
    try:
        lf = spec.lformula(rows=lf0.rows[~miss])
    except PylmerError as err:
        return None, [f"not fitted: on its {kept} complete rows, {err}"]
    finally:
        notes = log.take(item) if log is not None else []
    if not set(lf.X_colnames) <= set(lf0.X_colnames) or \
            tuple(lf.reTrms.theta_names) != tuple(lf0.reTrms.theta_names):
        why = ("not fitted: on its complete rows the model's columns change (fit it alone "
               "with lmer)")
        return None, [*notes, why]
    return lf, notes



def same_model_on_rows(lf0: LFormula, keep: np.ndarray) -> bool:
    """Whether lmer's model of the rows ``keep`` of ``lf0`` is ``lf0``'s own on those rows:
    no stateful transform (``scale()``, ``poly()``: computed again from the rows), X still
    of full rank, and lme4's checks on the levels left (more than one sampled level per
    grouping factor, fewer levels and random effects than rows) passing. Levels left
    without rows are then what dropping them is: no effect on the criterion."""
    if lf0.fr.state or len(keep) == 0:
        return False
    X = lf0.X[keep]
    if X.shape[1] and rank_pivot(X)[0] < X.shape[1]:
        return False
    n = len(keep)
    Zt = lf0.reTrms.Zt.tocsr()[:, keep]
    if int(np.count_nonzero(Zt.getnnz(axis=1))) >= n:
        return False
    for term in lf0.reTrms.terms:
        levels = np.unique(np.asarray(term.factor.codes)[keep])
        if len(levels) < 2 or len(levels) >= n:
            return False
    return True


def _fit_group(spec, lf, rows, Y, members, cols, out, log):
    """The responses ``members`` (columns of Y), all on the rows of ``lf`` (or its
    ``rows``), whose fixed effects are the table's columns ``cols``."""
    constant = np.ptp(Y, axis=0) == 0
    for j in members[constant]:
        out.messages[j].append("not fitted: the response is constant")
    fit = np.flatnonzero(~constant)
    if len(fit) == 0:
        return
    design = batch_design(lf, Y[:, fit], spec.REML, rows=rows)
    for j in members[fit[design.exact]]:
        out.messages[j].append("not fitted: the fixed effects fit the response exactly "
                               "(residuals of zero): nothing is left to model")
    if design.exact.all():
        return
    solved = _solve_chunk(design.kernel, design, lf, np.flatnonzero(~design.exact))
    _store(spec, (lf, rows), Y[:, fit], design, members[fit], np.flatnonzero(~design.exact),
           solved, cols, out, log)


def _solve_chunk(kernel, design, lf, chunk):
    """The batch search on the responses ``chunk`` (indices into the design's)."""
    def criterion(theta, resp):
        return kernel.criterion(theta, chunk[resp].astype(np.intp))

    start = grid_start(criterion, len(chunk), design.diagonal, lf.reTrms.theta)
    res = minimize(criterion, start, design.diagonal, design.columns)
    crit, beta, vdiag, pwrss = kernel.solution(np.ascontiguousarray(res.theta),
                                               chunk.astype(np.intp))
    return res, crit, beta, vdiag, pwrss


def _store(spec, model_rows, Y, design, targets, chunk, solved, cols, out, log):
    res, crit, beta, vdiag, pwrss = solved
    n, p = design.n, design.p
    df = n - p if spec.REML else n
    for i, j in enumerate(targets[chunk]):
        ok = bool(res.converged[i]) and np.isfinite(crit[i])
        out.iterations[j], out.feval[j] = res.iterations[i], res.feval[i]
        out.nobs[j] = n
        if not ok:  # lmer's own optimizer, from the batch's point
            _single(spec, model_rows, Y[:, chunk[i]], res.theta[i], cols, out, j, log)
            continue
        sigma = np.sqrt(pwrss[i] / df)
        out.theta[j], out.crit[j] = res.theta[i], crit[i]
        out.beta[j, cols] = beta[i] + design.beta_shift[chunk[i]]
        out.se[j, cols] = np.sqrt(vdiag[i]) * sigma
        out.sigma[j], out.converged[j] = sigma, True
        if np.any(res.theta[i][design.diagonal] < SINGULAR_TOL):
            out.messages[j].append(SINGULAR_MESSAGE)


def _single(spec, design, y, theta, cols, out, j, log):
    """One response fitted alone by lmer's optimizer (a batch search that did not
    converge), on lmer's model of its rows."""
    lf, rows = design
    if rows is not None:
        lf = spec.lformula(rows=lf.rows[rows])
    start = np.where(np.isfinite(theta), theta, lf.reTrms.theta)
    start = np.maximum(start, lf.reTrms.lower)
    new_lf = replace(lf, fr=replace(lf.fr, response=np.asarray(y, dtype=float)))
    log = log or WarningLog()
    log.working_on(j)
    try:
        devfun, opt = fit_lmer(new_lf, REML=spec.REML, start=start)
        snap = devfun.snapshot(opt.par)
    except (PylmerError, ArithmeticError, ValueError, np.linalg.LinAlgError) as err:
        out.messages[j].append(f"not fitted: {err}")
        return
    finally:
        caught = log.take(j)
    n, p = len(y), len(snap.beta)
    sigma = np.sqrt(snap.pwrss / (n - p if spec.REML else n))
    RXinv = np.linalg.inv(snap.RX)
    out.theta[j], out.crit[j], out.beta[j, cols] = opt.par, opt.fval, snap.beta
    out.se[j, cols] = np.sqrt(np.sum(RXinv**2, axis=1)) * sigma
    out.sigma[j] = sigma
    out.converged[j] = opt.conv == 0 and not any("converge" in m for m in caught)
    out.feval[j] += opt.feval
    out.messages[j] += caught + list(opt.messages)
    if not out.converged[j]:
        out.messages[j].append("the batch search did not converge; fitted alone by lmer's "
                               "optimizer")
