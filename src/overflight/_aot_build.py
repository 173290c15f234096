"""Ahead-of-time compilation of overflight's numba kernels (numba.pycc): the build side.

Why it exists: compiling the kernels on a first run cost about 50 s of CPU (the demo: 70 s cold against 17 s
warm on the shared 2-core machine), most of it numba's own type inference, which no runtime setting avoids.
So the build (``setup.py``, at ``pip install``) compiles every kernel signature listed in
``_aot_signatures.json`` into one extension module, ``overflight._aot_kernels``; `overflight._aot` sends a
call whose argument types match one of them there, and any other call to numba's JIT as before.

This module runs at build time with numpy, numba, shapely and pyproj only: `load_kernel_modules` imports the
kernel modules under stub parent packages, so no package ``__init__`` (pandas, DuckDB, ...) runs.
``scripts/aot_signatures.py`` rewrites the signature list from what a run of the demo and the tests compiled.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import sys
import types as pytypes
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["MODULE", "SPEC", "decode", "encode", "export_name", "harvest", "import_closure", "load_kernel_modules",
           "make_cc", "module_path", "read_spec", "source_stamp"]

SPEC = Path(__file__).with_name("_aot_signatures.json")
MODULE = "_aot_kernels"  # inside the overflight package


def _nb() -> Any:
    from numba.core import types

    return types


def encode(t: Any) -> Any:
    """A numba type as plain JSON data (arrays, tuples, named tuples, numbers, booleans, none)."""
    nt = _nb()
    if isinstance(t, nt.Array):
        return ["array", str(t.dtype), t.ndim, t.layout, bool(not t.mutable)]
    if isinstance(t, (nt.NamedTuple, nt.NamedUniTuple)):
        cls = t.instance_class
        return ["namedtuple", f"{cls.__module__}:{cls.__qualname__}", [encode(x) for x in t.types]]
    if isinstance(t, nt.BaseTuple):
        return ["tuple", [encode(x) for x in t.types]]
    if isinstance(t, nt.Literal):
        raise TypeError(f"no AOT encoding for a literal type {t!r}")
    if isinstance(t, (nt.Number, nt.Boolean)):
        return ["scalar", str(t)]
    if isinstance(t, nt.NoneType):
        return ["none"]
    raise TypeError(f"no AOT encoding for numba type {t!r}")


def decode(obj: Any) -> Any:
    """The numba type `encode` wrote."""
    nt = _nb()
    kind = obj[0]
    if kind == "array":
        _, dtype, ndim, layout, readonly = obj
        return nt.Array(_scalar(dtype), ndim, layout, readonly=readonly)
    if kind == "namedtuple":
        mod, _, name = obj[1].partition(":")
        cls = getattr(importlib.import_module(mod), name)
        return nt.BaseTuple.from_types([decode(x) for x in obj[2]], cls)
    if kind == "tuple":
        return nt.BaseTuple.from_types([decode(x) for x in obj[1]])
    if kind == "scalar":
        return _scalar(obj[1])
    if kind == "none":
        return nt.none
    raise TypeError(f"unknown AOT type entry {obj!r}")


def _scalar(name: str) -> Any:
    nt = _nb()
    return nt.boolean if name == "bool" else getattr(nt, name)


def module_path(root: Path, module: str) -> Path:
    """The source file of ``overflight.x.y`` under the package directory ``root``."""
    parts = module.split(".")[1:]
    return root.joinpath(*parts).with_suffix(".py")


def _file(root: Path, module: str) -> Path:
    p = module_path(root, module)
    return p if p.exists() else p.with_suffix("") / "__init__.py"


def source_stamp(root: Path, modules: list[str]) -> int:
    """A 63-bit digest of the signature list and of the sources the kernels were compiled from.

    An ahead-of-time build serves only those exact sources: any edit (a kernel, a constant it imports, the list)
    sends every call back to the JIT.
    """
    h = hashlib.sha256((root / SPEC.name).read_bytes())
    for m in sorted(set(modules)):
        h.update(m.encode())
        h.update(_file(root, m).read_bytes())
    return int.from_bytes(h.digest()[:8], "little") >> 1


def import_closure(root: Path, modules: list[str]) -> list[str]:
    """The modules and the overflight modules they import at module level, transitively (read, not run).

    Imports inside functions are left out (they hold no constant a kernel compiles in), and so is the package
    root, whose lazy verb table names every module.
    """
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        m = todo.pop()
        if m in seen or m == "overflight" or not _file(root, m).exists():
            continue
        seen.add(m)
        for node in ast.parse(_file(root, m).read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("overflight"):
                todo.append(node.module)
                todo.extend(f"{node.module}.{a.name}" for a in node.names)  # submodules imported by name
            elif isinstance(node, ast.Import):
                todo.extend(a.name for a in node.names if a.name.startswith("overflight"))
    return sorted(seen)


def read_spec(path: Path = SPEC) -> dict[str, Any]:
    """The signature list: ``{"kernel_modules": [...], "modules": [...], "kernels": {"module:qualname": [[args,
    ret], ...]}}``; ``modules`` are the kernel modules and what they import, the sources `source_stamp` digests."""
    return dict(json.loads(path.read_text()))


def export_name(i: int, j: int) -> str:
    """The extension's function name for kernel number i (in spec order), signature j."""
    return f"k{i}_{j}"


