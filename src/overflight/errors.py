"""Every error and warning class of overflight.

Errors a user can cause (bad files, bad arguments) are :class:`InputError`, which names the file, the row and
the field it is about; the command line prints every :class:`OverflightError` without a traceback. Warning
classes live here too, so a caller filters them without importing the module that raises them.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CoordinateWarning",
    "InconsistentFixesWarning",
    "InputError",
    "NotInstalledError",
    "OverflightDeprecationWarning",
    "OverflightError",
    "OverflightWarning",
]


class OverflightError(Exception):
    """Base class for every error overflight raises on purpose (the CLI prints these without a traceback)."""


class InputError(OverflightError, ValueError):
    """Bad input data: names the file, the row (or feature) and the field when they are known."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | str | None = None,
        field: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.row = row
        self.field = field
        self.reason = message
        where = []
        if self.file is not None:
            where.append(self.file)
        if row is not None:
            where.append(f"row {row}" if isinstance(row, int) else str(row))
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")


class NotInstalledError(OverflightError):
    """A data set that must be installed first (the message says how)."""


class OverflightWarning(UserWarning):
    """Base class of the warnings overflight issues (filter them all with this one)."""


class CoordinateWarning(OverflightWarning):
    """Some input coordinates were invalid (NaN, |lat| > 90, lon outside [-180, 180]) and got no zone."""


class InconsistentFixesWarning(OverflightWarning):
    """Two fixes are further apart than the top speed allows in the time between them."""


class OverflightDeprecationWarning(OverflightWarning, DeprecationWarning):
    """A name or a way of using a result that goes in the next release (the message says what replaces it).

    A DeprecationWarning, so Python shows it only for code run as ``__main__`` and in test runs, unless a filter
    says otherwise.
    """
