"""Reports sent by SMS (short code 1708): free text into a complaint. No I/O.

Accepted forms, case-insensitive, ``#`` separated:

- ``LAPOR#<KATEGORI>#<WILAYAH>#<isi>``: category keyword, Kemendagri region code (dots optional)
- ``LAPOR#<KATEGORI>#<isi>``: the deployment's default region
- any other text: in the default region

Category keywords map to category codes; an unknown keyword, or plain text, is categorised by
the words of the report (``umum``, general, when none says), rather than losing the report. A
region code nobody knows is not guessed at: the reply says so and how to send it.
"""

import re
from dataclasses import dataclass

from schemas.regions import is_known, is_well_formed
from services.intake.categories import suggest_category

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
    "SEKOLAH": "pendidikan",
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


_CODE_LIKE = re.compile(r"^[\d.]{2,16}$")


def _region(token: str) -> str | None:
    """The Kemendagri code a token spells (dots optional), or None when it is not one; raises
    UnreadableSms for a code-shaped token that names no region."""
    compact = token.replace(".", "").strip()
    if not _CODE_LIKE.fullmatch(token.strip()):
        return None
    parts = [compact[:2], compact[2:4], compact[4:6], compact[6:]]
    code = ".".join(part for part in parts if part)
    if _REGION_DIGITS.fullmatch(compact) and is_well_formed(code) and is_known(code):
        return code
    raise UnreadableSms(
        f"Kode wilayah {token.strip()} tidak dikenal. Kirim: LAPOR#KATEGORI#KODEWILAYAH#isi, "
        "contoh LAPOR#JALAN#8171#Jl. Pattimura berlubang (8171: Kota Ambon), "
        "atau tanpa kode: LAPOR#KATEGORI#isi"
    )


def parse(text: str, *, default_region: str) -> SmsReport:
    """Read one SMS."""
    cleaned = " ".join(text.split())
    parts = [part.strip() for part in cleaned.split("#")]
    category: str | None = None
    region = default_region
    if len(parts) >= 3 and parts[0].upper() == "LAPOR":
        category = CATEGORY_KEYWORDS.get(parts[1].upper())
        found = _region(parts[2]) if len(parts) >= 4 else None
        body = "#".join(parts[3:] if found else parts[2:]).strip()
        region = found or default_region
    else:
        body = cleaned
    category = category or suggest_category(body) or DEFAULT_CATEGORY
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
