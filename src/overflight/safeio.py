"""Guards every file reader shares: GDAL kept offline, no virtual paths, bounded ZIP members, hardened XML.

GDAL (through pyogrio) can open far more than the zone formats overflight names: VRT files that pull other
files or URLs in, ``/vsicurl/`` and ``/vsizip/`` paths, SQL over CSV. :func:`offline_gdal` sets GDAL's
configuration for the whole process so that its HTTP layer has nowhere to go, and the zone reader sniffs
each file's content before GDAL sees it (see :func:`overflight.zones.read_zone_file`).
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from overflight.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

#: GDAL configuration that leaves /vsicurl/ (and every driver built on GDAL's HTTP layer) nothing to fetch:
#: only an impossible file extension and file name may be opened over HTTP, every request goes to a proxy
#: on a closed loopback port (port 9, discard) and fails at once without retries, and no directory listing
#: is requested on open.
GDAL_OFFLINE_OPTIONS: dict[str, str] = {
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".overflight-offline",
    "CPL_VSIL_CURL_ALLOWED_FILENAME": "/overflight-offline/none",
    "GDAL_HTTP_PROXY": "127.0.0.1:9",
    "GDAL_HTTPS_PROXY": "127.0.0.1:9",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_CURL_ENABLE_VSIMEM": "NO",
    "OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO",
}
_DONE = False

#: Largest uncompressed content read from a ZIP (KMZ, zipped shapefile), in MB; the environment variable of
#: the same name changes it.
OVERFLIGHT_MAX_UNCOMPRESSED_MB = 512


def offline_gdal() -> None:
    """Turn off GDAL's network access for the whole process (idempotent; call before any pyogrio read)."""
    global _DONE
    if _DONE:
        return
    for k, v in GDAL_OFFLINE_OPTIONS.items():
        os.environ[k] = v  # read by GDAL when a driver first asks, and inherited by child processes
    import pyogrio

    pyogrio.set_gdal_config_options(dict(GDAL_OFFLINE_OPTIONS))
    _DONE = True


def refuse_virtual_path(text: str, *, what: str = "file") -> None:
    """InputError for GDAL virtual paths (``/vsicurl/``, ``/vsizip/``, ...) and driver prefixes (``CSV:``)."""
    s = text.strip().replace("\\", "/")
    low = s.lower()
    if low.startswith("/vsi") or "/vsi" in low.split(":", 1)[0] or low.startswith(("http:", "https:", "ftp:")):
        raise InputError(f"GDAL virtual or remote paths are refused: give a local {what}", file=text)
    head = s.split(":", 1)[0]
    if ":" in s and len(head) > 1 and head.isalnum() and head.upper() == head and not Path(s).exists():
        raise InputError(f"driver-prefixed data source {head + ':'!r} is refused: give a local {what}", file=text)


#: Largest file of the whole-file formats (JSON, GPX, KML, zone files) read by default, in MB; the environment
#: variable of the same name raises it.
OVERFLIGHT_MAX_WHOLE_FILE_MB = 512


def whole_file_limit_bytes() -> int:
    """The size limit of whole-file formats (OVERFLIGHT_MAX_WHOLE_FILE_MB), in bytes."""
    try:
        limit_mb = float(os.environ.get("OVERFLIGHT_MAX_WHOLE_FILE_MB", OVERFLIGHT_MAX_WHOLE_FILE_MB))
    except ValueError:
        raise InputError("OVERFLIGHT_MAX_WHOLE_FILE_MB must be a number of megabytes",
                         field="OVERFLIGHT_MAX_WHOLE_FILE_MB") from None
    return int(limit_mb * 1e6)


