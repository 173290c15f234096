"""What is kept for one release after a change of the public API, each use warning with what replaces it.

- `deprecated_names`: a module-level ``__getattr__`` that hands out the new name for an old one;
- `LegacyAccess`: a mixin for a result object that replaced a plain DataFrame or array, so code written
  against the old return value keeps working (indexing, attributes, iteration, comparisons, ``numpy.asarray``).

Every warning is an :class:`overflight.errors.OverflightDeprecationWarning` (a DeprecationWarning).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from overflight.errors import OverflightDeprecationWarning

__all__ = ["LegacyAccess", "deprecated_names"]


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
                      f"{mod_name}.{attr}", OverflightDeprecationWarning, stacklevel=2)
        if mod_name not in sys.modules:
            __import__(mod_name)
        return getattr(sys.modules[mod_name], attr)

    return __getattr__


class LegacyAccess:
    """Mixin: a result object that, for one release, still answers as the DataFrame or array it replaced.

    A subclass sets ``_legacy_field`` (the field holding what the function used to return, e.g. ``"table"``)
    and ``_legacy_was`` (how the old value is named in the warning, e.g. ``"attribute() returned a
    DataFrame"``). Attributes the result does not have, ``result[key]``, iteration, ``in``, ``==``/``!=``
    against anything but a result, and ``numpy.asarray(result)`` then go to that field, each with an
    :class:`~overflight.errors.OverflightDeprecationWarning` naming the field to use instead. ``len()`` is
    the result's own (the number of points) and does not warn.
    """

    _legacy_field: ClassVar[str]
    _legacy_was: ClassVar[str]

    def _legacy(self) -> Any:
        # stacklevel 3: the warning points at the caller of the dunder or __getattr__ below, not at this line
        warnings.warn(f"{self._legacy_was}; it now returns {type(self).__name__}: use its "
                      f".{self._legacy_field} (the old way goes in the next release)",
                      OverflightDeprecationWarning, stacklevel=3)
        return vars(self)[self._legacy_field]

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal look-up fails. Private and special names are never forwarded: copy, pickle
        # and IPython probe for them, and an object half built (while unpickling) has no fields yet.
        if name.startswith("_") or self._legacy_field not in vars(self):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        if not hasattr(vars(self)[self._legacy_field], name):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self._legacy(), name)

    def __getitem__(self, key: Any) -> Any:
        return self._legacy()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._legacy())

    def __contains__(self, item: object) -> bool:
        return item in self._legacy()

    def __eq__(self, other: object) -> Any:
        if isinstance(other, LegacyAccess):
            return self is other
        return self._legacy() == other

    def __ne__(self, other: object) -> Any:
        if isinstance(other, LegacyAccess):
            return self is not other
        return self._legacy() != other

    __hash__ = object.__hash__

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> Any:
        import numpy as np

        value = np.asarray(self._legacy(), dtype=dtype)
        return value.copy() if copy else value
