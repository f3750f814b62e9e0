"""Inference on fitted models: likelihood-ratio tests and confidence intervals."""
