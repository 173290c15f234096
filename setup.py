"""Build hook: compile overflight's numba kernels ahead of time into ``overflight._aot_kernels`` (numba.pycc).

Everything else about the package is in pyproject.toml. Why a build step: see src/overflight/_aot_build.py.
The extension is optional: without a C compiler the build goes on without it and kernels compile on first
use (numba's JIT), as before. ``OVERFLIGHT_AOT_CPU`` picks the target CPU (default: this machine's; a
portable wheel wants ``generic``); ``OVERFLIGHT_NO_AOT=1`` skips the step.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).parent / "src" / "overflight"


def _aot_build():  # the build helpers, loaded by path: the package __init__ must not run here
    spec = importlib.util.spec_from_file_location("_overflight_aot_build", ROOT / "_aot_build.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


class BuildKernels(build_ext):
    """setuptools' build_ext that first lets numba.pycc write the kernels' object files."""

    def build_extension(self, ext):  # noqa: D102
        cc = getattr(ext, "overflight_cc", None)
        if cc is not None:
            Path(self.build_temp).mkdir(parents=True, exist_ok=True)
            ext.extra_objects, _ = cc._compile_object_files(self.build_temp)
        super().build_extension(ext)


def _extensions():
    if os.environ.get("OVERFLIGHT_NO_AOT") or "egg_info" in sys.argv or "dist_info" in sys.argv:
        return []
    try:
        ab = _aot_build()
        sys.path.insert(0, str(ROOT.parent))
        cc = ab.make_cc(ROOT, ab.read_spec(ROOT / "_aot_signatures.json"),
                        cpu=os.environ.get("OVERFLIGHT_AOT_CPU", "host"))
        cc_ext = cc.distutils_extension()
        ext = Extension("overflight._aot_kernels", sources=cc_ext.sources,
                        define_macros=cc_ext.define_macros, include_dirs=cc_ext.include_dirs,
                        libraries=cc_ext.libraries, library_dirs=cc_ext.library_dirs,
                        extra_compile_args=cc_ext.extra_compile_args, extra_link_args=cc_ext.extra_link_args,
                        optional=True)
        ext.overflight_cc = cc
        return [ext]
    except Exception as e:  # no numba in the build environment, a kernel that pycc refuses, ...
        print(f"overflight: building without ahead-of-time kernels ({type(e).__name__}: {e})", file=sys.stderr)
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildKernels})
