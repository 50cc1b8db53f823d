"""The privacy notice a reporter is given when filing (UU 27/2022 Pasal 16 ayat (2) and
Pasal 21: the purpose, the data, how long it is kept and the subject's rights), in Bahasa
Indonesia and English. Pure: the retention period comes from the deployment's setting."""

from pydantic import BaseModel, Field

# Bumped when the wording changes, so a portal can show what a reporter agreed to.
VERSION = "2026-12-03"
# Where the notice is served (and linked from every submission's answer).
PATH = "/v1/privacy-notice"


class NoticeText(BaseModel):
    purpose: str
    data: str
    retention: str
    rights: str


class PrivacyNotice(BaseModel):
    """What a reporter is told before filing."""

    version: str
    id: NoticeText = Field(description="Bahasa Indonesia (binding).")
    en: NoticeText = Field(description="English.")


def privacy_notice(retention_days: int) -> PrivacyNotice:
    """The notice, with this deployment's retention period."""
    return PrivacyNotice(
        version=VERSION,
        id=NoticeText(
            purpose="Nama dan kontak Anda dipakai hanya untuk menindaklanjuti laporan ini: "
            "memberi tahu Anda perkembangannya dan, bila perlu, menghubungi Anda. Instansi "
            "yang menangani tidak melihat nama Anda bila Anda memilih anonim, dan laporan "
            "rahasia tidak pernah ditampilkan kepada publik.",
            data="Nama, alamat email dan nomor telepon yang Anda berikan. Kontak Anda disimpan "
            "terenkripsi dengan kunci khusus laporan ini; setiap kali petugas melihatnya, "
            "tercatat siapa, kapan dan untuk apa.",
            retention=f"Kontak Anda dimusnahkan {retention_days} hari setelah laporan selesai "
            "(ditutup, ditolak atau digabung), atau lebih awal atas permintaan Anda. Isi "
            "laporan dan riwayatnya tetap disimpan tanpa identitas Anda.",
            rights="Anda berhak memperoleh salinan data Anda (GET /v1/me/data dan GET "
            "/v1/me/notification-data), meminta "
            "perbaikan, dan meminta penghapusannya (POST /v1/complaints/{id}/reporter-erasure), "
            "sesuai UU No. 27 Tahun 2022 tentang Pelindungan Data Pribadi, Pasal 5-15.",
        ),
        en=NoticeText(
            purpose="Your name and contact details are used only to follow up this report: "
            "to tell you how it progresses and, if needed, to reach you. The agency handling "
            "it does not see your name if you choose anonim, and a rahasia (confidential) "
            "report is never shown to the public.",
            data="The name, e-mail address and phone number you give. Your contact details "
            "are stored encrypted under a key of this report's own; every time an officer "
            "sees them, who, when and why is recorded.",
            retention=f"Your contact details are destroyed {retention_days} days after the "
            "report ends (closed, rejected or merged), or sooner at your request. The report "
            "and its history are kept without your identity.",
            rights="You may obtain a copy of your data (GET /v1/me/data and GET "
            "/v1/me/notification-data), ask for it to be "
            "corrected, and ask for it to be erased (POST /v1/complaints/{id}/reporter-erasure), "
            "under Law No. 27 of 2022 on Personal Data Protection, Articles 5-15.",
        ),
    )
