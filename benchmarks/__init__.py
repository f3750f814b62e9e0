"""Benchmarks of pylmer against R's lme4 and the Rust package glmm; run them with
``python -m benchmarks`` (``make bench``).

Modules: ``cases`` (models and identical data for every side), ``pylmer_side``, ``r_side`` and
``glmm_side`` (timing and memory of each side; glmm runs from its own environment,
``.venv-glmm``), ``nb_cases`` (the ``nb`` group: pylmer's negative binomial fits against
glmmTMB and lme4's glmer.nb, both sides), ``agq_cases`` (the ``agq`` group: pylmer's adaptive
Gauss-Hermite quadrature for vector-valued and nested terms, no comparator), ``memory`` (RSS
measurement), ``table`` (the report).
See ``benchmarks/__main__.py`` for the options and what exactly is measured.
"""
