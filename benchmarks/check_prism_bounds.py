"""Check a --fast verdict table against a precise one of the same pairs: same verdicts, and true bounds.

In fast mode (``precise=False``) detour_m and margin_m are whichever certified bounds settled the verdict
(``overflight.analysis.prism.verdicts``): detour_m is a lower bound on A for ``necessary``, an upper bound on
A (a path found) for ``possible``, a lower bound on E for ``impossible``; margin_m is then a lower bound on
the nearest flip. A precise table gives A, E and the margin to 0.1 % wherever its detour_exact is True.
This joins the two tables on (track_id, from_index, to_index, zone_id) and, for every row whose values
differ, checks that the fast value lies on its side of the precise one (with the precise table's 0.1 %),
and that detour_exact is True only where the fast detour equals the precise one to 0.1 %.

Usage: python benchmarks/check_prism_bounds.py FAST.parquet PRECISE.parquet (both written by
``bench_prism.py N [--fast] --save PATH`` with the same N). Prints the counts; exits 1 on any violation.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

KEYS = ["track_id", "from_index", "to_index", "zone_id"]
REL = 1e-3  # the precise table's precision (0.1 %)


def check(fast: pd.DataFrame, precise: pd.DataFrame) -> dict[str, int]:
    """Counts of rows checked and of violations (keys ending in ``_bad``) of `fast` against `precise`."""
    f = fast.assign(**{k: fast[k].astype(str) for k in ("zone_id", "verdict", "track_id")})
    p = precise.assign(**{k: precise[k].astype(str) for k in ("zone_id", "verdict", "track_id")})
    m = f.merge(p, on=KEYS, suffixes=("", "_p"), how="outer", indicator=True)
    out: dict[str, int] = {"rows": len(m), "unmatched_bad": int((m["_merge"] != "both").sum())}
    m = m[m["_merge"] == "both"]
    out["verdict_bad"] = int((m["verdict"] != m["verdict_p"]).sum())
    m = m[m["verdict"] == m["verdict_p"]]
    fd, pd_ = m["detour_m"].to_numpy(float), m["detour_m_p"].to_numpy(float)
    fm, pm = m["margin_m"].to_numpy(float), m["margin_m_p"].to_numpy(float)
    v = m["verdict"].to_numpy()
    pex = m["detour_exact_p"].to_numpy(bool)
    fex = m["detour_exact"].to_numpy(bool)

    def same(a: np.ndarray, b: np.ndarray, scale: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):  # inf - inf (a fix in the zone): equal by the first test
            return np.asarray((a == b) | (np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= REL * np.abs(scale)))

    dsame = same(fd, pd_, pd_)
    # A margin moves with the detour it is computed from: compare it at the detour's 0.1 %.
    msame = same(fm, pm, np.where(np.isfinite(pd_), pd_, 0.0))
    changed = ~(dsame & msame)
    out["changed"] = int(changed.sum())
    tol = REL * np.abs(np.where(np.isfinite(pd_), pd_, 0.0))
    lower_side = (v == "necessary") | (v == "impossible")  # fast detour is a lower bound (A or E)
    upper_side = v == "possible"  # a path found: an upper bound on A
    # Where the precise value is only a bound itself (detour_exact False: beyond 1.25 budgets, or a ceiling),
    # a lower-bound fast value cannot be checked against it from above; a necessary's A >= that bound anyway.
    det_bad = changed & pex & ((lower_side & ~(fd <= pd_ + tol)) | (upper_side & ~(fd >= pd_ - tol)))
    out["detour_side_bad"] = int(det_bad.sum())
    mar_bad = changed & pex & ~(fm <= pm + tol)
    out["margin_side_bad"] = int(mar_bad.sum())
    out["exact_bad"] = int((fex & ~(pex & dsame)).sum())
    out["changed_exact"] = int((changed & fex).sum())
    bad = det_bad | mar_bad | (fex & ~(pex & dsame))
    if bad.any():
        cols = [*KEYS, "verdict", "detour_m", "detour_m_p", "margin_m", "margin_m_p", "detour_exact", "detour_exact_p"]
        print(m.loc[bad, cols].head(20).to_string())
    return out


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    res = check(pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2]))
    print("bounds check: " + ", ".join(f"{k}={v}" for k, v in res.items()))
    if any(v for k, v in res.items() if k.endswith("_bad")):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
