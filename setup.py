"""Builds the xpusim package: CMake builds the compiled module `_xpusim` (in $XPUSIM_CMAKE_BUILD_DIR,
default build/, so an up-to-date developer build is reused), and the package gets the Python files,
type stubs and, under xpusim/data/, the presets, models, validation data and report script that the
simulator finds beside its compiled module (sim/base/config.cpp source_dir())."""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

ROOT = os.path.dirname(os.path.abspath(__file__))
DATA = ["chips/*/presets/*.yaml", "workloads/models/*.json", "workloads/validation/*.csv", "workloads/studies/*.yaml",
        "scripts/compare_report.py"]


class BuildWithCMake(build_py):
    def run(self):
        build = os.path.abspath(os.environ.get("XPUSIM_CMAKE_BUILD_DIR", os.path.join(ROOT, "build")))
        if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
            gen = ["-G", "Ninja"] if shutil.which("ninja") else []
            subprocess.check_call(["cmake", "-S", ROOT, "-B", build, *gen, "-DCMAKE_BUILD_TYPE=Release",
                                   "-DPython_EXECUTABLE=%s" % sys.executable])
        subprocess.check_call(["cmake", "--build", build, "--target", "_xpusim", "xpu_h5", "-j", str(os.cpu_count() or 1)])
        super().run()
        pkg = os.path.join(self.build_lib, "xpusim")
        for so in glob.glob(os.path.join(build, "python", "xpusim", "_xpusim*.so")):
            shutil.copy2(so, pkg)
        # The HDF5 trace writer's plugin, found beside the module (sim/io/h5_plugin.h).
        shutil.copy2(os.path.join(build, "libxpu_h5.so"), pkg)
        for pattern in DATA:
            for f in glob.glob(os.path.join(ROOT, pattern)):
                dest = os.path.join(pkg, "data", os.path.relpath(f, ROOT))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copy2(f, dest)


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True  # the wheel holds a compiled module: platform-specific


setup(
    packages=["xpusim"],
    package_dir={"xpusim": "sim/app/python/xpusim"},
    package_data={"xpusim": ["*.pyi", "py.typed"]},
    cmdclass={"build_py": BuildWithCMake},
    distclass=BinaryDistribution,
    options={"build": {"build_base": os.path.join("build", "setuptools")}},
)
