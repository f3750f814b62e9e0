# The compiled response kernel that compiled loops (pylmer._pirls) call at C level: see
# _response.pyx.

cdef enum:
    BINOMIAL_LOGIT = 1
    POISSON_LOG = 2
    GAMMA_LOG = 3
    CUMULATIVE = 4


cdef class ResponseKernel:
    cdef readonly int kind
    cdef readonly Py_ssize_t n
    cdef const double[::1] y, pw, dev0, llk, llf
    cdef bint binary  # every y is 0 or 1 (and so is each log-likelihood coefficient's use)
    # the vectorized pass (many observations): its buffers, as arrays for NumPy
    cdef readonly bint vector
    cdef object vt_arr, ve_arr, vx_arr, vx2_arr
    cdef double[::1] vt, ve, vx, vx2
    # the cumulative (ordinal) family: its link's code and (-inf, thresholds, +inf)
    cdef readonly int link
    cdef object bounds_arr
    cdef double[::1] bounds
    # bumped whenever the pass's parameters (the bounds) change: the PIRLS loop's cached
    # start weights are valid for one generation
    cdef readonly long generation
    cdef object error  # an exception raised inside a Python-level pass, for the loop

    cdef double respond(self, const double *eta, double *mu, double *devres, double *w,
                        double *ratio, double *loglik) noexcept nogil
    cdef void _respond_chunk(self, Py_ssize_t start, Py_ssize_t stop, const double *eta,
                             double *mu, double *devres, double *w, double *ratio,
                             double *total_, double *ll_) noexcept nogil
    cdef double _respond_vector(self, const double *eta, double *mu, double *devres,
                                double *w, double *ratio, double *loglik) noexcept nogil
    cdef double _respond_cumulative(self, const double *eta, double *mu, double *devres,
                                    double *w, double *ratio, double *loglik) noexcept nogil
    cdef void laplace_weights(self, const double *eta, double *w) noexcept nogil
    cdef double unit_devres(self, Py_ssize_t i, double eta) noexcept nogil


cdef class PythonResponse(ResponseKernel):
    cdef object owner
