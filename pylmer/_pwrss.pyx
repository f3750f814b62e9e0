# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The penalized weighted least-squares step of PIRLS: one interface, two solvers.

The compiled PIRLS loop (:class:`pylmer._pirls.Pirls`) is written once over two small
interfaces called at C level: the response kernel (:mod:`pylmer._response`) and the solver
here. At the working weights ``w`` and working response ``z = eta - offset + ratio`` a
solver's :meth:`PwrssSolver.step` solves the penalized weighted least-squares problem for
the spherical random effects u (and beta, when the loop estimates it: lme4's nAGQ = 0);
:meth:`PwrssSolver.finish` records log|L|^2 of the last step, once, after the loop;
:meth:`PwrssSolver.linpred` maps (u, beta) to the linear predictor.

- :class:`ScalarSolver`, for scalar random-effects terms (Lambda diagonal): Z'WZ by the
  observations' pairs of non-zeros into the pattern of Z'Z, factored by
  :class:`pylmer.linalg._factor.CompiledFactor` (sparse on a symbolic pattern computed once,
  or blocked), without Python (see :mod:`pylmer.scalar_pirls` for its set-up).
- :class:`WorkspaceSolver`, for everything else (vector-valued terms, small dense models,
  factors too dense for the scalar layout): the step is the model's penalized least-squares
  workspace (:class:`pylmer.pwrss.WorkspacePwrss`), called through Python.
"""

from libc.math cimport sqrt
from scipy.linalg.cython_blas cimport dgemv, dsyrk

from pylmer.linalg._factor cimport CompiledFactor
from pylmer.linalg._kernels cimport _cholesky_lower, _solve_lower, _solve_lower_t

import numpy as np

# arguments of the BLAS calls (passed by address)
cdef char *_UPPER = b"U"
cdef char *_NOTRANS = b"N"
cdef int _ONE = 1
cdef double _PLUS_ONE = 1.0, _ZERO = 0.0

# step()'s outcomes besides 0 (solved)
cdef enum:
    _NOT_POSITIVE_DEFINITE = 1  # Lambda'Z'WZ Lambda + I
    _FIXED_NOT_POSITIVE_DEFINITE = 2  # X'WX - RZX'RZX
    _FAILED = 3  # a Python-level step raised (kept in ``error`` for the loop to raise)


cdef class PwrssSolver:
    """The solver interface of the compiled PIRLS loop (abstract)."""

    cdef int step(self, const double *w, const double *ratio, const double *eta,
                  const double *offset, bint fit_beta, double *u,
                  double *b) noexcept nogil:
        """Solve at weights w and working response ``eta - offset + ratio``: u (original
        order of the effects) and, with ``fit_beta``, b; ldL2. 0 or an outcome above."""
        return _FAILED

    cdef void linpred(self, const double *offset, const double *u, const double *b,
                      bint fit_beta, double *eta) noexcept nogil:
        """eta = offset + Z Lambda u (+ X b)."""
        pass

    cdef void finish(self) noexcept nogil:
        """After the loop: ldL2 of the last step (computed once, not at every step)."""
        pass

    def set_theta(self, theta, lam):
        """The covariance parameters (and Lambda's stored values ``theta[Lind]``) of the
        steps that follow."""
        raise NotImplementedError

    def L_diagonal(self):
        """diag(L) at the last step, in the effects' original order (None: the workspace
        keeps it)."""
        return None

    def take_error(self):
        """The exception a failed step raised (once), or None."""
        exc, self.error = self.error, None
        return exc


cdef class ScalarSolver(PwrssSolver):
    """The step for scalar terms: see the module docstring. Built by
    :func:`pylmer.scalar_pirls.build`."""

    def __init__(self, Py_ssize_t n, zp, zj, zx, zobs, zcol, zval, obs, slot, prod, Cp, Ci,
                 cr, cc, perm, X, int q1=0):
        self.n, self.q = n, len(perm)
        self.X, self.p = X, X.shape[1]
        p = max(self.p, 1)
        q = self.q
        self.ZtWX, self.RZX = np.empty(q * p), np.empty(q * p)
        self.M, self.Xtwz, self.bsol = np.empty((p, p)), np.empty(p), np.zeros(p)
        self.wx = np.zeros(p)
        self.Xs, self.zs = np.empty(n * p), np.empty(n)
        self.zp, self.zj, self.zx = zp, zj, zx
        self.zobs, self.zcol, self.zval = zobs, zcol, zval
        self.wz = np.empty(n)
        self.obs, self.slot, self.prod = obs, slot, prod
        self.Cp, self.Ci, self.cr, self.cc, self.perm = Cp, Ci, cr, cc, perm
        self.factor = CompiledFactor(Cp, Ci, q1)
        self.Cx, self.lamC = np.empty(len(Ci)), np.empty(len(Ci))
        self.lam = np.ones(q)
        self.x, self.rhs = np.zeros(q), np.empty(q)

    def factor_nnz(self):
        return self.factor.nnz()

    cdef void finish(self) noexcept nogil:
        self.ldL2 = self.factor.logdet()

    @property
    def q1(self):
        """Size of the factor's diagonal leading block (0: the sparse layout)."""
        return self.factor.q1

    def set_theta(self, theta, lam):
        cdef Py_ssize_t k, p, nnz
        self.lam = np.ascontiguousarray(lam, dtype=float)
        if self.lam.shape[0] != self.q:
            raise ValueError("set_theta(): lam needs one value per random effect")
        nnz = self.Cp[self.q]  # C's stored entries, each lam_row lam_col
        if nnz == 0:
            return
        cdef const double *lam_ = &self.lam[0]
        cdef double *lamC = &self.lamC[0]
        cdef const Py_ssize_t *cr = &self.cr[0]
        cdef const Py_ssize_t *cc = &self.cc[0]
        with nogil:
            for p in range(nnz):
                lamC[p] = lam_[cr[p]] * lam_[cc[p]]

    def L_diagonal(self):
        out = np.empty(self.q)
        cdef double[::1] d = out
        cdef Py_ssize_t j
        for j in range(self.q):
            d[self.perm[j]] = self.factor.diagonal(j)
        return out

    cdef int step(self, const double *w, const double *ratio, const double *eta,
                  const double *offset, bint fit_beta, double *u,
                  double *b_out) noexcept nogil:
        cdef Py_ssize_t q = self.q, p_ = self.p, n = self.n, t, i, p, k, j, c, c2
        cdef double acc, wi, zi
        cdef double[::1] Cx = self.Cx, x = self.x, rhs = self.rhs, lam = self.lam
        cdef double *RZX = &self.RZX[0]
        cdef double *M = &self.M[0, 0]
        cdef double *b = &self.bsol[0]
        # C's values: Lambda Z'WZ Lambda (+ I on the diagonal); local pointers, so that
        # the compiler need not reload the arrays after every store
        cdef double *cx = &Cx[0]
        cdef const Py_ssize_t *slot = &self.slot[0]
        cdef const Py_ssize_t *obs = &self.obs[0]
        cdef const double *prod = &self.prod[0]
        cdef const double *lamC = &self.lamC[0]
        cdef const Py_ssize_t *Cp = &self.Cp[0]
        cdef const Py_ssize_t *Ci = &self.Ci[0]
        Cx[:] = 0.0
        for t in range(self.slot.shape[0]):
            cx[slot[t]] += prod[t] * w[obs[t]]
        for k in range(q):
            for p in range(Cp[k], Cp[k + 1]):
                cx[p] *= lamC[p]
                if Ci[p] == k:
                    cx[p] += 1.0
        # Z'W z (and Z'WX, X'WX, X'W z), in the original order
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
            return _NOT_POSITIVE_DEFINITE
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
                return _FIXED_NOT_POSITIVE_DEFINITE
            # beta = RX^-1 RX'^-1 (X'W z - RZX' cu), then u's right-hand side cu - RZX beta
            _solve_lower(self.M, self.bsol, p_)
            _solve_lower_t(self.M, self.bsol, p_)
            for c in range(p_):
                b_out[c] = b[c]
                for j in range(q):
                    x[j] -= RZX[c * q + j] * b[c]
        self.factor.backward(&x[0])
        for j in range(q):
            u[self.perm[j]] = x[j]
            x[j] = 0.0
        return 0

    cdef void linpred(self, const double *offset, const double *u, const double *b,
                      bint fit_beta, double *eta) noexcept nogil:
        cdef Py_ssize_t i, p, c, j, p_ = self.p
        cdef double acc, xb
        # local pointers: the stores to eta would otherwise reload each array from self
        cdef const Py_ssize_t *zp = &self.zp[0]
        cdef const Py_ssize_t *zj = &self.zj[0]
        cdef const double *zx = &self.zx[0]
        cdef const double *lam = &self.lam[0]
        cdef const double *X = &self.X[0, 0] if p_ > 0 else NULL
        for i in range(self.n):
            acc = offset[i]
            for p in range(zp[i], zp[i + 1]):
                j = zj[p]
                acc += zx[p] * lam[j] * u[j]
            if fit_beta:
                xb = 0.0
                for c in range(p_):
                    xb += X[i * p_ + c] * b[c]
                acc += xb
            eta[i] = acc


cdef inline object _view(const double *x, Py_ssize_t n):
    """A NumPy array over n doubles (no copy; read-only use)."""
    if n == 0:
        return np.empty(0)
    return np.asarray(<double[:n]> (<double *> x))


cdef class WorkspaceSolver(PwrssSolver):
    """The step through Python: ``owner`` has ``set_theta(theta)``, ``solve(z, w,
    fit_beta) -> (u, beta or None, ldL2, diag(L) or None)`` (raising
    ``numpy.linalg.LinAlgError`` where the system is not positive definite) and
    ``ZLu(u) -> Z Lambda u``."""

    def __init__(self, owner, Py_ssize_t n, Py_ssize_t q, X):
        self.owner, self.n, self.q = owner, n, q
        self.X_arr = np.ascontiguousarray(X, dtype=float)
        self.X, self.p = self.X_arr, self.X_arr.shape[1]
        self.L_diag = None

    def set_theta(self, theta, lam):
        self.owner.set_theta(theta)

    def L_diagonal(self):
        return None if self.L_diag is None else np.array(self.L_diag)

    cdef int step(self, const double *w, const double *ratio, const double *eta,
                  const double *offset, bint fit_beta, double *u,
                  double *b) noexcept nogil:
        cdef Py_ssize_t j
        cdef double[::1] uv, bv
        with gil:
            try:
                z = _view(eta, self.n) - _view(offset, self.n) + _view(ratio, self.n)
                u_new, b_new, ldL2, self.L_diag = self.owner.solve(
                    z, _view(w, self.n).copy(), fit_beta)
            except np.linalg.LinAlgError:
                return _NOT_POSITIVE_DEFINITE
            except BaseException as exc:
                self.error = exc
                return _FAILED
            self.ldL2 = ldL2
            uv = np.ascontiguousarray(u_new, dtype=float)
            for j in range(self.q):
                u[j] = uv[j]
            if fit_beta:
                bv = np.ascontiguousarray(b_new, dtype=float)
                for j in range(self.p):
                    b[j] = bv[j]
        return 0

    cdef void linpred(self, const double *offset, const double *u, const double *b,
                      bint fit_beta, double *eta) noexcept nogil:
        cdef Py_ssize_t i, c
        cdef double xb
        cdef double[::1] zl
        with gil:
            zl = np.ascontiguousarray(self.owner.ZLu(_view(u, self.q).copy()), dtype=float)
        for i in range(self.n):
            xb = 0.0
            if fit_beta:
                for c in range(self.p):
                    xb += self.X[i, c] * b[c]
            eta[i] = offset[i] + zl[i] + xb