def check_whole_file_size(p: Path, fmt: str) -> None:
    """Refuse a whole-file format too large to parse in memory, with the way out (a streamed format)."""
    limit_mb = whole_file_limit_bytes() / 1e6
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", file=p) from None
    if size > limit_mb * 1e6:
        raise InputError(
            f"{fmt} file of {size / 1e6:,.0f} MB is read whole and would not fit in memory (limit "
            f"{limit_mb:,.0f} MB): convert it to CSV or Parquet, which are streamed in chunks (e.g. "
            f"`ogr2ogr -f CSV out.csv {p.name} -lco GEOMETRY=AS_XY`, for GPX add the layer `track_points`), "
            f"or raise the limit with OVERFLIGHT_MAX_WHOLE_FILE_MB", file=p)


def max_uncompressed_bytes() -> int:
    """The limit on uncompressed ZIP content, from OVERFLIGHT_MAX_UNCOMPRESSED_MB (default 512 MB)."""
    raw = os.environ.get("OVERFLIGHT_MAX_UNCOMPRESSED_MB", str(OVERFLIGHT_MAX_UNCOMPRESSED_MB))
    try:
        mb = float(raw)
    except ValueError:
        raise InputError(f"OVERFLIGHT_MAX_UNCOMPRESSED_MB must be a number of megabytes, not {raw!r}",
                         field="OVERFLIGHT_MAX_UNCOMPRESSED_MB") from None
    return int(mb * 1e6)


def zip_members(path: Path, z: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The archive's members, refusing one whose declared uncompressed total is over the limit."""
    infos = z.infolist()
    limit = max_uncompressed_bytes()
    total = sum(i.file_size for i in infos)
    if total > limit:
        raise InputError(f"ZIP archive expands to {total / 1e6:,.0f} MB, over the limit of {limit / 1e6:,.0f} MB "
                         "(raise it with OVERFLIGHT_MAX_UNCOMPRESSED_MB)", file=path)
    return infos


def read_zip_member(path: Path, z: zipfile.ZipFile, name: str, *, limit: int | None = None) -> bytes:
    """One member's bytes, decompressed in blocks and stopped at the limit (declared sizes can lie)."""
    limit = max_uncompressed_bytes() if limit is None else limit
    out = io.BytesIO()
    try:
        with z.open(name) as fh:
            while True:
                block = fh.read(1 << 20)
                if not block:
                    break
                if out.tell() + len(block) > limit:
                    raise InputError(f"{name} in the ZIP archive expands beyond the limit of {limit / 1e6:,.0f} MB "
                                     "(OVERFLIGHT_MAX_UNCOMPRESSED_MB, and for track files "
                                     "OVERFLIGHT_MAX_WHOLE_FILE_MB)", file=path)
                out.write(block)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise InputError(f"cannot read {name} in the ZIP archive: {exc}", file=path) from None
    except Exception as exc:  # zlib.error and friends from a corrupt member
        if exc.__class__.__module__ == "zlib":
            raise InputError(f"corrupt ZIP member {name}: {exc}", file=path) from None
        raise
    return out.getvalue()


def open_zip(path: Path) -> zipfile.ZipFile:
    """A ZipFile, or an InputError for a damaged archive."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"not a readable ZIP archive: {exc}", file=path) from None


def check_xml(data: bytes | IO[bytes], *, file: str | Path) -> None:
    """Parse XML with defusedxml: DTDs, entities and external references are refused (InputError)."""
    import defusedxml
    import defusedxml.ElementTree as DET

    src = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        for _ in DET.iterparse(src, events=("start",), forbid_dtd=True):
            pass
    except defusedxml.DefusedXmlException as exc:
        raise InputError(f"XML with a DOCTYPE/DTD or entity declaration is refused ({type(exc).__name__})",
                         file=file) from None
    except LookupError as exc:  # an encoding="..." that Python does not know
        raise InputError(f"XML declares an unknown encoding ({exc})", file=file, row="line 1") from None
    except DET.ParseError as exc:
        line = getattr(exc, "position", (0, 0))[0]
        raise InputError(f"not well-formed XML: {exc}", file=file, row=f"line {line}" if line else None) from None


#: Longest line the line-by-line text readers accept (claims/observations/evidence CSV, `locate` header).
MAX_LINE_BYTES = 1 << 20


def iter_text_lines(path: Path, *, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[str]:
    """The file's lines as UTF-8 text (BOM dropped), each read with a bounded buffer.

    A line longer than ``max_line_bytes``, a NUL byte or bytes that are not UTF-8 are an InputError naming
    the 1-based line, so no input makes a reader hold more than one bounded line.
    """
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", file=path) from None
    with fh:
        n = 0
        while True:
            raw = fh.readline(max_line_bytes + 1)
            if not raw:
                return
            n += 1
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                raise InputError(f"line longer than {max_line_bytes >> 10} KiB (binary data or no line breaks?)",
                                 file=path, row=f"line {n}")
            if b"\x00" in raw:
                raise InputError("NUL byte: not a text file", file=path, row=f"line {n}")
            try:
                text = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"not UTF-8 text (byte {raw[exc.start]:#04x} at column {exc.start + 1}); save "
                                 "the file as UTF-8", file=path, row=f"line {n}") from None
            yield text


def read_text(path: Path) -> str:
    """A whole UTF-8 text file; bytes that are not UTF-8 are an InputError naming the line and column."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", file=path) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(f"not UTF-8 text (byte {data[exc.start]:#04x} at column {col}); save the file as UTF-8",
                         file=path, row=f"line {line}") from None


