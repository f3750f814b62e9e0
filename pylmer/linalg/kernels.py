"""pylmer's compiled loops for linear algebra (Cython, built by ``pip install``).

They are required: a source tree that was never built stops here with an ImportError that
says how to build it. The same build makes ``pylmer._pirls`` and ``pylmer._response``.
"""

from __future__ import annotations

try:
    from ._factor import CompiledFactor, symbolic
    from ._kernels import (
        DensePls,
        accumulate_products,
        agq_accumulate,
        agq_level_sums,
        pair_slots,
        schur_downdate,
        weighted_normal_solve,
    )
    from ._many import BatchLmm
except ImportError as exc:  # pragma: no cover - an unbuilt source tree
    raise ImportError(
        "pylmer's compiled extension modules are missing (this looks like a source tree "
        "that was never built): install pylmer with 'pip install .' or, for development, "
        "'pip install -e .' (or 'make venv'), which compiles them with Cython; "
        f"the import error was: {exc}") from exc

__all__ = ["BatchLmm", "CompiledFactor", "DensePls", "accumulate_products", "agq_accumulate", "agq_level_sums", "pair_slots", "schur_downdate", "symbolic",
           "weighted_normal_solve"]
