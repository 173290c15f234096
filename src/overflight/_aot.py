"""Kernels compiled ahead of time, at run time: which calls go to the built code, which to numba's JIT.

The build (``setup.py``, `overflight._aot_build`) compiles the kernels' usual signatures, listed in
``_aot_signatures.json``, into the extension module ``overflight._aot_kernels``. `wrap` makes a kernel with
such signatures an `AotKernel`: a call whose argument types match one of them runs the built code at once,
any other goes to numba's JIT as before. The build serves only the sources it was built from (a digest of
the kernel modules and the list, compared at the first call); ``OVERFLIGHT_NO_AOT=1`` turns it off.
This module is not part of that digest: changing how calls are routed needs no rebuild.

numba itself is imported only when a call needs the JIT (or a kernel's dispatcher is asked for): a call is
routed by the plain types of its arguments (`compute_fingerprint`: dtype, dimensions, layout, read-only for
arrays; the scalar types; tuples and named tuples of them), the types as the signature list writes numba's
``typeof`` of them. A process whose calls all match the build never imports numba (a fifth of a second of
start-up). Arguments of any other kind take numba's own routing, as before.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np

__all__ = ["SEEN", "AotKernel", "aot_status", "compute_fingerprint", "numba_ready", "wrap"]


def wrap(fn: Callable[..., Any], make: Callable[[], Any]) -> Any:
    """The kernel as callers see it: an `AotKernel` of ``fn``; ``make()`` builds its numba dispatcher when needed.

    A kernel without built signatures runs on the JIT (its dispatcher made at its first call).
    """
    if os.environ.get("OVERFLIGHT_AOT_HARVEST"):
        return _Recording(fn, make)
    return AotKernel(fn, make, built=_aot_sigs(fn) is not None)


_NUMBA_READY = False
_LOCK = threading.RLock()


def numba_ready() -> None:
    """Register numba's typing of kernels (once): inside other kernels a kernel types as its dispatcher."""
    global _NUMBA_READY
    if _NUMBA_READY:
        return
    with _LOCK:
        if _NUMBA_READY:
            return
        from numba.core import types
        from numba.extending import typeof_impl

        def _typeof_aot_kernel(val: AotKernel, c: Any) -> Any:
            return types.Dispatcher(val._disp)

        typeof_impl.register(AotKernel)(_typeof_aot_kernel)
        _NUMBA_READY = True


_SCALARS: dict[type, str] = {float: "float64", bool: "bool", np.float64: "float64", np.float32: "float32",
                             np.int64: "int64", np.int32: "int32", np.int16: "int16", np.int8: "int8",
                             np.uint64: "uint64", np.uint32: "uint32", np.uint16: "uint16", np.uint8: "uint8",
                             np.bool_: "bool"}
_ARRAY_KINDS = frozenset("biuf")
_DTYPE_NAMES: dict[np.dtype[Any], str] = {}  # compute_fingerprint's dtype names
_TUPLE_TYPES: dict[int, tuple[Any, Any]] = {}  # id -> (namedtuple, its type), at most 64


def compute_fingerprint(a: Any) -> Any:
    """The type of one argument as the signature list writes it, as a hashable tuple (no numba).

    The same as ``_aot_build.encode(numba.typeof(a))``; TypeError for an argument of another kind (numba's own
    routing then decides).
    """
    t = type(a)
    if t is np.ndarray:
        dt = a.dtype
        name = _DTYPE_NAMES.get(dt)
        if name is None:
            # dtype.name is computed in Python on every access (a tenth of the cost of a small kernel call
            # in the prism evaluate stage): looked up once per dtype ("" for the kinds numba types otherwise).
            name = _DTYPE_NAMES[dt] = dt.name if dt.kind in _ARRAY_KINDS and dt.isnative else ""
        f = a.flags
        if not name or a.ndim == 0 or not f.aligned:
            raise TypeError("an array numba types otherwise")
        layout = "C" if f.c_contiguous else "F" if f.f_contiguous else "A"  # numba's map_layout
        return ("array", name, a.ndim, layout, not f.writeable)
    name = _SCALARS.get(t)
    if name is not None:
        return ("scalar", name)
    if t is int:
        if -(2**63) <= a < 2**63:
            return ("scalar", "int64")
        raise TypeError("an integer beyond int64")
    if a is None:
        return ("none",)
    if isinstance(a, tuple):
        if hasattr(t, "_fields"):
            # A namedtuple of arrays (a zone's edge tree, 18 arrays) is passed to thousands of calls: its type
            # is worked out once (18 µs against 5 µs for the call itself). Held here, so its id is not reused
            # while cached; its members are taken as they were at the first call (the kernels' namedtuples
            # are built once and never changed).
            hit = _TUPLE_TYPES.get(id(a))
            if hit is not None and hit[0] is a:
                return hit[1]
            fp = ("namedtuple", f"{t.__module__}:{t.__qualname__}", tuple(compute_fingerprint(x) for x in a))
            if len(_TUPLE_TYPES) >= 64:
                _TUPLE_TYPES.clear()
            _TUPLE_TYPES[id(a)] = (a, fp)
            return fp
        if t is tuple:
            return ("tuple", tuple(compute_fingerprint(x) for x in a))
    raise TypeError(f"no plain type for {t.__name__}")


