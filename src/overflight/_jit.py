"""The numba set-up every compiled kernel of overflight shares: the decorator, the first-run notice, `grow`.

Kernels are compiled on their first call and cached on disk (numba ``cache=True``): next to the module in
``__pycache__`` when that is writable, else in numba's user-wide cache (``$NUMBA_CACHE_DIR``, by default
``~/.cache/numba``), so an install in a read-only site-packages still compiles only once.

Ahead of time: the build (``setup.py``) compiles the kernels' usual signatures into an extension module, and
a kernel with such signatures is an `overflight._aot.AotKernel` that runs the built code for calls that
match them (see `overflight._aot`).

The first compile of the process prints one line on stderr ("compiling fast kernels, once ...") so that a
first run's pause of some seconds is explained; runs that load every kernel from the cache print nothing.

numba is imported when a kernel first needs its dispatcher (a call the build does not serve, a kernel without
built signatures, or a compile), not when a kernel module is imported: `overflight transit` on built kernels
never imports it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np

__all__ = ["grow", "kernel"]

_F = TypeVar("_F", bound=Callable[..., Any])
_NJIT: list[Any] = []  # numba's njit(cache=True, nogil=True), once numba is imported


def _njit() -> Any:
    """The njit decorator of every kernel, importing numba (and listening for its compiles) the first time."""
    if not _NJIT:
        from numba import njit
        from numba.core import event

        event.register("numba:compile", _notice(event))
        _NJIT.append(njit(cache=True, nogil=True))
    return _NJIT[0]


def kernel(fn: _F) -> _F:
    """The decorator of every overflight kernel: compiled on first call, cached on disk, releasing the GIL.

    Small helpers (predicates, cell lookups) are kernels too, not numba ``inline="always"`` functions: numba
    links a callee's LLVM code into its caller, where LLVM inlines it anyway, so run time is the same
    (bench_locate, bench_crossings within noise), while inlining at numba's IR level re-typed every copy at
    every call site and cost seconds of first-run compilation (locate_all 2.0 -> 0.8 s, crossings 7 -> 4 s).
    """
    from overflight import _aot

    return cast(_F, _aot.wrap(fn, lambda: _njit()(fn)))


def _ours(ev: Any) -> bool:
    disp = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
    return str(getattr(getattr(disp, "py_func", None), "__module__", "")).startswith("overflight")


def _notice(event: Any) -> Any:
    """The listener that says once per process, on stderr, that overflight's kernels are being compiled."""

    class _FirstCompileNotice(event.Listener):  # type: ignore[misc,name-defined]
        said = False

        def on_start(self, ev: Any) -> None:
            if not self.said and _ours(ev):
                self.said = True
                print("overflight: compiling fast kernels, once (a first-run cost; later runs load them from the "
                      "cache) ...", file=sys.stderr, flush=True)

        def on_end(self, ev: Any) -> None:
            pass

    return _FirstCompileNotice()


@kernel
def grow(a: Any, cap: int, n: int) -> Any:
    """A copy of a's first n items in a new array of capacity cap (numba specialises it per dtype)."""
    b = np.empty(cap, a.dtype)
    for i in range(n):  # an element loop compiles faster than slice assignment and runs as fast
        b[i] = a[i]
    return b


if "numba" in sys.modules:  # numba loaded already (by the caller): listen for compiles from now on, as before
    _njit()
