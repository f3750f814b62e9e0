"""pylmer: linear and generalized linear mixed-effects models with lme4's formulas and numbers.

R users write what they wrote in R::

    from pylmer import lFormula, load_dataset
    lf = lFormula("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))
"""

from .api import lmer
from .control import GlmerControl, LmerControl
from .datasets import list_datasets, load_dataset
from .exceptions import (
    ConvergenceWarning,
    GroupingFactorWarning,
    MissingDataWarning,
    PylmerWarning,
    RankDeficiencyWarning,
    SingularFitWarning,
)
from .formula.rexpr import FormulaSyntaxError
from .modular import LFormula, glFormula, lFormula, mkLmerDevfun, mkMerMod, optimizeLmer
from .results.lmermod import LmerMod

__version__ = "0.1.0"

__all__ = [
    "FormulaSyntaxError",
    "GlmerControl",
    "GroupingFactorWarning",
    "LFormula",
    "LmerControl",
    "MissingDataWarning",
    "PylmerWarning",
    "RankDeficiencyWarning",
    "glFormula",
    "lFormula",
    "list_datasets",
    "load_dataset",
]
