"""pylmer: linear and generalized linear mixed-effects models with lme4's formulas and numbers.

R users write what they wrote in R::

    from pylmer import lmer, load_dataset, fixef, VarCorr
    m = lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))
    print(m.summary())
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
from .modular import (
    LFormula,
    OptInfo,
    glFormula,
    lFormula,
    mkLmerDevfun,
    mkMerMod,
    optimizeLmer,
)
from .results.lmermod import LmerMod
from .rstyle import (
    AIC,
    BIC,
    REMLcrit,
    VarCorr,
    coef,
    deviance,
    df_residual,
    fitted,
    fixef,
    getME,
    isSingular,
    logLik,
    ngrps,
    nobs,
    ranef,
    residuals,
    sigma,
    summary,
    vcov,
)

__version__ = "0.1.0"

__all__ = [
    # fitting and lme4's modular steps
    "lmer", "lFormula", "glFormula", "mkLmerDevfun", "optimizeLmer", "mkMerMod",
    "LFormula", "LmerMod", "OptInfo", "LmerControl", "GlmerControl",
    # R-style generics
    "AIC", "BIC", "REMLcrit", "VarCorr", "coef", "deviance", "df_residual", "fitted",
    "fixef", "getME", "isSingular", "logLik", "ngrps", "nobs", "ranef", "residuals",
    "sigma", "summary", "vcov",
    # data
    "load_dataset", "list_datasets",
    # errors and warnings
    "FormulaSyntaxError", "PylmerWarning", "MissingDataWarning", "RankDeficiencyWarning",
    "GroupingFactorWarning", "SingularFitWarning", "ConvergenceWarning",
]
