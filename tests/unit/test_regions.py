"""Region data: every Kemendagri code, and a point resolved to the regency/city it lies in."""

import pytest

from schemas.regions import OUTSIDE_KM, is_known, locate, provinces, regencies, region_name


def test_every_province_regency_and_city_is_shipped() -> None:
    assert len(provinces()) == 38
    assert len(regencies()) == 514
    assert len([code for code in regencies() if code.startswith("81.")]) == 11
    assert len([code for code in regencies() if code.startswith("13.")]) == 19
    assert region_name("81.71.02") == "Kota Ambon"
    assert region_name("13.75") == "Kota Bukittinggi"
    assert region_name("32.73") == "Kota Bandung"
    # Papua as divided in 2022: Merauke lies in Papua Selatan (93).
    assert region_name("93.01") == "Kabupaten Merauke"


def test_known_codes_down_to_the_district() -> None:
    assert is_known("81") and is_known("81.72") and is_known("13.77.01.2001")
    assert is_known("32.73") and is_known("32.73.01")
    assert not is_known("81.99") and not is_known("13.13") and not is_known("32.99")
    assert not is_known("81.71.99")  # no such district
    assert not is_known("99") and not is_known("8171")


@pytest.mark.parametrize(
    ("lat", "long", "code"),
    [
        (-3.6954, 128.1814, "81.71"),  # Ambon, at the city hall
        (-3.2567, 127.0897, "81.04"),  # Namlea, Buru
        (-5.7590, 134.2270, "81.07"),  # Dobo, Kepulauan Aru
        (-0.9471, 100.4172, "13.71"),  # Padang
        (-6.9175, 107.6191, "32.73"),  # Bandung: a regency-level rule can match it
        (-6.9147, 107.5270, "32.77"),  # Cimahi, next door to Bandung
        (-6.1754, 106.8272, "31.71"),  # Monas, Jakarta Pusat
        (-8.65, 115.22, "51.71"),  # Denpasar, Bali
        (-8.4932, 140.4018, "93.01"),  # Merauke
    ],
)
def test_a_point_resolves_to_the_regency_of_the_nearest_district(
    lat: float, long: float, code: str
) -> None:
    located = locate(lat, long)
    assert located.region_code == code
    assert located.inside and located.distance_km < 15


@pytest.mark.parametrize(
    ("lat", "long"),
    [
        (3.1390, 101.6869),  # Kuala Lumpur
        (-9.4438, 147.1803),  # Port Moresby
        (-12.4634, 130.8456),  # Darwin
        (-5.0, 125.0),  # the Banda Sea
    ],
)
def test_a_point_outside_indonesia_is_said_to_be(lat: float, long: float) -> None:
    located = locate(lat, long)
    assert not located.inside
    assert located.distance_km > OUTSIDE_KM
