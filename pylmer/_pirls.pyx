# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""PIRLS in one compiled call, for scalar random-effects terms and beta fixed.

Stage 2 of ``glmer`` (and lme4's finite-difference Hessian) evaluates the Laplace deviance
hundreds of times; each evaluation is a few PIRLS iterations. Where Lambda is diagonal
(every term scalar) and the family is binomial(logit), poisson(log) or Gamma(log), a whole
PIRLS loop runs here without returning to Python, over two small interfaces called at C
level: the response kernel (:class:`pylmer._response.ResponseKernel`: mu, the deviance
residuals, the working weights and response) and the factor. Between them: Z'WZ by the
observations' pairs of non-zeros, the solve and the step halving. The factor is
:class:`pylmer.linalg._factor.CompiledFactor` (sparse on a symbolic pattern computed once,
or blocked). See :mod:`pylmer.scalar_pirls` for the set-up.
"""

from libc.math cimport fabs, isfinite, sqrt
from libc.string cimport memcmp, memcpy
from scipy.linalg.cython_blas cimport dgemv, dsyrk

from pylmer._response cimport ResponseKernel
from pylmer.linalg._factor cimport CompiledFactor
from pylmer.linalg._kernels cimport _cholesky_lower, _solve_lower, _solve_lower_t

import numpy as np

# arguments of the BLAS / LAPACK calls (passed by address)
cdef char *_UPPER = b"U"
cdef char *_TRANS = b"T"
cdef char *_NOTRANS = b"N"
cdef int _ONE = 1
cdef double _MINUS_ONE = -1.0, _PLUS_ONE = 1.0, _ZERO = 0.0

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


cdef class ScalarPirls:
    """Workspace of the compiled PIRLS loop. Built by :func:`pylmer.scalar_pirls.build`."""

    cdef Py_ssize_t n, q
    # Z by rows (observation i: columns zj[zp[i]:zp[i+1]], values zx[...])
    cdef const Py_ssize_t[::1] zp, zj
    cdef const double[::1] zx
    # Z's non-zeros again, interleaved for Z'W z (see scalar_pirls._interleaved)
    cdef const Py_ssize_t[::1] zobs, zcol
    cdef const double[::1] zval
    cdef double[::1] wz
    # Z'WZ into C: C's value slot[t] += prod[t] w[obs[t]]
    cdef const Py_ssize_t[::1] obs, slot
    cdef const double[::1] prod
    # C = the upper triangle of P A P' (CSC); cr, cc: original row / column of each entry
    cdef const Py_ssize_t[::1] Cp, Ci, cr, cc, perm
    cdef double[::1] Cx, x, lamC
    # its factor, refactored at each step
    cdef CompiledFactor factor
    # the response kernel
    cdef readonly ResponseKernel response
    cdef double[::1] eta_a, mu_a, devres_a, w_a, ratio_a
    cdef double[::1] eta_b, mu_b, devres_b, w_b, ratio_b
    cdef double[::1] start_eta, start_w, start_ratio
    cdef bint have_start
    cdef int final
    cdef double[::1] u, u_new, du, rhs
    # the fixed effects (nAGQ = 0): X, Z'WX (q x p, original order), X'WX (lower), X'W z,
    # RZX (by columns, permuted), beta
    cdef Py_ssize_t p
    cdef const double[:, ::1] X
    cdef double[::1] ZtWX, Xtwz, RZX, b, b_new, db, wx, Xs, zs
    cdef double[:, ::1] M  # X'WX - RZX'RZX, then its Cholesky factor (lower triangle)
    cdef public double ldL2, pdev, loglik
    cdef public int iterations

    def __init__(self, ResponseKernel response, zp, zj, zx, zobs, zcol, zval, obs, slot,
                 prod, Cp, Ci, cr, cc, perm, X, int q1=0):
        self.response = response
        n = response.n
        self.X, self.p = X, X.shape[1]
        p = max(self.p, 1)
        self.ZtWX, self.RZX = np.empty(len(perm) * p), np.empty(len(perm) * p)
        self.M, self.Xtwz = np.empty((p, p)), np.empty(p)
        self.b, self.b_new, self.db = np.zeros(p), np.zeros(p), np.zeros(p)
        self.wx = np.zeros(p)
        self.Xs, self.zs = np.empty(n * p), np.empty(n)
        self.n, self.q = n, len(perm)
        self.zp, self.zj, self.zx = zp, zj, zx
        self.zobs, self.zcol, self.zval = zobs, zcol, zval
        self.wz = np.empty(n)
        self.obs, self.slot, self.prod = obs, slot, prod
        self.Cp, self.Ci, self.cr, self.cc, self.perm = Cp, Ci, cr, cc, perm
        self.factor = CompiledFactor(Cp, Ci, q1)
        self.Cx, self.lamC = np.empty(len(Ci)), np.empty(len(Ci))
        self.x = np.zeros(self.q)
        q = self.q
        self.eta_a, self.mu_a, self.devres_a = np.empty(n), np.empty(n), np.empty(n)
        self.w_a, self.ratio_a = np.empty(n), np.empty(n)
        self.eta_b, self.mu_b, self.devres_b = np.empty(n), np.empty(n), np.empty(n)
        self.w_b, self.ratio_b = np.empty(n), np.empty(n)
        self.start_eta, self.start_w, self.start_ratio = np.empty(n), np.empty(n), np.empty(n)
        self.have_start = False
        self.final = -1
        self.u, self.u_new, self.du, self.rhs = (np.empty(q), np.empty(q), np.empty(q),
                                                 np.empty(q))

    def set_response(self, ResponseKernel response):
        """Another response on the same design (``glmer_many`` keeps one loop, its pattern
        and symbolic analysis, for every response); the cached start is dropped."""
        if response.n != self.n:
            raise ValueError(f"the response has {response.n} observations, not {self.n}")
        self.response = response
        self.have_start = False

    def factor_nnz(self):
        return self.factor.nnz()

    @property
    def q1(self):
        """Size of the factor's diagonal leading block (0: the sparse layout)."""
        return self.factor.q1

    # ------------------------------------------------------------------ linear algebra
    cdef int _step(self, const double *w, const double *ratio, const double *eta,
                   const double[::1] offset, const double[::1] lam, bint fit_beta) noexcept nogil:
        """One penalized weighted least squares solve for the working response
        ``z = eta - offset + ratio``: u_new (and b_new when ``fit_beta``), ldL2. 1 if
        ``Lambda Z'WZ Lambda + I`` is not positive definite, 2 if the fixed-effects part
        is not."""
        cdef Py_ssize_t q = self.q, p_ = self.p, n = self.n, t, i, p, k, j, c, c2
        cdef double acc, wi, zi, v
        cdef double[::1] Cx = self.Cx, x = self.x, rhs = self.rhs
        cdef double *RZX = &self.RZX[0]
        cdef double *M = &self.M[0, 0]
        cdef double *b = &self.b_new[0]
        # C's values: Lambda Z'WZ Lambda (+ I on the diagonal)
        Cx[:] = 0.0
        for t in range(self.slot.shape[0]):
            Cx[self.slot[t]] += self.prod[t] * w[self.obs[t]]
        for k in range(q):
            for p in range(self.Cp[k], self.Cp[k + 1]):
                Cx[p] *= self.lamC[p]
                if self.Ci[p] == k:
                    Cx[p] += 1.0
        # Z'W z (and Z'WX, X'WX, X'W z), in the original order; local pointers, so that
        # the compiler need not reload the arrays after every store
        cdef const Py_ssize_t *zp = &self.zp[0]
        cdef const Py_ssize_t *zj = &self.zj[0]
        cdef const double *zx = &self.zx[0]
        cdef const double *X = &self.X[0, 0] if p_ > 0 else NULL
        cdef double *r = &rhs[0]
        cdef double *wz = &self.wz[0]
        cdef const Py_ssize_t *zobs = &self.zobs[0]
        cdef const Py_ssize_t *zcol = &self.zcol[0]
        cdef const double *zval = &self.zval[0]
        cdef double *ZtWX = &self.ZtWX[0]
        cdef double *Xtwz = &self.Xtwz[0]
        cdef double *wx = &self.wx[0]
        cdef double *Xs = &self.Xs[0]
        cdef double *zs = &self.zs[0]
        cdef double *row
        cdef double sw
        cdef int pi = <int>p_, ni = <int>n
        rhs[:] = 0.0
        if fit_beta:
            self.ZtWX[:] = 0.0
        for i in range(n):
            wi = w[i]
            zi = eta[i] - offset[i] + ratio[i]
            wz[i] = wi * zi
            if fit_beta:
                # W^(1/2) X and W^(1/2) z for BLAS, and Z'WX by rows
                sw = sqrt(wi)
                for c in range(p_):
                    wx[c] = wi * X[i * p_ + c]
                    Xs[i * p_ + c] = sw * X[i * p_ + c]
                zs[i] = sw * zi
                for p in range(zp[i], zp[i + 1]):
                    row = ZtWX + zj[p] * p_
                    for c in range(p_):
                        row[c] += zx[p] * wx[c]
        for t in range(self.zobs.shape[0]):
            r[zcol[t]] += zval[t] * wz[zobs[t]]
        if fit_beta:
            # X'WX (M's lower triangle: Fortran's upper) and X'W z; W^(1/2) X row-major is
            # Fortran's p x n matrix (W^(1/2) X)'
            dsyrk(_UPPER, _NOTRANS, &pi, &ni, &_PLUS_ONE, Xs, &pi, &_ZERO, M, &pi)
            dgemv(_NOTRANS, &pi, &ni, &_PLUS_ONE, Xs, &pi, zs, &_ONE, &_ZERO, Xtwz, &_ONE)
        if self.factor.factorize(self.Cx) != 0:
            return 1
        self.ldL2 = self.factor.ldL2
        # cu = L^-1 P Lambda Z'W z
        for j in range(q):
            x[j] = lam[self.perm[j]] * rhs[self.perm[j]]
        self.factor.forward(&x[0])
        if fit_beta:
            # RZX = L^-1 P Lambda Z'WX (by columns), then RX'RX = X'WX - RZX'RZX
            for c in range(p_):
                for j in range(q):
                    RZX[c * q + j] = lam[self.perm[j]] * ZtWX[self.perm[j] * p_ + c]
                self.factor.forward(RZX + c * q)
            for c in range(p_):
                acc = Xtwz[c]
                for j in range(q):
                    acc -= RZX[c * q + j] * x[j]
                b[c] = acc
                for c2 in range(c + 1):
                    acc = 0.0
                    for j in range(q):
                        acc += RZX[c * q + j] * RZX[c2 * q + j]
                    M[c * p_ + c2] -= acc
            if _cholesky_lower(self.M, p_) != 0:
                return 2
            # beta = RX^-1 RX'^-1 (X'W z - RZX' cu), then u's right-hand side cu - RZX beta
            _solve_lower(self.M, self.b_new, p_)
            _solve_lower_t(self.M, self.b_new, p_)
            for c in range(p_):
                for j in range(q):
                    x[j] -= RZX[c * q + j] * b[c]
        self.factor.backward(&x[0])
        for j in range(q):
            self.u_new[self.perm[j]] = x[j]
            x[j] = 0.0
        return 0

    cdef void _linpred(self, const double[::1] offset, const double[::1] lam,
                       const double[::1] u, const double *b, bint fit_beta,
                       double *eta) noexcept nogil:
        """eta = offset + Z Lambda u (+ X b)."""
        cdef Py_ssize_t i, p, c
        cdef double acc, xb
        for i in range(self.n):
            acc = offset[i]
            for p in range(self.zp[i], self.zp[i + 1]):
                acc += self.zx[p] * lam[self.zj[p]] * u[self.zj[p]]
            if fit_beta:
                xb = 0.0
                for c in range(self.p):
                    xb += self.X[i, c] * b[c]
                acc += xb
            eta[i] = acc

    # ------------------------------------------------------------------ the loop
    def run(self, double[::1] lam, const double[::1] offset, const double[::1] eta_start,
            int maxit, double tol, double[::1] eta, bint fit_beta=False,
            double noise=0.0, double max_eta_step=0.0, bint exact_final=False):
        """PIRLS from ``eta_start`` (u = 0, and beta = 0 when ``fit_beta``) at the term
        scales ``lam``. With ``fit_beta`` beta is estimated with u (lme4's nAGQ = 0);
        otherwise its contribution is in ``offset``. The conditional modes and the state
        at them are left in this workspace (``eta`` receives the linear predictor).
        ``noise`` and ``max_eta_step`` are the extra-parameter families' safeguards
        (see pylmer.pirls.GlmerDevfun.pirls): a change of the deviance within ``noise``
        (its rounding error) is convergence, an increase within it no failure, and a step
        moves eta by at most
        ``max_eta_step`` (0: lme4's loop, neither). With ``exact_final`` (the ordinal
        family) L is factored once more at the modes, with the Laplace weights: ldL2 and
        diag(L) are then the Laplace approximation's.
        Returns one of OK, NOT_POSITIVE_DEFINITE, FIXED_NOT_POSITIVE_DEFINITE,
        HALVING_FAILED, NOT_CONVERGED."""
        cdef Py_ssize_t q = self.q, n = self.n, p_ = self.p, k, p, j, i
        cdef int it, halvings, status = _NOT_CONVERGED, cur, trial, info
        if lam.shape[0] != q or offset.shape[0] != n or eta_start.shape[0] != n \
                or eta.shape[0] != n:
            raise ValueError("run(): lam needs one value per random effect, offset, "
                             "eta_start and eta one per observation")
        cdef double oldpdev = np.inf, pdev = 0.0, step, uu, dev, ll = 0.0, ll_try = 0.0
        cdef double jump, allowed
        cdef double[::1] u = self.u, u_new = self.u_new, du = self.du
        cdef double[::1] bb = self.b, b_new = self.b_new, db = self.db
        # two sets of response buffers (the current point and the trial point), swapped
        # on acceptance; the set numbered 2 is the start's, kept between calls
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
        errors = np.seterr(over="ignore") if self.response.vector else None
        with nogil:
            for k in range(q):
                for p in range(self.Cp[k], self.Cp[k + 1]):
                    self.lamC[p] = lam[self.cr[p]] * lam[self.cc[p]]
            # the weights at the start depend on eta_start alone: computed once for it
            if not self.have_start or memcmp(E[2], &eta_start[0], n * sizeof(double)) != 0:
                memcpy(E[2], &eta_start[0], n * sizeof(double))
                self.response.respond(E[2], MU[2], DR[2], W[2], R[2], &ll)
                self.have_start = True
            cur, trial = 2, 0
            u[:] = 0.0
            bb[:] = 0.0
            b_new[:] = 0.0
            for it in range(1, maxit + 1):
                self.iterations = it
                info = self._step(W[cur], R[cur], E[cur], offset, lam, fit_beta)
                if info != 0:
                    status = (_NOT_POSITIVE_DEFINITE if info == 1
                              else _FIXED_NOT_POSITIVE_DEFINITE)
                    break
                for j in range(q):
                    du[j] = u_new[j] - u[j]
                for j in range(p_):
                    db[j] = b_new[j] - bb[j]
                step = 1.0
                self._linpred(offset, lam, u_new, &b_new[0], fit_beta, E[trial])
                if max_eta_step > 0.0:
                    jump = 0.0
                    for i in range(n):
                        if fabs(E[trial][i] - E[cur][i]) > jump:
                            jump = fabs(E[trial][i] - E[cur][i])
                    if jump > max_eta_step:
                        step = max_eta_step / jump
                        for j in range(q):
                            u_new[j] = u[j] + step * du[j]
                        for j in range(p_):
                            b_new[j] = bb[j] + step * db[j]
                        self._linpred(offset, lam, u_new, &b_new[0], fit_beta, E[trial])
                uu = 0.0
                for j in range(q):
                    uu += u_new[j] * u_new[j]
                dev = self.response.respond(E[trial], MU[trial], DR[trial], W[trial], R[trial],
                                    &ll_try)
                pdev = dev + uu
                if isfinite(oldpdev):
                    halvings = 0
                    while not (pdev <= oldpdev) and halvings < 10:
                        step /= 2.0
                        for j in range(q):
                            u_new[j] = u[j] + step * du[j]
                        for j in range(p_):
                            b_new[j] = bb[j] + step * db[j]
                        self._linpred(offset, lam, u_new, &b_new[0], fit_beta, E[trial])
                        uu = 0.0
                        for j in range(q):
                            uu += u_new[j] * u_new[j]
                        dev = self.response.respond(E[trial], MU[trial], DR[trial], W[trial],
                                            R[trial], &ll_try)
                        pdev = dev + uu
                        halvings += 1
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
                if fabs((oldpdev - pdev) / pdev) < tol or fabs(oldpdev - pdev) < noise:
                    status = _OK
                    if exact_final:  # the trial buffers are free after the acceptance
                        self.response.laplace_weights(E[cur], W[trial])
                        if self._step(W[trial], R[cur], E[cur], offset, lam, False) != 0:
                            status = _NOT_POSITIVE_DEFINITE
                    break
                oldpdev = pdev
            memcpy(&eta[0], E[cur], n * sizeof(double))
        if errors is not None:
            np.seterr(**errors)
        self.final = cur if status == _OK else -1
        self.pdev, self.loglik = pdev, ll
        return status

    def state(self):
        """(u, beta, mu, deviance residuals, diag(L) in the original order of the
        effects), as new arrays (beta: the last estimated, with ``fit_beta``)."""
        cdef Py_ssize_t j
        if self.final < 0:
            raise RuntimeError("state(): no PIRLS has converged in this workspace")
        L_diag_arr = np.empty(self.q)
        cdef double[::1] L_diag = L_diag_arr
        for j in range(self.q):
            L_diag[self.perm[j]] = self.factor.diagonal(j)
        if self.final == 0:
            mu, devres = np.asarray(self.mu_a).copy(), np.asarray(self.devres_a).copy()
        else:
            mu, devres = np.asarray(self.mu_b).copy(), np.asarray(self.devres_b).copy()
        return (np.asarray(self.u).copy(), np.asarray(self.b)[: self.p].copy(), mu, devres,
                L_diag_arr)
