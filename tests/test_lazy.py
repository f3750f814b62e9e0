"""SciPy's heavy submodules are imported when first used (pylmer.lazy): not by
``import pylmer`` nor by a fit and its summary, which need neither."""

import subprocess
import sys

import numpy as np
import scipy.stats

from pylmer import lazy

FIT_WITHOUT_STATS = """
import sys, warnings
warnings.simplefilter("ignore")
from pylmer import glmer, lmer, load_dataset
loaded = lambda: [m for m in ("scipy.stats", "scipy.optimize") if m in sys.modules]
assert loaded() == [], loaded()
m = lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))
g = glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
          load_dataset("cbpp"), family="binomial")
p = glmer("TICKS ~ YEAR + (1 | BROOD)", load_dataset("grouseticks"), family="poisson")
text = str(m.summary()) + str(g.summary()) + str(p.AIC())
assert loaded() == [], loaded()
print("ok")
"""


def test_import_and_fits_leave_scipy_stats_and_optimize_unimported():
    out = subprocess.run([sys.executable, "-c", FIT_WITHOUT_STATS], capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_lazy_module_reads_through_to_the_module():
    assert lazy.stats.module() is scipy.stats
    assert lazy.stats.norm is scipy.stats.norm
    np.testing.assert_allclose(lazy.stats.norm.cdf(1.959963984540054), 0.975, rtol=1e-15)
    assert "scipy.stats" in repr(lazy.stats)
    assert not hasattr(lazy.stats, "__wrapped__")


def test_lazy_module_copies_and_pickles_without_importing_or_recursing():
    import copy
    import pickle

    import pytest

    stand_in = lazy.LazyModule("scipy.stats")
    for other in (copy.copy(stand_in), copy.deepcopy(stand_in),
                  pickle.loads(pickle.dumps(stand_in))):
        assert other.module() is scipy.stats
    bare = lazy.LazyModule.__new__(lazy.LazyModule)  # as unpickling makes it, before state
    with pytest.raises(AttributeError):
        _ = bare.norm
