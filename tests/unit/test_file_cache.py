"""Notify's memory of complaint files: bounded, and forgotten when partitions move."""

from aiokafka import TopicPartition

from kernel.consuming import _OnRevoke
from kernel.subscriptions import EventGroup
from schemas.complaint import ReporterContact
from schemas.topics import COMPLAINT_EVENTS
from services.notify.domain import ComplaintFile
from services.notify.file_cache import FileCache


def file(complaint_id: str, agency_id: str | None = None) -> ComplaintFile:
    return ComplaintFile(
        complaint_id=complaint_id,
        title="Jalan rusak",
        category="infrastruktur.jalan",
        region_code="81.71",
        report_type="pengaduan",
        anonymous=False,
        confidential=False,
        reporter=ReporterContact(email="siti@example.id"),
        agency_id=agency_id,
    )


def test_the_cache_keeps_the_newest_files_and_forgets_one_about_to_change() -> None:
    cache = FileCache(limit=2)
    cache.keep(file("A"))
    cache.keep(file("B"))
    assert cache.get("A") is not None  # A is now the most recently used
    cache.keep(file("C"))
    assert (cache.get("B"), cache.get("A"), cache.get("C")) == (None, file("A"), file("C"))
    cache.keep(file("A", agency_id="pemkot-ambon"))
    assert cache.get("A") == file("A", agency_id="pemkot-ambon")
    cache.forget("A")
    assert cache.get("A") is None


async def test_losing_partitions_makes_the_group_forget_what_it_kept() -> None:
    cache = FileCache()
    cache.keep(file("A"))
    group = EventGroup("notify", [COMPLAINT_EVENTS], description="test")
    group.forget_on_revoke(cache.clear)
    await _OnRevoke("notify", group.on_revoked).on_partitions_revoked(
        [TopicPartition(COMPLAINT_EVENTS.name, 3)]
    )
    assert cache.get("A") is None
