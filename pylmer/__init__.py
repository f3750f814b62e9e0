"""pylmer: linear and generalized linear mixed-effects models with lme4's formulas and numbers.

R users write what they wrote in R::

    from pylmer import lmer, glmer, load_dataset, fixef, VarCorr
    m = lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))
    print(m.summary())
    g = glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
              load_dataset("cbpp"), family="binomial")
"""

from .api import clmm, glmer, glmer_nb, lmer, update
from .control import GlmerControl, LmerControl
from .datasets import list_datasets, load_dataset
from .diagnostic_plots import plot_diagnostics, plot_influence, plot_simulated_residuals
from .exceptions import (
    ConvergenceWarning,
    DeprecatedUseWarning,
    FormulaError,
    GroupingFactorWarning,
    MissingDataWarning,
    NotAvailableError,
    PirlsError,
    PylmerError,
    PylmerWarning,
    RankDeficiencyWarning,
    ScalingWarning,
    SingularFitWarning,
)
from .family import (
    BetaFamily,
    Binomial,
    Family,
    Gamma,
    Gaussian,
    InverseGaussian,
    Link,
    NBinom1,
    NBinom2,
    NegativeBinomial,
    Poisson,
    beta_family,
    binomial,
    gaussian,
    get_family,
    inverse_gaussian,
    nbinom1,
    nbinom2,
    negative_binomial,
    poisson,
)
from .formula.rexpr import FormulaSyntaxError
from .inference.allfit import AllFit, allFit
from .inference.anova import anova
from .inference.bootstrap import bootMer
from .inference.confint import confint
from .inference.diagnostics import (
    AIC,
    BIC,
    Anova,
    check_overdispersion,
    cooks_distance,
    hatvalues,
    icc,
    r2_nakagawa,
    rstudent,
)
from .inference.drop1 import drop1
from .inference.emmcontrast import contrast, pairs
from .inference.emmeans import EMMGrid, emmeans, ref_grid
from .inference.influence import Influence, influence
from .inference.lsmeans import difflsmeans, ls_means
from .inference.random_tests import lmList, ranova
from .inference.simulated_residuals import (
    HTest,
    SimulatedResiduals,
    simulate_residuals,
    testDispersion,
    testUniformity,
    testZeroInflation,
)
from .many.api import glmer_many, lmer_many
from .many.fits import ManyFits
from .modular import (
    LFormula,
    OptInfo,
    glFormula,
    lFormula,
    mkGlmerDevfun,
    mkLmerDevfun,
    mkMerMod,
    optimizeGlmer,
    optimizeLmer,
    updateGlmerDevfun,
)
from .results.clmmmod import ClmmMod
from .results.glmermod import GlmerMod
from .results.lmermod import LmerMod
from .results.mermod import MerMod
from .rstyle import (
    REMLcrit,
    VarCorr,
    coef,
    deviance,
    df_residual,
    fitted,
    fixef,
    getME,
    isGLMM,
    isLMM,
    isREML,
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
    "lmer", "glmer", "glmer_nb", "clmm", "update", "lFormula", "glFormula", "mkLmerDevfun", "optimizeLmer", "mkMerMod",
    "mkGlmerDevfun", "optimizeGlmer", "updateGlmerDevfun",
    # many responses
    "lmer_many", "glmer_many", "ManyFits",
    "LFormula", "MerMod", "LmerMod", "GlmerMod", "ClmmMod", "OptInfo", "LmerControl", "GlmerControl",
    # families
    "Family", "Link", "Binomial", "Poisson", "Gamma", "InverseGaussian", "Gaussian",
    "binomial", "poisson", "inverse_gaussian", "gaussian", "get_family",
    "NBinom2", "NBinom1", "NegativeBinomial", "BetaFamily",
    "nbinom2", "nbinom1", "negative_binomial", "beta_family",
    # inference
    "anova", "confint", "bootMer", "drop1",
    # checks after a fit
    "hatvalues", "cooks_distance", "check_overdispersion", "r2_nakagawa", "icc",
    "ranova", "lmList", "Anova", "influence", "Influence", "allFit", "AllFit",
    "rstudent", "simulate_residuals", "SimulatedResiduals", "HTest", "testUniformity",
    "testDispersion", "testZeroInflation",
    "plot_diagnostics", "plot_influence", "plot_simulated_residuals",
    "emmeans", "EMMGrid", "ref_grid", "contrast", "pairs", "ls_means", "difflsmeans",
    # R-style generics
    "AIC", "BIC", "REMLcrit", "VarCorr", "coef", "deviance", "df_residual", "fitted",
    "fixef", "getME", "isSingular", "logLik", "ngrps", "nobs", "ranef", "residuals",
    "sigma", "summary", "vcov", "isGLMM", "isLMM", "isREML",
    # data
    "load_dataset", "list_datasets",
    # errors and warnings
    "PylmerError", "FormulaError", "FormulaSyntaxError", "PylmerWarning", "MissingDataWarning", "RankDeficiencyWarning",
    "ScalingWarning", "GroupingFactorWarning", "SingularFitWarning", "ConvergenceWarning",
    "DeprecatedUseWarning",
    "PirlsError", "NotAvailableError",
]
