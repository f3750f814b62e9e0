"""Build of pylmer's compiled loops (the rest of the metadata is in pyproject.toml)."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [Extension("pylmer.linalg._kernels", ["pylmer/linalg/_kernels.pyx"],
                   extra_compile_args=["-O3"]),
         Extension("pylmer.linalg._many", ["pylmer/linalg/_many.pyx"],
                   extra_compile_args=["-O3"]),
         Extension("pylmer.linalg._factor", ["pylmer/linalg/_factor.pyx"],
                   extra_compile_args=["-O3"]),
         Extension("pylmer._response", ["pylmer/_response.pyx"],
                   extra_compile_args=["-O3"]),
         Extension("pylmer._pwrss", ["pylmer/_pwrss.pyx"], extra_compile_args=["-O3"]),
         Extension("pylmer._pirls", ["pylmer/_pirls.pyx"], extra_compile_args=["-O3"]),
         Extension("pylmer._families", ["pylmer/_families.pyx"],
                   extra_compile_args=["-O3"])],
        compiler_directives={"language_level": 3},
    ),
)
