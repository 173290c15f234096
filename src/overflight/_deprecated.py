"""Old public names kept for one release: a module-level ``__getattr__`` that warns and hands out the new name."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["deprecated_names"]


def deprecated_names(module: str, renamed: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for renamed names: ``old`` gives ``new`` with a DeprecationWarning.

    Parameters
    ----------
    module : str
        The module's ``__name__``.
    renamed : mapping
        Old name -> new name (a name of the same module, or ``"package.module:name"`` elsewhere).

    Returns
    -------
    callable
        The ``__getattr__`` to assign in the module.
    """

    def __getattr__(name: str) -> Any:
        if name not in renamed:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        target = renamed[name]
        mod_name, _, attr = target.rpartition(":") if ":" in target else (module, "", target)
        warnings.warn(f"{module}.{name} is deprecated and will be removed in the next release; use "
                      f"{mod_name}.{attr}", DeprecationWarning, stacklevel=2)
        if mod_name not in sys.modules:
            __import__(mod_name)
        return getattr(sys.modules[mod_name], attr)

    return __getattr__
