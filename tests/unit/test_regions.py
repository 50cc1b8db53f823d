"""Region data: the Kemendagri codes shipped, and a point resolved to the region it lies in."""

import pytest

from schemas.regions import is_known, locate, provinces, regencies, region_name


def test_every_province_and_the_seed_regencies_are_shipped() -> None:
    assert len(provinces()) == 38
    maluku = {code for code in regencies() if code.startswith("81.")}
    sumbar = {code for code in regencies() if code.startswith("13.")}
    assert len(maluku) == 11  # 9 regencies, 2 cities
    assert len(sumbar) == 19  # 12 regencies, 7 cities
    assert region_name("81.71.02") == "Kota Ambon"
    assert region_name("13.75") == "Kota Bukittinggi"
    assert region_name("32.73") == "Jawa Barat"  # regencies of Jawa Barat are not shipped


def test_known_codes() -> None:
    assert is_known("81") and is_known("81.72") and is_known("13.77.01.2001")
    assert not is_known("81.99") and not is_known("13.13")  # no such regency
    assert is_known("32.73")  # a province whose regencies are not shipped: not checked
    assert not is_known("99") and not is_known("8171")


@pytest.mark.parametrize(
    ("lat", "long", "code"),
    [
        (-3.6954, 128.1814, "81.71"),  # Ambon, at the city hall
        (-3.2567, 127.0897, "81.04"),  # Namlea, Buru
        (-5.7590, 134.2270, "81.05"),  # Dobo, Kepulauan Aru
        (-0.9471, 100.4172, "13.71"),  # Padang
        (-2.03, 99.59, "13.01"),  # Tuapejat, Mentawai
        (-6.2, 106.85, "31"),  # Jakarta: regencies of DKI not shipped, the province is
        (-8.65, 115.22, "51"),  # Denpasar, Bali
    ],
)
def test_a_point_resolves_to_the_region_whose_seat_is_nearest(
    lat: float, long: float, code: str
) -> None:
    located = locate(lat, long)
    assert located.region_code == code
    assert located.seat_distance_km < 30
