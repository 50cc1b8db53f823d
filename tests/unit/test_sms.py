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


@pytest.mark.parametrize("code", ["9999", "99", "81.99", "81710"])
def test_an_unknown_region_code_is_answered_with_what_is_wrong_and_how(code: str) -> None:
    with pytest.raises(UnreadableSms) as refused:
        parse(f"LAPOR#JALAN#{code}#Jalan rusak di kampung", default_region=DEFAULT)
    assert f"Kode wilayah {code} tidak dikenal" in refused.value.reply
    assert "LAPOR#KATEGORI#KODEWILAYAH#isi" in refused.value.reply


def test_a_region_named_by_regency_anywhere_is_known() -> None:
    bandung = parse("LAPOR#SAMPAH#3273#Sampah menumpuk di pasar", default_region=DEFAULT)
    assert (bandung.region_code, bandung.body) == ("32.73", "Sampah menumpuk di pasar")


def test_plain_text_and_unknown_keywords_are_categorised_by_their_words() -> None:
    plain = parse("  Lampu jalan   mati di depan SD 5  ", default_region="13.71")
    assert (plain.category, plain.region_code, plain.body) == (
        "infrastruktur.listrik",
        "13.71",
        "Lampu jalan mati di depan SD 5",
    )
    rubbish = parse(
        "LAPOR#XYZ#Sampah menumpuk di jalan, sampah juga di got", default_region=DEFAULT
    )
    assert rubbish.category == "lingkungan.sampah"
    assert parse("LAPOR#XYZ#Sesuatu yang tidak beres", default_region=DEFAULT).category == "umum"
    assert parse("LAPOR#SEKOLAH#Guru tidak hadir seminggu", default_region=DEFAULT).category == (
        "pendidikan"
    )


def test_long_text_gets_a_short_title() -> None:
    report = parse("LAPOR#SAMPAH#" + "Sampah menumpuk " * 20, default_region=DEFAULT)
    assert len(report.title) == 80
    assert report.title.endswith("…")


@pytest.mark.parametrize("text", ["", "LAPOR#JALAN#", "LAPOR#JALAN#rusak", "halo"])
def test_too_little_to_act_on_is_answered_with_the_format(text: str) -> None:
    with pytest.raises(UnreadableSms, match="LAPOR#KATEGORI#isi laporan"):
        parse(text, default_region=DEFAULT)
