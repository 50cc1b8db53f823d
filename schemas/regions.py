"""Indonesian administrative regions by their Kemendagri codes, and the time zone of each province.

Codes are dotted: ``81`` (province), ``81.71`` (regency/city), ``81.71.01`` (district),
``81.71.01.1001`` (village). The province prefix decides the time zone (WIB/WITA/WIT).
"""

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

REGION_CODE_PATTERN = r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$"
_REGION_CODE = re.compile(REGION_CODE_PATTERN)


@dataclass(frozen=True)
class Province:
    """A province (provinsi) with its code and IANA time zone."""

    code: str
    name: str
    time_zone: str


@cache
def provinces() -> dict[str, Province]:
    """All provinces by code, from the shipped data file."""
    raw = json.loads(resources.files("schemas.data").joinpath("provinces.json").read_text("utf-8"))
    return {row["code"]: Province(**row) for row in raw}


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
