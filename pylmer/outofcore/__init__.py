"""Out-of-core fits: :func:`pylmer.lmer` of a Dask DataFrame (R: none; lme4 fits in
memory).

The rows stay on the workers: two passes over the partitions gather the factors' levels
and then the model's cross-products, and theta is optimized on the client with pylmer's
in-memory machinery on the q x q system (see :mod:`pylmer.outofcore.fit`). The fitted
model is an :class:`~pylmer.results.outofcore.OutOfCoreLmerMod`.
"""

from .fit import lmer_outofcore

__all__ = ["lmer_outofcore"]
