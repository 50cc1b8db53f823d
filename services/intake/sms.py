"""Reports sent by SMS (short code 1708): free text into a complaint. No I/O.

Accepted forms, case-insensitive, ``#`` separated:

- ``LAPOR#<KATEGORI>#<WILAYAH>#<isi>``: category keyword, Kemendagri region code (dots optional)
- ``LAPOR#<KATEGORI>#<isi>``: the deployment's default region
- any other text: category ``umum`` (general) in the default region

Category keywords map to category codes; an unknown keyword becomes ``umum`` rather than
losing the report.
"""

import re
from dataclasses import dataclass

from schemas.regions import is_well_formed, province_of

DEFAULT_CATEGORY = "umum"
CATEGORY_KEYWORDS = {
    "JALAN": "infrastruktur.jalan",
    "JEMBATAN": "infrastruktur.jembatan",
    "AIR": "infrastruktur.air_bersih",
    "LISTRIK": "infrastruktur.listrik",
    "SAMPAH": "lingkungan.sampah",
    "BANJIR": "lingkungan.banjir",
    "KESEHATAN": "kesehatan",
    "BPJS": "kesehatan.bpjs",
    "PUSKESMAS": "kesehatan.puskesmas",
    "PENDIDIKAN": "pendidikan",
    "SEKOLAH": "pendidikan.sekolah",
    "KTP": "kependudukan.ktp",
    "KEPENDUDUKAN": "kependudukan",
    "BANSOS": "sosial.bansos",
    "PUNGLI": "pelayanan.pungli",
    "PELAYANAN": "pelayanan",
    "TRANSPORTASI": "transportasi",
}
_REGION_DIGITS = re.compile(r"^\d{2}(\d{2}(\d{2}(\d{4})?)?)?$")
TITLE_LENGTH = 80
MIN_BODY = 10


@dataclass(frozen=True)
class SmsReport:
    """What a message says, ready to become a complaint."""

    category: str
    region_code: str
    title: str
    body: str


class UnreadableSms(ValueError):
    """The message cannot become a report; ``reply`` is the SMS that explains why."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


def _region(token: str) -> str | None:
    compact = token.replace(".", "").strip()
    if not _REGION_DIGITS.fullmatch(compact):
        return None
    parts = [compact[:2], compact[2:4], compact[4:6], compact[6:]]
    code = ".".join(part for part in parts if part)
    return code if is_well_formed(code) and province_of(code) else None


def parse(text: str, *, default_region: str) -> SmsReport:
    """Read one SMS."""
    cleaned = " ".join(text.split())
    parts = [part.strip() for part in cleaned.split("#")]
    category, region = DEFAULT_CATEGORY, default_region
    if len(parts) >= 3 and parts[0].upper() == "LAPOR":
        category = CATEGORY_KEYWORDS.get(parts[1].upper(), DEFAULT_CATEGORY)
        found = _region(parts[2]) if len(parts) >= 4 else None
        body = "#".join(parts[3:] if found else parts[2:]).strip()
        region = found or default_region
    else:
        body = cleaned
    if len(body) < MIN_BODY:
        raise UnreadableSms(
            "Laporan terlalu singkat. Kirim: LAPOR#KATEGORI#isi laporan, "
            "contoh LAPOR#JALAN#Jl. Sudirman berlubang di depan pasar"
        )
    title = body if len(body) <= TITLE_LENGTH else body[: TITLE_LENGTH - 1].rstrip() + "…"
    return SmsReport(category=category, region_code=region, title=title, body=body)


def accepted_reply(tracking_id: str) -> str:
    """The SMS sent back when a report is stored."""
    return f"Laporan diterima. Nomor pelacakan: {tracking_id}. Simpan nomor ini untuk memantau."
