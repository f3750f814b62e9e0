"""Fitted models and their printed summaries."""