def first_non_utf8(path: Path) -> tuple[int, int] | None:
    """(1-based line, byte value) of the first byte that is not UTF-8 text, streamed in 1 MB blocks; or None."""
    import codecs

    dec = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as fh:
        while True:
            block = fh.read(1 << 20)
            try:
                dec.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                pending = exc.object  # the decoder's buffered tail plus this block
                pos = exc.start
                # the decoder's buffered tail is a partial character: it holds no newline
                return line + pending.count(b"\n", 0, pos), pending[pos]
            if not block:
                return None
            line += block.count(b"\n")


def read_text_csv(path: Path, *, sep: str | None = ",", na_values: list[str] | None = None) -> pd.DataFrame:
    """A small CSV file as text columns, through the same guards as the other readers.

    Not UTF-8, empty, unparseable: InputError naming the line. A value holding a line break means a stray
    ``"`` swallowed the lines after it: an InputError naming the data row where that value starts, never
    fewer rows read than the file has. ``sep=None`` sniffs the delimiter; only `na_values` are null (default:
    nothing, every cell stays text).
    """
    import csv

    import pandas as pd

    text = read_text(path)
    if not text.strip():
        raise InputError("empty file (no header)", file=path, row=1)
    try:
        df: pd.DataFrame = pd.read_csv(io.StringIO(text), dtype=str, sep=sep, keep_default_na=False,
                                       na_values=na_values or [], engine="python" if sep is None else "c")
    except (pd.errors.ParserError, csv.Error) as exc:
        raise InputError(f"not a readable CSV: {exc}", file=path) from None
    except pd.errors.EmptyDataError:
        raise InputError("empty file (no header)", file=path, row=1) from None
    cells = df.to_numpy(dtype=object)
    broken = [i for i, row in enumerate(cells) if any(isinstance(v, str) and ("\n" in v or "\r" in v) for v in row)]
    if broken:
        raise InputError(f"a quoted value in data row {broken[0] + 1} runs over the end of its line (a stray or "
                         "unbalanced '\"'?): the lines after it would be swallowed into it; fix the quote",
                         file=path, row=f"data row {broken[0] + 1}")
    return df


__all__ = [
    "GDAL_OFFLINE_OPTIONS",
    "MAX_LINE_BYTES",
    "OVERFLIGHT_MAX_UNCOMPRESSED_MB",
    "OVERFLIGHT_MAX_WHOLE_FILE_MB",
    "check_whole_file_size",
    "check_xml",
    "first_non_utf8",
    "iter_text_lines",
    "max_uncompressed_bytes",
    "offline_gdal",
    "open_zip",
    "read_text",
    "read_text_csv",
    "read_zip_member",
    "refuse_virtual_path",
    "whole_file_limit_bytes",
    "zip_members",
]