def load_kernel_modules(root: Path, modules: list[str]) -> dict[str, pytypes.ModuleType]:
    """Import the kernel modules from the package directory ``root`` without running package ``__init__`` files."""
    for m in sorted({".".join(mod.split(".")[:k]) for mod in modules for k in range(1, mod.count(".") + 1)}):
        pkg_dir = module_path(root, m + ".x").parent
        if (pkg_dir / "__init__.py").exists() and m not in sys.modules:
            stub = pytypes.ModuleType(m)
            stub.__path__ = [str(pkg_dir)]
            sys.modules[m] = stub
    return {m: importlib.import_module(m) for m in modules}


def harvest(seen: Iterable[tuple[Any, tuple[Any, ...]]], root: Path) -> dict[str, Any]:
    """The spec of the kernel calls ``seen`` from Python (`overflight._aot.SEEN` with ``OVERFLIGHT_AOT_HARVEST=1``).

    ``root`` is the package directory.
    """
    kernels: dict[str, list[Any]] = {}
    for disp, args in seen:
        ret = [s.return_type for s in disp.nopython_signatures if s.args == args]
        if not ret:  # numba converted the arguments (never seen so far): leave it to the JIT
            continue
        fn = disp.py_func
        key = f"{fn.__module__}:{fn.__qualname__}"
        kernels.setdefault(key, []).append([[encode(a) for a in args], encode(ret[0])])
    for sigs in kernels.values():
        sigs.sort(key=json.dumps)
    kernel_modules = sorted({k.partition(":")[0] for k in kernels} | {"overflight._jit"})  # _jit: grow
    modules = import_closure(root, [*kernel_modules, "overflight._aot_build"])  # _aot_build: the export names
    return {"kernel_modules": kernel_modules, "modules": modules,
            "kernels": dict(sorted(kernels.items()))}


def make_cc(root: Path, spec: dict[str, Any], output_dir: Path | None = None, cpu: str = "host") -> Any:
    """The numba.pycc ``CC`` of every signature in ``spec``, plus ``stamp()``, the sources' digest."""
    from numba.pycc import CC  # type: ignore[attr-defined]

    mods = load_kernel_modules(root, spec["kernel_modules"])
    cc = CC(MODULE)
    cc.target_cpu = cpu
    if output_dir is not None:
        cc.output_dir = str(output_dir)
    for i, (key, sigs) in enumerate(spec["kernels"].items()):
        mod, _, qual = key.partition(":")
        fn = getattr(getattr(mods[mod], qual), "py_func", None)
        if fn is None:
            continue  # renamed or no longer a kernel: the runtime compiles it
        disp = getattr(getattr(mods[mod], qual), "_disp", getattr(mods[mod], qual))
        for j, (args, ret) in enumerate(sigs):
            sig = decode(ret)(*[decode(a) for a in args])
            cc.export(export_name(i, j), sig)(disp.py_func)
    stamp = source_stamp(root, spec["modules"])
    ns: dict[str, Any] = {}
    exec(f"def stamp():\n    return {stamp}\n", ns)  # a constant the runtime compares with its sources
    cc.export("stamp", "i8()")(ns["stamp"])
    return cc
