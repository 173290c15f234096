"""Kernels compiled ahead of time (overflight._aot_kernels, built by setup.py): used when they match, never wrong.

The reference for every built kernel is numba's JIT of the same Python function (``kernel._disp``): the
two must give the same arrays. A call whose types the build does not serve (another dtype, a read-only
array where the build wants a writable one, another layout) must go to the JIT, never into the built code
(which checks no types: a float32 array given to a float64 signature would read garbage or crash).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba import njit, types
from numba import typeof as numba_typeof
from shapely.geometry import box

from overflight import _aot, _aot_build, _jit

REQUIRE = bool(os.environ.get("OVERFLIGHT_REQUIRE_AOT"))
BUILT = _aot.aot_status() == "in use"
needs_build = pytest.mark.skipif(not BUILT and not REQUIRE, reason=f"no ahead-of-time build: {_aot.aot_status()}")


def test_the_build_is_in_use_where_required() -> None:
    # scripts/test.sh sets OVERFLIGHT_REQUIRE_AOT=1: a build that silently fell back to the JIT fails here.
    if REQUIRE:
        assert _aot.aot_status() == "in use"


def test_kernel_modules_import_with_the_build_requirements_only() -> None:
    # The build's isolated environment has numpy, numba, shapely and pyproj only (pyproject's build-system): a
    # kernel module importing pandas or a package __init__ makes the build fall back to the JIT silently.
    code = textwrap.dedent("""
        import sys
        for blocked in ("pandas", "pyarrow", "duckdb", "pyogrio", "geopandas"):
            sys.modules[blocked] = None
        import importlib.util, pathlib
        root = pathlib.Path(sys.argv[1])
        spec = importlib.util.spec_from_file_location("_ab", root / "_aot_build.py")
        ab = importlib.util.module_from_spec(spec)
        sys.modules["_ab"] = ab
        spec.loader.exec_module(ab)
        sys.path.insert(0, str(root.parent))
        mods = ab.load_kernel_modules(root, ab.read_spec(root / "_aot_signatures.json")["kernel_modules"])
        print(len(mods))
    """)
    root = os.path.dirname(_aot_build.__file__)
    out = subprocess.run([sys.executable, "-c", code, root], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.split()[-1]) == len(_aot_build.read_spec()["kernel_modules"])


def test_types_round_trip_through_the_spec() -> None:
    spec = _aot_build.read_spec()
    assert spec["kernels"], "the signature list is empty"
    for sigs in spec["kernels"].values():
        for args, ret in sigs:
            for t in [*args, ret]:
                assert _aot_build.encode(_aot_build.decode(t)) == t
    ro = types.Array(types.float64, 1, "C", readonly=True)
    assert _aot_build.decode(_aot_build.encode(ro)) == ro
    with pytest.raises(TypeError):
        _aot_build.encode(types.literal(3))


def test_a_namedtuple_type_is_numbas_and_stays_so_when_cached() -> None:
    """The fingerprint of a namedtuple equals numba's type encoded, on its first call and from the cache."""
    from typing import NamedTuple

    class Pair(NamedTuple):
        a: np.ndarray
        b: np.ndarray

    for p in [Pair(np.zeros(3), np.arange(4, dtype=np.int32)), Pair(np.zeros((2, 2)).T, np.zeros(1, np.uint8))]:
        want = _aot._plain(_aot_build.encode(numba_typeof(p)))
        assert _aot.compute_fingerprint(p) == want and _aot.compute_fingerprint(p) == want
    # A new namedtuple of other types is typed afresh, never served a cached type.
    q = Pair(np.zeros(3, np.float32), np.zeros(3))
    assert _aot.compute_fingerprint(q)[2][0][1] == "float32"
    for _ in range(70):  # past the cache's bound: it is cleared, and types stay right
        r = Pair(np.zeros(2), np.zeros(2, np.int64))
        assert _aot.compute_fingerprint(r)[2][1][1] == "int64"
    assert len(_aot._TUPLE_TYPES) <= 64


def test_a_built_signature_serves_only_matching_types() -> None:
    f64 = types.Array(types.float64, 1, "C")
    ro = f64.copy(readonly=True)
    assert _aot._matches(f64, f64)
    assert _aot._matches(ro, f64)  # a writable array where the build only reads: safe
    assert not _aot._matches(f64, ro)  # the build may write: a read-only array must not go there
    assert not _aot._matches(f64, types.Array(types.float32, 1, "C"))
    assert not _aot._matches(f64, types.Array(types.float64, 1, "A"))
    assert not _aot._matches(types.int64, types.int32)
    assert _aot._matches(types.UniTuple(ro, 2), types.UniTuple(f64, 2))