def _plain(entry: Any) -> Any:
    """A signature list entry (JSON lists) as the tuples compute_fingerprint makes."""
    kind = entry[0]
    if kind == "array":
        return ("array", entry[1], int(entry[2]), entry[3], bool(entry[4]))
    if kind == "namedtuple":
        return ("namedtuple", entry[1], tuple(_plain(x) for x in entry[2]))
    if kind == "tuple":
        return ("tuple", tuple(_plain(x) for x in entry[1]))
    return tuple(entry)


def _serves(built: Any, given: Any) -> bool:
    """`_matches` on plain types: equal, or read-only built where the given array is writable."""
    if built == given:
        return True
    if built[0] == "array" and given[0] == "array":
        return bool(built[4] and not given[4] and built[:4] == given[:4])
    if built[0] in ("tuple", "namedtuple") and built[0] == given[0] and built[:-1] == given[:-1]:
        b, g = built[-1], given[-1]
        return len(b) == len(g) and all(_serves(x, y) for x, y in zip(b, g, strict=True))
    return False


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
    from numba.core import types

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
    The route of each argument fingerprint (`compute_fingerprint`, plain types: no numba) is found once and
    remembered. numba.pycc's functions hold the GIL (the JIT's release it): calls from several threads at once
    (``ZoneIndex.locate(threads=4)``) run one after another. Sending other threads to the JIT instead made the
    live monitor, whose engine may run in a thread, compile its kernels at start and miss the first seconds
    of its feed (tests/test_monitor_coverage.py), so every thread uses the built code. A kernel without built
    signatures (``built=False``) runs on its dispatcher, made (and numba imported) at its first call.
    """

    def __init__(self, fn: Callable[..., Any], make: Callable[[], Any], *, built: bool = True) -> None:
        self._make = make
        self._dispatcher: Any = None
        self._has_built = built
        self._routes: dict[tuple[Any, ...], Callable[..., Any]] = {}
        self._built: list[tuple[tuple[Any, ...], Callable[..., Any]]] | None = None
        self.py_func = fn
        self.__wrapped__ = fn
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__
        self.__module__ = fn.__module__
        self.__doc__ = fn.__doc__

    @property
    def _disp(self) -> Any:
        """numba's dispatcher of the kernel (made, and numba imported, at the first need)."""
        if self._dispatcher is None:
            with _LOCK:
                if self._dispatcher is None:
                    numba_ready()
                    self._dispatcher = self._make()
        return self._dispatcher

    def __getattr__(self, name: str) -> Any:  # signatures, overloads, ... of the dispatcher
        if name.startswith("__") or name in ("_make", "_dispatcher", "_has_built", "_routes", "_built"):
            raise AttributeError(name)
        return getattr(self._disp, name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_kernel_by_name, (self.__module__, self.__qualname__))

    def __call__(self, *args: Any) -> Any:
        if not self._has_built:
            return self._disp(*args)
        try:
            key = tuple(map(compute_fingerprint, args))
        except TypeError:  # an argument without a plain type: the dispatcher decides (and says what is wrong)
            return self._disp(*args)
        f = self._routes.get(key)
        if f is None:
            f = self._routes[key] = self._route(key)
        return f(*args)

    def _route(self, given: tuple[Any, ...]) -> Callable[..., Any]:
        if self._built is None:
            built: list[tuple[tuple[Any, ...], Callable[..., Any]]] = []
            mod = _aot_module()
            if mod:
                from overflight import _aot_build

                keys = list(_spec()["kernels"])
                i = keys.index(f"{self.__module__}:{self.__qualname__}")
                for j, (sig_args, _ret) in enumerate(_spec()["kernels"][keys[i]]):
                    fn = getattr(mod, _aot_build.export_name(i, j), None)
                    if fn is not None:
                        built.append((tuple(_plain(a) for a in sig_args), fn))
            self._built = built
        for sig, fn in self._built:
            if len(sig) == len(given) and all(map(_serves, sig, given)):
                return fn
        return cast(Callable[..., Any], self._disp)


#: (dispatcher, argument types) of every call from Python while harvesting (scripts/aot_signatures.py).
SEEN: set[tuple[Any, tuple[Any, ...]]] = set()


class _Recording(AotKernel):
    """While harvesting: every call goes to the JIT, and its argument types are recorded."""

    def __call__(self, *args: Any) -> Any:
        from numba import typeof
        from numba.core.typing.typeof import Purpose

        out = self._disp(*args)
        SEEN.add((self._disp, tuple(typeof(a, Purpose.argument) for a in args)))
        return out


def _kernel_by_name(module: str, qualname: str) -> Any:
    return getattr(importlib.import_module(module), qualname)
