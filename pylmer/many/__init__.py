"""One formula, many responses: ``lmer_many`` (batched, in-process or on a Dask
cluster) and its result, ``ManyFits``."""
