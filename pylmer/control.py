"""Control settings: lme4's ``lmerControl()`` and ``glmerControl()`` (frozen).

Each data check has an action, spelled as in lme4: ``"ignore"``, ``"warning"`` or
``"stop"``. The defaults are lme4's; they differ between lmer and glmer where lme4's do.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CHECK_ACTIONS", "RANKX_ACTIONS", "GlmerControl", "LmerControl"]

CHECK_ACTIONS = ("ignore", "warning", "stop")
RANKX_ACTIONS = ("message+drop.cols", "silent.drop.cols", "warn+drop.cols", "stop.deficient",
                 "ignore")


@dataclass(frozen=True)
class LmerControl:
    """Settings for ``lmer`` (R: ``lmerControl()``).

    Attributes
    ----------
    check_nobs_vs_nlev : str
        Every grouping factor must have fewer levels than observations.
    check_nlev_gtr_1 : str
        Every grouping factor must have more than one level.
    check_nlev_gtreq_5 : str
        Warn when a grouping factor has fewer than 5 levels (ignored by default).
    check_nobs_vs_nRE : str
        The number of observations must exceed the number of random effects of each term.
    check_rankX : str
        What to do with a rank-deficient fixed-effects matrix: ``"message+drop.cols"``
        (drop columns and say which), ``"silent.drop.cols"``, ``"warn+drop.cols"``,
        ``"stop.deficient"`` or ``"ignore"``.
    """

    check_nobs_vs_nlev: str = "stop"
    check_nlev_gtr_1: str = "stop"
    check_nlev_gtreq_5: str = "ignore"
    check_nobs_vs_nRE: str = "stop"
    check_rankX: str = "message+drop.cols"

    # lmer: a factor with one observation per level is an error; glmer allows it
    allow_n_levels_equal_nobs = False

    def __post_init__(self) -> None:
        for name in ("check_nobs_vs_nlev", "check_nlev_gtr_1", "check_nlev_gtreq_5",
                     "check_nobs_vs_nRE"):
            value = getattr(self, name)
            if value not in CHECK_ACTIONS:
                raise ValueError(f"{name}={value!r}: use one of {', '.join(CHECK_ACTIONS)}")
        if self.check_rankX not in RANKX_ACTIONS:
            raise ValueError(
                f"check_rankX={self.check_rankX!r}: use one of {', '.join(RANKX_ACTIONS)}"
            )


@dataclass(frozen=True)
class GlmerControl(LmerControl):
    """Settings for ``glmer`` (R: ``glmerControl()``); checks as in :class:`LmerControl`."""

    allow_n_levels_equal_nobs = True
