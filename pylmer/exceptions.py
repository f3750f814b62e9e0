"""pylmer's warning classes.

Numerical trouble and data handling are reported with these classes so that callers can
filter them (``warnings.simplefilter("error", pylmer.SingularFitWarning)``).
"""

from __future__ import annotations

__all__ = [
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
