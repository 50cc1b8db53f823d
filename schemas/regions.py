"""Indonesian administrative regions by their Kemendagri codes, and the time zone of each province.

Codes are dotted: ``81`` (province), ``81.71`` (regency/city), ``81.71.01`` (district),
``81.71.01.1001`` (village). The province prefix decides the time zone (WIB/WITA/WIT).

Shipped: every province with its seat, and the regencies/cities of the seed provinces (Maluku,
Sumatera Barat) with theirs. A location resolves to the region whose seat is nearest, which is
right for most of a region's area and wrong near its borders: a code the reporter or an officer
gives always wins over it.
"""

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

REGION_CODE_PATTERN = r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$"
_REGION_CODE = re.compile(REGION_CODE_PATTERN)


EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Province:
    """A province (provinsi) with its code, IANA time zone and seat (capital)."""

    code: str
    name: str
    time_zone: str
    seat: str
    lat: float
    long: float


@dataclass(frozen=True)
class Regency:
    """A regency (kabupaten) or city (kota) with its seat."""

    code: str
    name: str
    seat: str
    lat: float
    long: float


@dataclass(frozen=True)
class Located:
    """Where a point was resolved to, and how far the seat that decided it lies."""

    region_code: str
    name: str
    seat_distance_km: float


def _load(name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(
        resources.files("schemas.data").joinpath(name).read_text("utf-8")
    )
    return rows


@cache
def provinces() -> dict[str, Province]:
    """All provinces by code, from the shipped data file."""
    return {row["code"]: Province(**row) for row in _load("provinces.json")}


@cache
def regencies() -> dict[str, Regency]:
    """The regencies and cities shipped (those of the seed provinces), by code."""
    return {row["code"]: Regency(**row) for row in _load("regencies.json")}


def covered_provinces() -> frozenset[str]:
    """Provinces whose regencies/cities are all shipped (so a regency code there is checked)."""
    return frozenset(code[:2] for code in regencies())


def is_well_formed(region_code: str) -> bool:
    """True when the code has the dotted Kemendagri shape."""
    return _REGION_CODE.fullmatch(region_code) is not None


def province_of(region_code: str) -> Province | None:
    """The province a region code lies in, or None when the code names no known province."""
    if not is_well_formed(region_code):
        return None
    return provinces().get(region_code[:2])


def time_zone_of(region_code: str) -> str | None:
    """IANA time zone of the province a region lies in."""
    province = province_of(region_code)
    return province.time_zone if province else None


def is_known(region_code: str) -> bool:
    """True when the code is well formed, its province exists, and, where this province's
    regencies are shipped, its regency exists too (deeper levels are not checked)."""
    if province_of(region_code) is None:
        return False
    if len(region_code) >= 5 and region_code[:2] in covered_provinces():
        return region_code[:5] in regencies()
    return True


def region_name(region_code: str) -> str | None:
    """The most specific shipped name of a region: its regency/city, else its province."""
    regency = regencies().get(region_code[:5])
    if regency is not None:
        return regency.name
    province = province_of(region_code)
    return province.name if province else None


def locate(lat: float, long: float) -> Located:
    """The region whose seat is nearest to the point: a regency/city where the province's are
    shipped, the province elsewhere. An approximation (see the module's note)."""
    covered = covered_provinces()
    seats: list[tuple[str, str, float, float]] = [
        (regency.code, regency.name, regency.lat, regency.long) for regency in regencies().values()
    ]
    seats += [
        (province.code, province.name, province.lat, province.long)
        for province in provinces().values()
        if province.code not in covered
    ]
    code, name, distance = min(
        (
            (code, name, _distance_km(lat, long, s_lat, s_long))
            for code, name, s_lat, s_long in seats
        ),
        key=lambda seat: (seat[2], seat[0]),
    )
    return Located(region_code=code, name=name, seat_distance_km=round(distance, 1))


def _distance_km(lat1: float, long1: float, lat2: float, long2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(long2 - long1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))
