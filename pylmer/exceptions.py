"""pylmer's error and warning classes.

Bad input raises a :class:`PylmerError` (a ``ValueError``) that names the culprit.
Numerical trouble and data handling are reported with the warning classes so that callers
can filter them (``warnings.simplefilter("error", pylmer.SingularFitWarning)``).
"""

from __future__ import annotations

import os
import sys
import threading
import warnings

__all__ = [
    "warn_user",
    "WarningLog",
    "ConvergenceWarning",
    "FormulaError",
    "PylmerError",
    "PirlsError",
    "NotAvailableError",
    "DeprecatedUseWarning",
    "SingularFitWarning",
    "GroupingFactorWarning",
    "MissingDataWarning",
    "PylmerWarning",
    "RankDeficiencyWarning",
    "ScalingWarning",
]


class PylmerError(ValueError):
    """Base class of the errors pylmer raises for input it cannot use."""


class FormulaError(PylmerError):
    """A formula (or an expression given for ``weights=``, ``offset=``) that pylmer cannot
    evaluate: bad syntax, an unknown function or column, arguments of the wrong type."""


class PylmerWarning(UserWarning):
    """Base class of every warning pylmer issues."""


class MissingDataWarning(PylmerWarning):
    """Rows with missing values were dropped from the model frame (R's ``na.omit``)."""


class PirlsError(PylmerError, RuntimeError):
    """PIRLS could not reduce the penalized deviance (lme4's pwrssUpdate errors)."""


class NotAvailableError(PylmerError, NotImplementedError):
    """A method that exists for other models is not available for this one (e.g. profile
    intervals of a clmm fit); the message names what to use instead."""


class RankDeficiencyWarning(PylmerWarning):
    """The fixed-effects model matrix is rank deficient; columns were dropped."""


class ScalingWarning(PylmerWarning):
    """Predictors are on very different scales (lme4's words: "Some predictor variables
    are on very different scales: consider rescaling")."""


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


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def warn_user(message: str, category: type[Warning]) -> None:
    """Warn at the caller's line: the first frame outside pylmer's own code, whatever the
    depth of the call that found the problem (``warnings.warn`` with that ``stacklevel``)."""
    frame, level = sys._getframe(0), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(
            _PACKAGE_DIR + os.sep):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


# ``warnings.catch_warnings`` is process-wide, so threads cannot each record their own:
# one recorder is installed for a whole run, and each thread says which item (a response,
# a bootstrap replicate) it is working on.
class WarningLog:
    """A context in which warnings are recorded by the response each thread is on."""

    def __init__(self):
        self._local = threading.local()
        self._lock = threading.Lock()
        self._by_item: dict[object, list[str]] = {}
        self._context = None

    def __enter__(self):
        self._context = warnings.catch_warnings()
        self._context.__enter__()
        warnings.simplefilter("always")
        warnings.showwarning = self._record
        return self

    def __exit__(self, *exc) -> None:
        self._context.__exit__(*exc)

    def _record(self, message, category, filename, lineno, file=None, line=None):
        with self._lock:
            self._by_item.setdefault(getattr(self._local, "item", None), []).append(
                str(message))

    def working_on(self, item) -> None:
        """This thread's warnings from now on belong to ``item``."""
        self._local.item = item

    def take(self, item) -> list[str]:
        """The warnings recorded for ``item`` (and forgets them)."""
        with self._lock:
            return self._by_item.pop(item, [])
