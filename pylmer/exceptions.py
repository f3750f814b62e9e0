"""pylmer's warning classes.

Numerical trouble and data handling are reported with these classes so that callers can
filter them (``warnings.simplefilter("error", pylmer.SingularFitWarning)``).
"""

from __future__ import annotations

__all__ = [
    "ConvergenceWarning",
    "DeprecatedUseWarning",
    "SingularFitWarning",
    "GroupingFactorWarning",
    "MissingDataWarning",
    "PylmerWarning",
    "RankDeficiencyWarning",
]


class PylmerWarning(UserWarning):
    """Base class of every warning pylmer issues."""


class MissingDataWarning(PylmerWarning):
    """Rows with missing values were dropped from the model frame (R's ``na.omit``)."""


class RankDeficiencyWarning(PylmerWarning):
    """The fixed-effects model matrix is rank deficient; columns were dropped."""


class GroupingFactorWarning(PylmerWarning):
    """A grouping-factor check set to ``"warning"`` failed (lme4's ``check.nlev.*``)."""


class SingularFitWarning(PylmerWarning):
    """The fit is singular: a variance is (nearly) zero or a correlation is +-1.

    lme4's words: "boundary (singular) fit: see help('isSingular')".
    """


class ConvergenceWarning(PylmerWarning):
    """The optimizer may not have converged (lme4's "Model failed to converge ...")."""


class DeprecatedUseWarning(PylmerWarning, FutureWarning):
    """A call lme4 deprecates, such as ``deviance()`` of a REML fit (lme4's words:
    "deviance() is deprecated for REML fits; use REMLcrit for the REML criterion or
    deviance(.,REML=FALSE) for deviance calculated at the REML fit")."""
