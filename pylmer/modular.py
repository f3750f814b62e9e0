"""lme4's modular steps, in one place: ``lFormula`` / ``glFormula`` -> ``mkLmerDevfun`` /
``mkGlmerDevfun`` -> ``optimizeLmer`` / ``optimizeGlmer`` (stage 1, then
``updateGlmerDevfun`` and stage 2) -> ``mkMerMod``.

Each step is defined in the module of its layer (:mod:`pylmer.lformula` builds the
matrices, :mod:`pylmer.fitting` optimizes, :mod:`pylmer.results` holds the fitted models);
this module gathers them under lme4's names, as lme4's ``?modular`` page does::

    lf = lFormula("Reaction ~ Days + (Days | Subject)", sleepstudy)
    devfun = mkLmerDevfun(lf)
    opt = optimizeLmer(devfun)
    m = mkMerMod(lf, devfun, opt)
"""

from __future__ import annotations

from .fitting import (
    mkGlmerDevfun,
    mkLmerDevfun,
    optimizeGlmer,
    optimizeLmer,
    updateGlmerDevfun,
)
from .lformula import LFormula, glFormula, lFormula
from .objective import LmerDevfun
from .optimize import OptInfo
from .pirls import GlmerDevfun
from .results.clmmmod import ClmmMod
from .results.glmermod import GlmerMod
from .results.lmermod import LmerMod

__all__ = ["LFormula", "OptInfo", "glFormula", "lFormula", "mkGlmerDevfun", "mkLmerDevfun",
           "mkMerMod", "optimizeGlmer", "optimizeLmer", "updateGlmerDevfun"]


def mkMerMod(lf: LFormula, devfun: LmerDevfun | GlmerDevfun,
             optinfo: OptInfo) -> LmerMod | GlmerMod:
    """The fitted model from the optimum (R: ``mkMerMod``): an :class:`LmerMod` from an LMM
    devfun, a :class:`GlmerMod` from a GLMM one."""
    if isinstance(devfun, GlmerDevfun):
        if devfun.family.family == "cumulative":
            return ClmmMod(lf, devfun, optinfo)
        return GlmerMod(lf, devfun, optinfo)
    if isinstance(devfun, LmerDevfun):
        return LmerMod(lf, devfun, optinfo)
    raise TypeError(f"mkMerMod takes what mkLmerDevfun() or mkGlmerDevfun() returns, got "
                    f"{type(devfun).__name__}")
