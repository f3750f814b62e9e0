"""SciPy's heavy submodules, imported when first used.

``scipy.stats`` and ``scipy.optimize`` take about 40 MB of memory and half a second to
import, and fitting a model uses neither: the inference, diagnostics and plots do. Those
modules name them through the stand-ins here, which import the real module at the first
attribute read, so that ``import pylmer`` and a fit stay without them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["LazyModule", "optimize", "stats"]


class LazyModule:
    """A module imported at the first attribute read (``stats.norm``), then read from."""

    def __init__(self, name: str) -> None:
        self._name = name

    def module(self) -> ModuleType:
        """The module itself (imported now, if it was not)."""
        return importlib.import_module(self._name)

    def __getattr__(self, attribute: str):
        if attribute.startswith("__") or attribute == "_name":
            # copy and pickle ask for dunders, before (or without) __init__
            raise AttributeError(attribute)
        return getattr(self.module(), attribute)

    def __repr__(self) -> str:
        return f"<{self._name}, imported when first used>"


stats = LazyModule("scipy.stats")
optimize = LazyModule("scipy.optimize")
