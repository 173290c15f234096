"""Kernels compiled ahead of time, at run time: which calls go to the built code, which to numba's JIT.

The build (``setup.py``, `overflight._aot_build`) compiles the kernels' usual signatures, listed in
``_aot_signatures.json``, into the extension module ``overflight._aot_kernels``. `wrap` makes a kernel with
such signatures an `AotKernel`: a call whose argument types match one of them runs the built code at once,
any other goes to numba's JIT as before. The build serves only the sources it was built from (a digest of
the kernel modules and the list, compared at the first call); ``OVERFLIGHT_NO_AOT=1`` turns it off.
This module is not part of that digest: changing how calls are routed needs no rebuild.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from numba import typeof
from numba._dispatcher import compute_fingerprint
from numba.core import types
from numba.core.typing.typeof import Purpose
from numba.extending import typeof_impl

__all__ = ["SEEN", "AotKernel", "aot_status", "wrap"]


def wrap(disp: Any) -> Any:
    """The kernel as callers see it: an `AotKernel` when the build lists signatures for it, else ``disp``."""
    if os.environ.get("OVERFLIGHT_AOT_HARVEST"):
        return _Recording(disp)
    if _aot_sigs(disp.py_func) is None:
        return disp
    return AotKernel(disp)


_ROOT = Path(__file__).parent
_SPEC: dict[str, Any] | None = None
_AOT: Any = None  # the extension module once checked, False when absent, off or built from other sources
_WHY = ""


def _spec() -> dict[str, Any]:
    global _SPEC
    if _SPEC is None:
        from overflight import _aot_build

        _SPEC = _aot_build.read_spec() if _aot_build.SPEC.exists() else {"modules": [], "kernels": {}}
    return _SPEC


def _aot_sigs(fn: Callable[..., Any]) -> list[Any] | None:
    if os.environ.get("OVERFLIGHT_NO_AOT"):
        return None
    sigs = _spec()["kernels"].get(f"{fn.__module__}:{fn.__qualname__}")
    return list(sigs) if sigs else None


def _aot_module() -> Any:
    """The built extension if it serves these sources, else False (checked once per process)."""
    global _AOT, _WHY
    if _AOT is None:
        from overflight import _aot_build

        _AOT = False
        try:
            mod = importlib.import_module("overflight._aot_kernels")
        except ImportError:
            _WHY = "not built (the package was installed without a C compiler, or from source without setup.py)"
            return _AOT
        want = _aot_build.source_stamp(_ROOT, _spec()["modules"])
        if int(mod.stamp()) != want:
            _WHY = "built from other sources than these (a kernel module changed since the build)"
        else:
            _AOT, _WHY = mod, "in use"
    return _AOT


def aot_status() -> str:
    """Whether the ahead-of-time kernels serve this process, and if not why (for ``overflight --version``)."""
    if os.environ.get("OVERFLIGHT_NO_AOT"):
        return "off (OVERFLIGHT_NO_AOT is set)"
    _aot_module()
    return _WHY


def _matches(built: Any, given: Any) -> bool:
    """A built argument type serves a given one if equal, or read-only where the given array is writable."""
    if built == given:
        return True
    if isinstance(built, types.Array) and isinstance(given, types.Array):
        return bool(not built.mutable and given.mutable and given.copy(readonly=True) == built)
    if isinstance(built, types.BaseTuple) and isinstance(given, types.BaseTuple):
        same_kind = type(built) is type(given) or (getattr(built, "instance_class", None) is
                                                  getattr(given, "instance_class", None))
        pairs = zip(cast(Any, built).types, cast(Any, given).types, strict=False)
        return bool(same_kind and len(built) == len(given) and all(_matches(b, g) for b, g in pairs))
    return False


class AotKernel:
    """A kernel with built signatures: calls that match one run the built code, others numba's JIT.

    Inside other kernels it types as its numba dispatcher, so compiled callers call the JIT kernel directly.
    The route of each argument fingerprint (numba's own, a few microseconds) is found once and remembered.
    numba.pycc's functions hold the GIL (the JIT's release it): calls from several threads at once
    (``ZoneIndex.locate(threads=4)``) run one after another. Sending other threads to the JIT instead made the
    live monitor, whose engine may run in a thread, compile its kernels at start and miss the first seconds
    of its feed (tests/test_monitor_coverage.py), so every thread uses the built code.
    """

    def __init__(self, disp: Any) -> None:
        self._disp = disp
        self._routes: dict[tuple[Any, ...], Callable[..., Any]] = {}
        self._built: list[tuple[tuple[Any, ...], Callable[..., Any]]] | None = None
        self.__wrapped__ = disp.py_func
        self.__name__ = disp.py_func.__name__
        self.__qualname__ = disp.py_func.__qualname__
        self.__module__ = disp.py_func.__module__
        self.__doc__ = disp.py_func.__doc__

    def __getattr__(self, name: str) -> Any:  # py_func, signatures, ... of the dispatcher
        return getattr(self._disp, name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_kernel_by_name, (self.__module__, self.__qualname__))

    def __call__(self, *args: Any) -> Any:
        try:
            key = tuple(map(compute_fingerprint, args))
        except Exception:  # a type numba fingerprints not: the dispatcher decides (and says what is wrong)
            return self._disp(*args)
        f = self._routes.get(key)
        if f is None:
            f = self._routes[key] = self._route(args)
        return f(*args)

    def _route(self, args: tuple[Any, ...]) -> Callable[..., Any]:
        if self._built is None:
            self._built = []
            mod = _aot_module()
            if mod:
                from overflight import _aot_build

                keys = list(_spec()["kernels"])
                i = keys.index(f"{self.__module__}:{self.__qualname__}")
                for j, (sig_args, _ret) in enumerate(_spec()["kernels"][keys[i]]):
                    fn = getattr(mod, _aot_build.export_name(i, j), None)
                    if fn is not None:
                        self._built.append((tuple(_aot_build.decode(a) for a in sig_args), fn))
        if self._built:
            given = tuple(typeof(a, Purpose.argument) for a in args)
            for built, fn in self._built:
                if len(built) == len(given) and all(map(_matches, built, given)):
                    return fn
        return cast(Callable[..., Any], self._disp)


#: (dispatcher, argument types) of every call from Python while harvesting (scripts/aot_signatures.py).
SEEN: set[tuple[Any, tuple[Any, ...]]] = set()


class _Recording(AotKernel):
    """While harvesting: every call goes to the JIT, and its argument types are recorded."""

    def __call__(self, *args: Any) -> Any:
        out = self._disp(*args)
        SEEN.add((self._disp, tuple(typeof(a, Purpose.argument) for a in args)))
        return out


def _kernel_by_name(module: str, qualname: str) -> Any:
    return getattr(importlib.import_module(module), qualname)


@typeof_impl.register(AotKernel)
def _typeof_aot_kernel(val: AotKernel, c: Any) -> Any:
    return types.Dispatcher(val._disp)
