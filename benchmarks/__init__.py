"""Benchmarks of pylmer against R's lme4; run them with ``python -m benchmarks`` (``make bench``).

Modules: ``cases`` (models and identical data for both sides), ``pylmer_side`` and ``r_side``
(timing and memory of each side), ``memory`` (RSS measurement), ``table`` (the report).
See ``benchmarks/__main__.py`` for the options and what exactly is measured.
"""
