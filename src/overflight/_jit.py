"""The numba set-up every compiled kernel of overflight shares: the decorator, the first-run notice, `grow`.

Kernels are compiled on their first call and cached on disk (numba ``cache=True``): next to the module in
``__pycache__`` when that is writable, else in numba's user-wide cache (``$NUMBA_CACHE_DIR``, by default
``~/.cache/numba``), so an install in a read-only site-packages still compiles only once.

Ahead of time: the build (``setup.py``) compiles the kernels' usual signatures into the extension module
``overflight._aot_kernels`` (see `overflight._aot_build`). A kernel with such signatures is an `AotKernel`:
a call whose argument types match one of them runs the built code at once, any other goes to numba's JIT as
before. The build serves only the sources it was built from (a digest of the kernel modules is compared at
the first call); ``OVERFLIGHT_NO_AOT=1`` turns it off.

The first compile of the process prints one line on stderr ("compiling fast kernels, once ...") so that a
first run's pause of some seconds is explained; runs that load every kernel from the cache print nothing.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
from numba import njit, typeof
from numba._dispatcher import compute_fingerprint
from numba.core import event, types
from numba.core.typing.typeof import Purpose
from numba.extending import typeof_impl

__all__ = ["AotKernel", "aot_status", "grow", "kernel"]

_F = TypeVar("_F", bound=Callable[..., Any])
_njit = njit(cache=True, nogil=True)


def kernel(fn: _F) -> _F:
    """The decorator of every overflight kernel: compiled on first call, cached on disk, releasing the GIL.

    Small helpers (predicates, cell lookups) are kernels too, not numba ``inline="always"`` functions: numba
    links a callee's LLVM code into its caller, where LLVM inlines it anyway, so run time is the same
    (bench_locate, bench_crossings within noise), while inlining at numba's IR level re-typed every copy at
    every call site and cost seconds of first-run compilation (locate_all 2.0 -> 0.8 s, crossings 7 -> 4 s).
    """
    disp = _njit(fn)
    if os.environ.get("OVERFLIGHT_AOT_HARVEST"):
        return cast(_F, _Recording(disp))
    if _aot_sigs(fn) is None:
        return cast(_F, disp)
    return cast(_F, AotKernel(disp))


# ------------------------------------------------------------------------------------- ahead of time
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


def _ours(ev: event.Event) -> bool:
    disp = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
    return str(getattr(getattr(disp, "py_func", None), "__module__", "")).startswith("overflight")


class _FirstCompileNotice(event.Listener):
    """Say once per process, on stderr, that overflight's kernels are being compiled (not loaded)."""

    said = False

    def on_start(self, ev: event.Event) -> None:
        if not self.said and _ours(ev):
            self.said = True
            print("overflight: compiling fast kernels, once (a first-run cost; later runs load them from the "
                  "cache) ...", file=sys.stderr, flush=True)

    def on_end(self, ev: event.Event) -> None:
        pass


_NOTICE = _FirstCompileNotice()
event.register("numba:compile", _NOTICE)


@kernel
def grow(a: Any, cap: int, n: int) -> Any:
    """A copy of a's first n items in a new array of capacity cap (numba specialises it per dtype)."""
    b = np.empty(cap, a.dtype)
    for i in range(n):  # an element loop compiles faster than slice assignment and runs as fast
        b[i] = a[i]
    return b
