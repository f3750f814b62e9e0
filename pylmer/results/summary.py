"""``summary(m)`` of a fitted model."""

from __future__ import annotations


class LmerSummary:
    """lme4's ``summary(lmerMod)``: printable; its parts are attributes."""

    def __init__(self, model):
        self.model = model

    def __str__(self) -> str:
        from .format import format_lmermod

        return format_lmermod(self.model)

    __repr__ = __str__
