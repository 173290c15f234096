"""The package's import graph: no circle between its modules, and a CLI that uses only public library names.

The graph is read with ``ast`` from the sources (every ``import`` statement, also those inside functions,
except ``if TYPE_CHECKING:`` blocks, which never run); ``importlib`` resolves relative imports and tells a
submodule (``from overflight.case import kinds``) from a name (``from overflight.case import Case``).
A deferred import inside a function is still an edge: it hides a circle, it does not remove it.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import overflight

SRC = Path(overflight.__file__).parent

def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(SRC.rglob("*.py")):
        parts = ["overflight", *p.relative_to(SRC).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                skip.update(id(x) for x in ast.walk(stmt))
    return skip


def _imports(name: str, path: Path) -> list[tuple[str, str | None, int]]:
    """(target module, imported name or None, line) for every run-time import of a package module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: list[tuple[str, str | None, int]] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out.extend((a.name, None, node.lineno) for a in node.names if a.name.split(".")[0] == "overflight")
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level \
                else node.module or ""
            if base.split(".")[0] != "overflight":
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                if sub in MODULES:
                    out.append((sub, None, node.lineno))
                else:
                    out.append((base, a.name, node.lineno))
    return out


GRAPH: dict[str, set[str]] = {
    m: {t for t, _, _ in _imports(m, p) if t in MODULES and t != m} for m, p in MODULES.items()
}


def _circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = set()
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.add(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(comp)
    return out


def test_the_graph_is_read() -> None:
    # The reader sees the edges it must: a top-level import, a deferred one and a submodule import.
    assert "overflight.zoneset" in GRAPH["overflight.zones"]
    assert "overflight.boundaries" in GRAPH["overflight.zones"]  # deferred, inside load_zones
    assert "overflight.case.kinds" in GRAPH["overflight.case"]  # `from overflight.case import kinds`
    assert "overflight.case.store" not in GRAPH["overflight.case.runs"]  # only under TYPE_CHECKING
    assert "overflight.case.kinds" in GRAPH["overflight.case"]
    # ... and the circle finder finds a planted circle.
    planted = {k: set(v) for k, v in GRAPH.items()}
    planted["overflight.errors"].add("overflight.zones")
    assert any({"overflight.errors", "overflight.zones", "overflight.zoneset"} <= c for c in _circles(planted))


def test_no_import_circles() -> None:
    bad = _circles(GRAPH)
    detail = "; ".join(
        " <-> ".join(sorted(c)) + " (" + ", ".join(f"{a}->{b}" for a in sorted(c) for b in sorted(GRAPH[a] & c)) + ")"
        for c in bad
    )
    assert not bad, f"import circles: {detail}"


def test_analysis_modules_import_nothing_from_case() -> None:
    pure = [m for m in MODULES if m.startswith(("overflight.analysis", "overflight.evidence", "overflight.index"))]
    bad = [(m, t) for m in pure for t in GRAPH[m] if t == "overflight.case" or t.startswith("overflight.case.")]
    assert not bad, f"analysis modules that import the case package: {bad}"


def _private(target: str, name: str | None) -> bool:
    parts = target.split(".")[1:]
    if any(p.startswith("_") and not (p.startswith("__") and p.endswith("__")) for p in parts):
        return True
    return name is not None and name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_cli_imports_no_private_library_name() -> None:
    bad = []
    for m, p in MODULES.items():
        if not m.startswith("overflight.cli"):
            continue
        for target, name, line in _imports(m, p):
            if target.startswith("overflight.cli"):
                continue  # the CLI's own helpers (cli._common) are the CLI's business
            if _private(target, name):
                bad.append(f"{p.relative_to(SRC.parent)}:{line}: {target}" + (f".{name}" if name else ""))
    assert not bad, "the CLI imports private library names:\n" + "\n".join(bad)


def test_private_name_check_catches_one() -> None:
    assert _private("overflight.tracks.read_csv", "_arrow_reason")
    assert _private("overflight.tracks._stage", "ReadOptions")
    assert not _private("overflight.tracks", "read_tracks")
    assert not _private("overflight", "__version__")


def _public_names(path: Path) -> list[str]:
    names = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names.extend(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return sorted({n for n in names if not n.startswith("_")})


def test_every_module_declares_its_public_names() -> None:
    missing, stale = [], []
    for m in MODULES:
        if m == "overflight.__main__":
            continue  # importing it runs the command
        mod = importlib.import_module(m)
        names = getattr(mod, "__all__", None)
        if names is None:
            missing.append(m)
            continue
        stale.extend(f"{m}.{n}" for n in names if not hasattr(mod, n))
    suggestions = "\n".join(f"{m}: __all__ = {_public_names(MODULES[m])!r}" for m in missing)
    assert not missing, f"modules without __all__ (suggested from their top-level names):\n{suggestions}"
    assert not stale, f"__all__ names that do not exist: {stale}"


#: Public functions and classes that share a name across modules while another branch renames them.
KNOWN_CLASHES: dict[str, str] = {
}


def test_no_two_public_functions_share_a_name() -> None:
    defined: dict[str, list[str]] = {}
    for m, p in MODULES.items():
        if any(part.startswith("_") for part in m.split(".")[1:]) or m.startswith(("overflight.cli", "overflight.web")):
            continue  # private modules, and the shell layers (command functions are not library API)
        for node in ast.parse(p.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
                defined.setdefault(node.name, []).append(m)
    clashes = {k: v for k, v in defined.items() if len(v) > 1 and k not in KNOWN_CLASHES}
    assert not clashes, f"public names defined in more than one module: {clashes}"


def test_top_level_verbs_are_lazy_and_resolve() -> None:
    import subprocess
    import sys

    code = ("import sys, overflight; heavy = [m for m in ('pandas', 'numba', 'duckdb', 'shapely') if m in sys.modules];"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"import overflight loaded {out}"
    assert sorted(overflight.__all__) == sorted(["__version__", *overflight._LAZY])
    for name in overflight.__all__:
        assert getattr(overflight, name) is not None
    assert overflight.attribute.__name__ == "attribute_points"
    assert overflight.ZoneSet is importlib.import_module("overflight.zoneset").ZoneSet


def test_old_names_warn_and_still_work() -> None:
    import warnings

    from overflight.errors import OverflightDeprecationWarning
    from overflight.evidence import model, verdicts

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert verdicts.evaluate is verdicts.evaluate_claims
        assert model.VERDICTS == model.CLAIM_VERDICTS
        assert overflight.prism is importlib.import_module("overflight.analysis.prism")
    assert [w.category for w in caught] == [OverflightDeprecationWarning] * 3
    assert issubclass(OverflightDeprecationWarning, DeprecationWarning)


#: WGS84 semi-major axis, inverse flattening and the IUGG mean radius: values only overflight.geodesy may hold.
_EARTH_CONSTANTS = {6378137.0, 298.257223563, 6371008.8, 6371.0088}


def test_only_geodesy_imports_pyproj_or_holds_earth_constants() -> None:
    bad = []
    for m, p in MODULES.items():
        if m == "overflight.geodesy" or m.startswith("overflight.geodesy."):
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            imported = ([a.name for a in node.names] if isinstance(node, ast.Import)
                        else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.split(".")[0] == "pyproj" for name in imported):
                bad.append(f"{m}:{node.lineno} imports pyproj")
            if isinstance(node, ast.Constant) and isinstance(node.value, float) and node.value in _EARTH_CONSTANTS:
                bad.append(f"{m}:{node.lineno} holds the constant {node.value}")
    assert not bad, "geodesy is the one face of WGS84:\n" + "\n".join(bad)
