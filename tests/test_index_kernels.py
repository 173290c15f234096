"""The kernel set-up (overflight._jit): the once-per-process compile notice, and kernels taking one grid."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
from shapely.geometry import box


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, check=True)


def test_first_compile_of_an_overflight_kernel_is_announced_once_on_stderr() -> None:
    # Two fresh overflight functions (no cache) compile in this process: one notice, on stderr only; a
    # function of another package compiling says nothing.
    r = _run("""
        import numba
        import overflight._jit  # registers the notice
        def other(x):
            return x + 1
        numba.njit(other)(1)
        import sys
        print("after-other", file=sys.stderr, flush=True)
        def f(x):
            return x * 2
        def g(x):
            return x * 3
        f.__module__ = g.__module__ = "overflight.fake_kernels"
        print(numba.njit(f)(2), numba.njit(g)(2))
    """)
    assert r.stdout.split() == ["4", "6"]
    lines = r.stderr.splitlines()
    assert lines[0] == "after-other"  # nothing for the foreign function
    assert sum("compiling fast kernels, once" in ln for ln in lines) == 1


def test_kernels_take_the_grid_as_one_argument() -> None:
    from overflight.index import ZoneIndex
    from overflight.index._kernels import Grid, locate_first

    idx = ZoneIndex([box(0.0, 0.0, 10.0, 10.0), box(5.0, 5.0, 15.0, 15.0)])
    g = idx.grid.kernel_grid()
    assert isinstance(g, Grid) and g.blob is idx.grid.blob
    x = np.array([1.0, 6.0, 12.0, 20.0])
    y = np.array([1.0, 6.0, 12.0, 20.0])
    out = np.empty(4, np.int32)
    bad = np.zeros(4, bool)
    assert locate_first(x, y, False, out, bad, g) == 0
    assert out.tolist() == [0, 0, 1, -1] == idx.locate(x, y).tolist()


def test_bad_grid_parameters_are_input_errors() -> None:
    import pytest

    from overflight.errors import InputError
    from overflight.index import ZoneIndex

    for kw, field in (({"cell_deg": 0.0}, "cell_deg"), ({"cell_deg": -1.0}, "cell_deg"),
                      ({"cell_deg": 3.0}, "cell_deg"), ({"max_fine": 3}, "max_fine"),
                      ({"fine_edges": 0.0}, "fine_edges"),
                      ({"fine_edges": float("nan")}, "fine_edges")):
        with pytest.raises(InputError) as ei:
            ZoneIndex([box(0.0, 0.0, 1.0, 1.0)], **kw)  # type: ignore[arg-type]
        assert ei.value.field == field


def test_top_word_decodes_to_each_coarse_cells_subdivision_and_code() -> None:
    # Grid.top packs ck (low word) and the signed cval (high word) that the point pass reads as one load:
    # every kind of coarse cell must decode exactly -- subdivided (k > 0), one zone (>= 0), none (-1) and an
    # edge-free cell inside two overlapping zones (a record code < -1).
    from overflight.index import ZoneIndex

    idx = ZoneIndex([box(0.0, 0.0, 10.0, 10.0), box(-3.5, -3.5, 20.5, 20.5), box(30.25, 1.0, 31.75, 2.0)])
    g = idx.grid.kernel_grid()
    ck, cval, top = idx.grid.ck, idx.grid.cval, g.top
    assert top.dtype == np.int64 and top.shape == ck.shape
    assert ((top & 0xFFFFFFFF) == ck).all() and ((top >> 32) == cval).all()
    flat = ck == 0
    assert (cval[flat] < -1).any() and (cval[flat] == -1).any() and (cval[flat] >= 0).any() and (ck > 0).any()
    x = np.array([5.0, 15.0, 31.0, 50.0, -3.0, 9.99, 30.3])
    y = np.array([5.0, 15.0, 1.5, 50.0, -3.0, 9.99, 1.9])
    assert idx.locate(x, y).tolist() == [0, 1, 2, -1, 1, 0, 2]


def test_leaf_block_lists_the_complex_points_in_order() -> None:
    # leaf_block lists the complex points (codes < -1) of a block branch-free, from its list of points in
    # subdivided cells and edge-free cells in several zones: exactly numpy's, in order, for blocks of every
    # mix (none, all, invalid points), and touch_records sums the first words of their records.
    from overflight.index import ZoneIndex
    from overflight.index._kernels import BLOCK, leaf_block, touch_records

    idx = ZoneIndex([box(0.0, 0.0, 10.0, 10.0), box(-3.5, -3.5, 20.5, 20.5), box(30.25, 1.0, 31.75, 2.0)])
    g = idx.grid.kernel_grid()
    rng = np.random.default_rng(7)
    n = 3 * BLOCK + 5
    x = rng.uniform(-10.0, 40.0, n)
    y = rng.uniform(-10.0, 25.0, n)
    x[:BLOCK] = rng.uniform(1.0, 9.0, BLOCK)  # a block of points in the two overlapping boxes only
    y[:BLOCK] = rng.uniform(1.0, 9.0, BLOCK)
    x[BLOCK + 7::13] = np.nan
    x[BLOCK + 3::29] = np.round(x[BLOCK + 3::29])  # on cell edges
    codes = np.empty(n, np.int32)
    bad = np.zeros(n, bool)
    pt = np.empty(BLOCK, np.int64)
    lst = np.empty(BLOCK, np.int64)
    seen = 0
    for b0 in range(0, n, BLOCK):
        b1 = min(b0 + BLOCK, n)
        nb, m = leaf_block(x, y, b0, b1, False, codes, 0, bad, g, pt, lst)
        want = b0 + np.flatnonzero(codes[b0:b1] < -1)
        assert nb == int(np.isnan(x[b0:b1]).sum())
        assert m == want.size and lst[:m].tolist() == want.tolist()
        seen += m
        ref = 0.0
        for o in (-2 - codes[want].astype(np.int64)).tolist():  # the records' first words, in order
            ref += g.blob[o] + g.blob[min(o + 8, g.blob.size - 1)] + g.blob[min(o + 16, g.blob.size - 1)]
        assert touch_records(lst, m, codes, 0, g.blob) == ref
    assert seen > 0
    for i in range(0, n, 97):  # every code is find_cell's
        if not bad[i]:
            assert codes[i] == find_cell_code(float(x[i]), float(y[i]), g)


def find_cell_code(x: float, y: float, g: object) -> int:
    from overflight.index._kernels import find_cell

    return int(find_cell(x, y, g)[0])

