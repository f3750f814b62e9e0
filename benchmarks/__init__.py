"""Timing benchmarks for pylmer; run them with ``python -m benchmarks`` (``make bench``)."""
