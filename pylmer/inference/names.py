"""lme4's names of a model's variance parameters, as ``confint`` and ``bootMer`` print
them."""

from __future__ import annotations

from ..design import covariance

__all__ = ["parameter_names"]


def parameter_names(model) -> list[str]:
    """lme4's parameter names (``oldNames = FALSE``): ``sd_(Intercept)|Subject``,
    ``cor_Days.(Intercept)|Subject``, ..., ``sigma`` where the model has a scale."""
    names = []
    for group, cols in model.lf.reTrms.cnms:
        nc = len(cols)
        block = [""] * covariance.n_theta(nc)
        for j in range(nc):
            for i in range(j, nc):
                label = f"sd_{cols[i]}" if i == j else f"cor_{cols[i]}.{cols[j]}"
                block[covariance.theta_index(i, j, nc)] = f"{label}|{group}"
        names += block
    if not model.isGLMM() or model.family.estimates_dispersion:
        names.append("sigma")
    return names
