# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""PIRLS, written once: lme4's ``pwrssUpdate`` in one compiled call.

Each iteration reweights, solves the penalized weighted least-squares problem, forms the
linear predictor and halves the step until the penalized deviance ``sum(dev.resids) + |u|^2``
decreases; it stops when the deviance's relative change is below the tolerance. The loop is
written over two small interfaces called at C level:

- the response kernel (:class:`pylmer._response.ResponseKernel`): mu, the deviance
  residuals, the working weights and ``(y - mu) / mu_eta`` at eta; compiled for
  binomial(logit), poisson(log), Gamma(log) and the cumulative family, the family's NumPy
  methods behind the same interface for every other family
  (:class:`pylmer._response.PythonResponse`);
- the solver (:class:`pylmer._pwrss.PwrssSolver`): the step's solve and the linear
  predictor; compiled for scalar terms, the model's workspace otherwise.

Whichever pair runs, the loop, its step halving, its tests and the state it leaves are the
same. Stage 2 of ``glmer`` (and lme4's finite-difference Hessian) evaluates the deviance
hundreds of times; with the compiled pair a whole PIRLS runs without Python.
"""

from libc.math cimport fabs, isfinite
from libc.string cimport memcmp, memcpy

from pylmer._pwrss cimport PwrssSolver
from pylmer._response cimport ResponseKernel

import numpy as np

# run()'s outcomes
cdef enum:
    _OK = 0
    _NOT_POSITIVE_DEFINITE = 1
    _HALVING_FAILED = 2
    _NOT_CONVERGED = 3
    _FIXED_NOT_POSITIVE_DEFINITE = 4

OK, NOT_POSITIVE_DEFINITE = _OK, _NOT_POSITIVE_DEFINITE
HALVING_FAILED, NOT_CONVERGED = _HALVING_FAILED, _NOT_CONVERGED
FIXED_NOT_POSITIVE_DEFINITE = _FIXED_NOT_POSITIVE_DEFINITE


cdef class Pirls:
    """The PIRLS loop's buffers, its response kernel and its solver."""

    cdef readonly Py_ssize_t n, q, p
    cdef readonly PwrssSolver solver
    cdef readonly ResponseKernel response
    # two sets of response buffers (the current point and the trial point), swapped on
    # acceptance, and the start's, kept between calls
    cdef double[::1] eta_a, mu_a, devres_a, w_a, ratio_a
    cdef double[::1] eta_b, mu_b, devres_b, w_b, ratio_b
    cdef double[::1] start_eta, start_w, start_ratio
    cdef bint have_start
    cdef long start_generation  # the response kernel's generation the start was taken at
    cdef int final
    cdef double[::1] u, u_new, du, b, b_new, db
    cdef public double pdev, loglik
    cdef public int iterations

    def __init__(self, PwrssSolver solver, ResponseKernel response):
        n, q, p = solver.n, solver.q, max(solver.p, 1)
        if response.n != n:
            raise ValueError(f"the response has {response.n} observations, not {n}")
        self.solver, self.response = solver, response
        self.n, self.q, self.p = n, q, solver.p
        self.eta_a, self.mu_a, self.devres_a = np.empty(n), np.empty(n), np.empty(n)
        self.w_a, self.ratio_a = np.empty(n), np.empty(n)
        self.eta_b, self.mu_b, self.devres_b = np.empty(n), np.empty(n), np.empty(n)
        self.w_b, self.ratio_b = np.empty(n), np.empty(n)
        self.start_eta, self.start_w, self.start_ratio = np.empty(n), np.empty(n), np.empty(n)
        self.have_start = False
        self.final = -1
        self.u, self.u_new, self.du = np.zeros(q), np.zeros(q), np.zeros(q)
        self.b, self.b_new, self.db = np.zeros(p), np.zeros(p), np.zeros(p)

    def set_response(self, ResponseKernel response):
        """Another response on the same design (``glmer_many`` keeps one loop, its pattern
        and symbolic analysis, for every response); the cached start is dropped."""
        if response.n != self.n:
            raise ValueError(f"the response has {response.n} observations, not {self.n}")
        self.response = response
        self.have_start = False

    cdef double _trial(self, double step, const double *off, bint fit_beta, double *eta,
                       double *mu, double *devres, double *w, double *ratio,
                       double *ll) noexcept nogil:
        """The penalized deviance at ``u + step du`` (and ``b + step db``); step 1 is the
        solver's solution itself. Fills the trial point's eta and response buffers."""
        cdef Py_ssize_t j
        cdef double uu = 0.0
        if step != 1.0:
            for j in range(self.q):
                self.u_new[j] = self.u[j] + step * self.du[j]
            for j in range(self.p):
                self.b_new[j] = self.b[j] + step * self.db[j]
        self.solver.linpred(off, &self.u_new[0], &self.b_new[0], fit_beta, eta)
        for j in range(self.q):
            uu += self.u_new[j] * self.u_new[j]
        return self.response.respond(eta, mu, devres, w, ratio, ll) + uu

    def run(self, const double[::1] offset, const double[::1] eta_start, int maxit,
            double tol, double[::1] eta, bint fit_beta=False, double noise=0.0,
            double max_eta_step=0.0, bint exact_final=False):
        """PIRLS from ``eta_start`` (u = 0, and beta = 0 when ``fit_beta``) at the solver's
        theta (``solver.set_theta``). With ``fit_beta`` beta is estimated with u (lme4's
        nAGQ = 0); otherwise its contribution is in ``offset``. The conditional modes and
        the state at them are left in this workspace (``eta`` receives the linear
        predictor). ``noise`` and ``max_eta_step`` are the extra-parameter families'
        safeguards: a change of the deviance within ``noise`` (its rounding error) is
        convergence, an increase within it no failure, and a step moves eta by at most
        ``max_eta_step`` (0: lme4's loop, neither). With ``exact_final`` L is factored
        once more at the modes, with the response's Laplace weights: ldL2 and diag(L) are
        then the Laplace approximation's.
        Returns one of OK, NOT_POSITIVE_DEFINITE, FIXED_NOT_POSITIVE_DEFINITE,
        HALVING_FAILED, NOT_CONVERGED; an exception raised by a Python-level kernel or
        solver is raised again here."""
        cdef Py_ssize_t q = self.q, n = self.n, p_ = self.p, j, i
        cdef int it, halvings, status = _NOT_CONVERGED, cur, trial, info
        if offset.shape[0] != n or eta_start.shape[0] != n or eta.shape[0] != n:
            raise ValueError("run(): offset, eta_start and eta need one value per "
                             "observation")
        cdef double oldpdev = np.inf, pdev = 0.0, step, ll = 0.0, ll_try = 0.0
        cdef double jump, allowed
        cdef double *u = &self.u[0]
        cdef double *u_new = &self.u_new[0] if q > 0 else NULL
        cdef double *du = &self.du[0] if q > 0 else NULL
        cdef double *bb = &self.b[0]
        cdef double *b_new = &self.b_new[0]
        cdef double *db = &self.db[0]
        cdef const double *off = &offset[0]
        cdef PwrssSolver solver = self.solver
        cdef ResponseKernel response = self.response
        cdef double *E[3]
        cdef double *MU[3]
        cdef double *DR[3]
        cdef double *W[3]
        cdef double *R[3]
        if fit_beta and p_ == 0:
            fit_beta = False
        E[0], E[1], E[2] = &self.eta_a[0], &self.eta_b[0], &self.start_eta[0]
        MU[0], MU[1], MU[2] = &self.mu_a[0], &self.mu_b[0], &self.mu_b[0]
        DR[0], DR[1], DR[2] = &self.devres_a[0], &self.devres_b[0], &self.devres_b[0]
        W[0], W[1], W[2] = &self.w_a[0], &self.w_b[0], &self.start_w[0]
        R[0], R[1], R[2] = &self.ratio_a[0], &self.ratio_b[0], &self.start_ratio[0]
        # NumPy's exp (the vectorized response pass) overflows to inf quietly, as libm's
        # (a NumPy pass behind PythonResponse runs under its caller's error state)
        errors = np.seterr(over="ignore") if response.vector else None
        try:
            with nogil:
                # the weights at the start depend on eta_start and the response's
                # parameters alone: computed once for them
                if not self.have_start or self.start_generation != response.generation \
                        or memcmp(E[2], &eta_start[0], n * sizeof(double)) != 0:
                    memcpy(E[2], &eta_start[0], n * sizeof(double))
                    response.respond(E[2], MU[2], DR[2], W[2], R[2], &ll)
                    self.have_start = True
                    self.start_generation = response.generation
                cur, trial = 2, 0
                for j in range(q):
                    u[j] = 0.0
                for j in range(p_):
                    bb[j] = 0.0
                    b_new[j] = 0.0
                for it in range(1, maxit + 1):
                    self.iterations = it
                    info = solver.step(W[cur], R[cur], E[cur], off, fit_beta, u_new, b_new)
                    if info != 0:
                        status = (_NOT_POSITIVE_DEFINITE if info == 1
                                  else _FIXED_NOT_POSITIVE_DEFINITE if info == 2
                                  else _HALVING_FAILED)
                        break
                    for j in range(q):
                        du[j] = u_new[j] - u[j]
                    for j in range(p_):
                        db[j] = b_new[j] - bb[j]
                    step = 1.0
                    if max_eta_step > 0.0:
                        # a Newton step where the log-likelihood is nearly linear (far
                        # tails) is too long to halve back: start from one that moves eta
                        # by at most this
                        solver.linpred(off, u_new, b_new, fit_beta, E[trial])
                        jump = 0.0
                        for i in range(n):
                            if fabs(E[trial][i] - E[cur][i]) > jump:
                                jump = fabs(E[trial][i] - E[cur][i])
                        if jump > max_eta_step:
                            step = max_eta_step / jump
                    pdev = self._trial(step, off, fit_beta, E[trial], MU[trial], DR[trial],
                                       W[trial], R[trial], &ll_try)
                    if isfinite(oldpdev):
                        halvings = 0
                        while not (pdev <= oldpdev) and halvings < 10:
                            step /= 2.0
                            pdev = self._trial(step, off, fit_beta, E[trial], MU[trial],
                                               DR[trial], W[trial], R[trial], &ll_try)
                            halvings += 1
                        # lme4's test; at the tight tolerance of the extra-parameter
                        # families an increase within rounding of the deviance is no failure
                        allowed = noise if noise > tol else tol
                        if not isfinite(pdev) or pdev - oldpdev > allowed:
                            status = _HALVING_FAILED
                            break
                    for j in range(q):
                        u[j] = u_new[j]
                    for j in range(p_):
                        bb[j] = b_new[j]
                    cur, trial = trial, (1 - trial if cur == 2 else cur)
                    ll = ll_try
                    if pdev == 0.0 or fabs((oldpdev - pdev) / pdev) < tol \
                            or fabs(oldpdev - pdev) < noise:
                        status = _OK
                        if exact_final:  # the trial buffers are free after the acceptance
                            response.laplace_weights(E[cur], W[trial])
                            info = solver.step(W[trial], R[cur], E[cur], off, False,
                                               u_new, b_new)
                            if info != 0:
                                status = (_NOT_POSITIVE_DEFINITE if info == 1
                                          else _HALVING_FAILED)
                        break
                    oldpdev = pdev
                memcpy(&eta[0], E[cur], n * sizeof(double))
                solver.finish()
        finally:
            if errors is not None:
                np.seterr(**errors)
        exc = response.take_error() or solver.take_error()
        if exc is not None:
            self.final = -1
            raise exc
        self.final = cur if status == _OK else -1
        self.pdev, self.loglik = pdev, ll
        return status

    def state(self):
        """(u, beta, mu, deviance residuals, diag(L) in the original order of the effects
        or None where the solver's workspace keeps it), as new arrays (beta: the last
        estimated, with ``fit_beta``)."""
        if self.final < 0:
            raise RuntimeError("state(): no PIRLS has converged in this workspace")
        if self.final == 0:
            mu, devres = np.asarray(self.mu_a).copy(), np.asarray(self.devres_a).copy()
        else:
            mu, devres = np.asarray(self.mu_b).copy(), np.asarray(self.devres_b).copy()
        return (np.asarray(self.u).copy(), np.asarray(self.b)[: self.p].copy(), mu, devres,
                self.solver.L_diagonal())