def test_every_signature_in_the_spec_has_a_built_function() -> None:
    if not BUILT:
        pytest.skip(_aot.aot_status())
    mod = _aot._aot_module()
    for i, sigs in enumerate(_aot_build.read_spec()["kernels"].values()):
        for j in range(len(sigs)):
            assert callable(getattr(mod, _aot_build.export_name(i, j)))


def test_the_stamp_covers_the_sources_and_the_list() -> None:
    spec = _aot_build.read_spec()
    assert set(spec["kernel_modules"]) <= set(spec["modules"])
    assert {"overflight._jit", "overflight._aot_build", "overflight.index._kernels"} <= set(spec["modules"])
    # the modules a kernel module takes constants from are covered (edges.py: WGS84 from overflight.geodesy)
    assert "overflight.geodesy._core" in spec["modules"]
    root = _aot_build.module_path(_aot_build.Path(_jit.__file__).parent, "overflight.x").parent
    assert _aot_build.source_stamp(root, spec["modules"]) == _aot_build.source_stamp(root, spec["modules"][::-1])


def _built(k: _aot.AotKernel, *args: object) -> bool:
    return k._routes[tuple(map(_aot.compute_fingerprint, args))] is not k._disp


@needs_build
def test_built_locate_and_crossings_equal_the_jit() -> None:
    from overflight.index import ZoneIndex
    from overflight.index._kernels import locate_all
    from overflight.index._segments import segment_crossings

    idx = ZoneIndex([box(0.0, 0.0, 10.0, 10.0), box(5.0, 5.0, 15.0, 15.0), box(-3.0, -3.0, 1.0, 20.0)])
    rng = np.random.default_rng(7)
    x, y = rng.uniform(-5, 20, 5000), rng.uniform(-5, 20, 5000)
    g = idx._kgrid
    args = (x, y, False, np.zeros(x.size, bool), g)
    built_out = locate_all(*args)
    assert _built(locate_all, *args)
    jit_out = locate_all._disp(x, y, False, np.zeros(x.size, bool), g)
    for a, b in zip(built_out, jit_out, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    c = idx.crossings(x[:-1], y[:-1], x[1:], y[1:])
    assert len(c) > 0
    assert all(r is not segment_crossings._disp for r in segment_crossings._routes.values())
    # the public answer equals shapely's (the built code is the same kernel)
    import shapely

    inside = shapely.contains_xy(box(5.0, 5.0, 15.0, 15.0), x, y)
    zs = idx.zones_of(x, y)
    far = (np.abs(x - 5) > 1e-9) & (np.abs(y - 5) > 1e-9)
    assert np.array_equal(np.char.find(zs.astype(str), "1")[far] >= 0, inside[far])


@needs_build
def test_other_dtypes_go_to_the_jit_and_give_the_same_answer() -> None:
    from overflight.index._segments import cancel_pairs

    assert isinstance(cancel_pairs, _aot.AotKernel)
    seg = np.array([0, 0, 1, 1, 2], np.int64)
    fr = np.array([0.5, 0.5, 0.2, 0.3, 0.9])
    zone = np.array([1, 1, 2, 2, 3], np.int64)
    d = np.array([-1, 1, 1, -1, 1], np.int64)
    keep = cancel_pairs(seg, fr, zone, d)
    assert _built(cancel_pairs, seg, fr, zone, d)
    assert keep.tolist() == [False, False, True, True, True]  # the pair at the same place cancels, by hand
    fr32 = fr.astype(np.float32)
    assert cancel_pairs(seg, fr32, zone, d).tolist() == keep.tolist()
    assert not _built(cancel_pairs, seg, fr32, zone, d)  # float32: never into the float64 build
    ro = fr.copy()
    ro.flags.writeable = False
    assert cancel_pairs(seg, ro, zone, d).tolist() == keep.tolist()


@needs_build
def test_other_threads_give_the_same_answer() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from overflight.index import ZoneIndex

    idx = ZoneIndex([box(0.0, 0.0, 10.0, 10.0), box(5.0, 5.0, 15.0, 15.0)])
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-5, 20, 400_000), rng.uniform(-5, 20, 400_000)
    main = idx.locate(x, y)
    with ThreadPoolExecutor(2) as ex:
        other = ex.submit(idx.locate, x, y).result()
    np.testing.assert_array_equal(main, other)
    np.testing.assert_array_equal(idx.locate(x, y, threads=4), main)


