"""Reports by SMS: the keyword format, plain text, and what cannot be a report."""

import pytest

from services.intake.sms import UnreadableSms, parse

DEFAULT = "31"


def test_keyword_category_and_text() -> None:
    report = parse("LAPOR#JALAN#Jl. Sudirman rusak parah", default_region=DEFAULT)
    assert (report.category, report.region_code) == ("infrastruktur.jalan", DEFAULT)
    assert report.body == "Jl. Sudirman rusak parah"
    assert report.title == report.body


def test_keyword_category_region_code_with_or_without_dots() -> None:
    dotted = parse("lapor#kesehatan#81.71#Puskesmas tutup sejak pagi", default_region=DEFAULT)
    compact = parse("LAPOR#KESEHATAN#8171#Puskesmas tutup sejak pagi", default_region=DEFAULT)
    assert dotted.region_code == compact.region_code == "81.71"
    assert dotted.category == "kesehatan"


def test_text_that_merely_looks_like_a_region_stays_text() -> None:
    report = parse("LAPOR#JALAN#99#Jalan rusak di kampung", default_region=DEFAULT)
    assert report.region_code == DEFAULT  # 99 is no province
    assert report.body == "99#Jalan rusak di kampung"


def test_plain_text_and_unknown_keywords_become_general_reports() -> None:
    plain = parse("  Lampu jalan   mati di depan SD 5  ", default_region="13.71")
    assert (plain.category, plain.region_code, plain.body) == (
        "umum",
        "13.71",
        "Lampu jalan mati di depan SD 5",
    )
    assert parse("LAPOR#XYZ#Sesuatu yang tidak beres", default_region=DEFAULT).category == "umum"


def test_long_text_gets_a_short_title() -> None:
    report = parse("LAPOR#SAMPAH#" + "Sampah menumpuk " * 20, default_region=DEFAULT)
    assert len(report.title) == 80
    assert report.title.endswith("…")


@pytest.mark.parametrize("text", ["", "LAPOR#JALAN#", "LAPOR#JALAN#rusak", "halo"])
def test_too_little_to_act_on_is_answered_with_the_format(text: str) -> None:
    with pytest.raises(UnreadableSms, match="LAPOR#KATEGORI#isi laporan"):
        parse(text, default_region=DEFAULT)
