"""The Examples sections of the public verbs run as doctests (offline: only shipped data and temporary files)."""

from __future__ import annotations

import doctest
import importlib

import pytest

#: Modules whose docstrings carry the Examples of the main verbs.
MODULES = [
    "overflight",
    "overflight.zones",
    "overflight.geodesy._core",
    "overflight.units",
    "overflight.analysis.locate",
    "overflight.analysis.prism_run",
    "overflight.analysis.attribution",
]

#: Verbs that must carry an Examples section.
VERBS = [
    ("overflight.zones", "load_zones"),
    ("overflight.zones", "as_zoneset"),
    ("overflight.analysis.locate", "locate"),
    ("overflight.analysis.prism_run", "prism_verdicts"),
    ("overflight.analysis.attribution", "attribute_points"),
    ("overflight.geodesy", "densify_segments"),
    ("overflight.units", "parse_speed"),
]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    failures, tried = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert tried > 0, f"{name} has no examples"
    assert failures == 0, f"{failures} of {tried} examples in {name} failed (run: python -m doctest -v)"


@pytest.mark.parametrize(("module", "verb"), VERBS)
def test_main_verbs_have_examples(module: str, verb: str) -> None:
    doc = getattr(importlib.import_module(module), verb).__doc__ or ""
    assert "Examples\n    --------" in doc and ">>>" in doc
