"""The complaint files notify's consumer read or wrote lately, kept in memory.

A complaint's file changes only through the events of its own partition, which one consumer of
the group takes at a time, so that consumer may keep what it last stored: the deadlines and
warnings that follow a submission or a forward find their file here instead of reading it
again (two queries per complaint). The consumer forgets everything when it loses partitions
(their next owner may change the files), drops an entry before writing it, and keeps the new
version only once the write is committed (a consumer batch that fails stores nothing).
Bounded: the oldest go first.
"""

from kernel.lru import LRU
from services.notify.domain import ComplaintFile


class FileCache:
    """Complaint files by complaint ID, at most ``limit`` of them."""

    def __init__(self, *, limit: int = 4096) -> None:
        self._files: LRU[str, ComplaintFile] = LRU(limit)

    def get(self, complaint_id: str) -> ComplaintFile | None:
        """The file as this process last stored or read it, if it still has it."""
        return self._files.get(complaint_id)

    def keep(self, file: ComplaintFile) -> None:
        """Remember the file as committed."""
        self._files.put(file.complaint_id, file)

    def forget(self, complaint_id: str) -> None:
        """Drop a file about to change."""
        self._files.pop(complaint_id)

    def clear(self) -> None:
        """Drop everything (the partitions moved)."""
        self._files.clear()
