"""How often does a GeoNames place's admin1 agree with the ne-admin1 region its coordinates lie in?

Usage: python scripts/admin1_geonames_agreement.py   (needs `overflight boundaries install ne-admin1`)

Names are not matched: Natural Earth carries each region's GeoNames admin1 code (``gn_a1_code``, e.g. KZ.07)
and GeoNames gives each place its country and admin1 code, so the comparison is code to code (see
`overflight.analysis.audit.geonames_agreement`). Countries where Natural Earth's admin-1 level is not GeoNames'
(departments or provinces against regions: France, Italy, Spain, the United Kingdom, ...) disagree almost
everywhere; they are listed and also left out of a second figure.
"""

from __future__ import annotations

import pandas as pd

from overflight import boundaries
from overflight.analysis.audit import geonames_agreement


def main() -> None:
    pd.set_option("display.width", 160)
    table = geonames_agreement(boundaries.load("ne-admin1"))
    countries = table.drop(index="ALL")
    other_level = countries[(countries["agreement"] < 0.5) & (countries["agree"] + countries["disagree"] >= 20)]
    same = countries.drop(index=other_level.index)
    checked = same["agree"].sum() + same["disagree"].sum()
    print("all places:")
    print(table.loc[["ALL"]].to_string())
    print(f"\ncountries where ne-admin1 is another level or code vintage than GeoNames admin1 (agreement < 50%, "
          f"{len(other_level)}): {', '.join(other_level.index)}")
    print(f"the other countries: {same['agree'].sum()} of {checked} places agree = {same['agree'].sum() / checked:.2%}"
          f" ({same['outside'].sum()} outside every region, {same['no_code'].sum()} without a code)")
    print("\nRussia, Kazakhstan, Ukraine:")
    print(table.loc[["RU", "KZ", "UA"]].to_string())


if __name__ == "__main__":
    main()
