"""R-style generic functions, so that an R script translates line by line.

``fixef(m)`` is ``m.fixef()``, ``VarCorr(m)`` is ``m.VarCorr()``, and so on; each
function forwards its arguments to the method of the same name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

__all__ = [
    "AIC", "BIC", "REMLcrit", "VarCorr", "coef", "deviance", "df_residual", "fitted",
    "fixef", "getME", "isSingular", "logLik", "ngrps", "nobs", "ranef", "residuals",
    "sigma", "summary", "vcov", "isGLMM", "isLMM", "isREML",
]


def _forward(name: str):
    def generic(model, *args, **kwargs) -> Any:
        method = getattr(model, name, None)
        if method is None:
            raise TypeError(f"{name}() needs a fitted pylmer model, got {type(model).__name__}")
        return method(*args, **kwargs)

    generic.__name__ = name
    generic.__qualname__ = name
    generic.__doc__ = f"R's ``{name.replace('_', '.')}(model, ...)``: calls ``model.{name}(...)``."
    return generic


AIC = _forward("AIC")
BIC = _forward("BIC")
REMLcrit = _forward("REMLcrit")
VarCorr = _forward("VarCorr")
coef = _forward("coef")
deviance = _forward("deviance")
df_residual = _forward("df_residual")
fitted = _forward("fitted")
fixef = _forward("fixef")
getME = _forward("getME")
isSingular = _forward("isSingular")
logLik = _forward("logLik")
ngrps = _forward("ngrps")
nobs = _forward("nobs")
ranef = _forward("ranef")
residuals = _forward("residuals")
sigma = _forward("sigma")
summary = _forward("summary")
vcov = _forward("vcov")
isGLMM = _forward("isGLMM")
isLMM = _forward("isLMM")
isREML = _forward("isREML")