def test_a_kernel_calling_an_aot_kernel_compiles_with_the_jit() -> None:
    from overflight.index import ZoneIndex
    from overflight.index._kernels import locate_all

    idx = ZoneIndex([box(0.0, 0.0, 10.0, 10.0)])
    g = idx._kgrid
    x = np.array([1.0, 20.0])
    y = np.array([1.0, 1.0])
    direct = locate_all(x, y, False, np.zeros(2, bool), g)

    @njit
    def caller(x: np.ndarray, y: np.ndarray, g: object) -> object:
        return locate_all(x, y, False, np.zeros(x.size, np.bool_), g)

    via = caller(x, y, g)
    for a, b in zip(direct, via, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_kernels_pickle_by_name() -> None:
    from overflight.index._kernels import locate_all

    assert pickle.loads(pickle.dumps(locate_all)) is locate_all


_DEMO = """
        from overflight.demo import build_demo
        build_demo(tempfile.mkdtemp())
"""
# The live monitor's engine on SBS lines of one aircraft crossing from Germany into Poland (a compile in the
# engine thread once held up a live feed's first seconds).
_MONITOR = """
        import time
        from overflight.monitor.feeds import Item
        from overflight.monitor.runner import Monitor, MonitorConfig
        mon = Monitor(MonitorConfig(zones="ne-admin0", feeds=["sbs://127.0.0.1:9"], hysteresis_s=0.0))
        t0 = time.time()
        for k in range(30):
            st = time.gmtime(t0 + k)
            d, tm = time.strftime("%Y/%m/%d", st), time.strftime("%H:%M:%S", st) + ".000"
            f = ["MSG", "3", "1", "1", "4CA1B2", "1", d, tm, d, tm, "", "35000", "", "", "52.4",
                 f"{14.0 + 0.05 * k:.5f}", "", "", "0", "0", "0", "0"]
            mon._handle([Item(0, t0 + k, data=(",".join(f) + "\\r\\n").encode(), lines=1)])
        assert mon.alerts >= 2, mon.alerts
"""


@pytest.mark.parametrize("run", [_DEMO, _MONITOR], ids=["demo", "monitor"])
def test_a_first_run_compiles_no_kernel_when_built(run: str) -> None:
    # The first run after install: every kernel the demo and the monitor call is built, so numba compiles
    # nothing (the cold demo took 70 s of CPU against 17 s warm on the 2-core machine before the build step).
    if not BUILT:
        pytest.skip(_aot.aot_status())
    code = textwrap.dedent("""
        import sys, tempfile
        from numba.core import event
        compiled = []
        class L(event.Listener):
            def on_start(self, ev):
                d = ev.data.get("dispatcher")
                compiled.append(getattr(getattr(d, "py_func", None), "__qualname__", "?"))
            def on_end(self, ev):
                pass
        event.register("numba:compile", L())
        RUN
        from overflight import _aot
        jit_routes = sorted({k.__qualname__ for m in list(sys.modules.values()) if m
                             for k in vars(m).values() if isinstance(k, _aot.AotKernel)
                             for r in k._routes.values() if r is k._disp})
        print(json.dumps({"compiled": compiled, "jit_routes": jit_routes}))
    """).replace("import sys, tempfile", "import json, sys, tempfile").replace("RUN\n", textwrap.dedent(run))
    env = {**os.environ, "NUMBA_CACHE_DIR": "/nonexistent-overflight-test"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["jit_routes"] == []
    assert [c for c in out["compiled"] if not c.startswith("<")] == [], out
    assert "compiling fast kernels" not in r.stderr


def test_the_stamp_changes_with_any_covered_source(tmp_path: _aot_build.Path) -> None:
    import shutil

    spec = _aot_build.read_spec()
    root = _aot_build.Path(_jit.__file__).parent
    for m in spec["modules"]:
        src = _aot_build._file(root, m)
        dst = tmp_path / src.relative_to(root)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    shutil.copyfile(root / _aot_build.SPEC.name, tmp_path / _aot_build.SPEC.name)
    base = _aot_build.source_stamp(tmp_path, spec["modules"])
    assert base == _aot_build.source_stamp(root, spec["modules"])
    for changed in ("overflight.index._kernels", "overflight.geodesy._core"):
        f = _aot_build._file(tmp_path, changed)
        old = f.read_bytes()
        f.write_bytes(old + b"\n# edited\n")
        assert _aot_build.source_stamp(tmp_path, spec["modules"]) != base
        f.write_bytes(old)
    (tmp_path / _aot_build.SPEC.name).write_text((root / _aot_build.SPEC.name).read_text() + " ")
    assert _aot_build.source_stamp(tmp_path, spec["modules"]) != base
