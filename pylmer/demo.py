"""A first look at pylmer: the sleepstudy model of lme4's documentation.

Run it with ``python -m pylmer.demo`` (or ``make demo``). R equivalent::

    library(lme4)
    lFormula(Reaction ~ Days + (Days | Subject), sleepstudy)   # model structure
    summary(lmer(Reaction ~ Days + (Days | Subject), sleepstudy))
"""

import pylmer
from pylmer.datasets import load_dataset

FORMULA = "Reaction ~ Days + (Days | Subject)"


def main() -> None:
    """Load ``sleepstudy`` and show the model ``Reaction ~ Days + (Days | Subject)``.

    Fits the model and prints its summary when pylmer provides ``lmer``; until then
    prints the model structure that ``lFormula`` builds (X, Z, theta, ...).
    """
    data = load_dataset("sleepstudy")
    print(f"sleepstudy: {data.shape[0]} rows, columns {', '.join(data.columns)}")
    print(f"model: {FORMULA}\n")

    if hasattr(pylmer, "lmer"):
        fit = pylmer.lmer(FORMULA, data)
        print(fit.summary() if hasattr(fit, "summary") else fit)
        return

    from pylmer import lFormula

    lf = lFormula(FORMULA, data)
    print(lf)


if __name__ == "__main__":
    main()
