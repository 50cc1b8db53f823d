"""The retention sweep: one intake worker at a time destroys the contact details of reports
that ended longer than ``INTAKE_CONTACT_RETENTION_DAYS`` ago, by the erasure a reporter can ask
for (their data key destroyed, ``complaint.reporter_erased`` with ``requested_by`` "retention").

The default, 730 days, is the longest a citizen may still take the same matter to the
Ombudsman (UU 37/2008 Pasal 24: within two years of the events), when the agency may need to
reach the reporter again; a deployment sets its own from its records retention schedule.
"""

from datetime import timedelta

from pymongo.asynchronous.database import AsyncDatabase

from kernel.lease import Lease
from kernel.logging import get_logger
from kernel.mongo import Document
from kernel.runtime import Periodic
from services.intake.service import IntakeService

log = get_logger(__name__)

# Reports erased in one transaction each, this many at most per look (the rest at the next).
BATCH = 100
MOST_PER_SWEEP = 10_000


class RetentionSweep(Periodic):
    """Runs ``IntakeService.erase_expired`` every ``seconds`` while holding its lease."""

    def __init__(
        self,
        service: IntakeService,
        *,
        retention: timedelta,
        seconds: float,
        db: AsyncDatabase[Document],
    ) -> None:
        super().__init__(self.sweep_once, seconds=seconds)
        self._service = service
        self._retention = retention
        # Lapses after three missed periods: a dead holder's sweep moves to another worker.
        self.lease = Lease(db, "intake-retention", seconds=max(3 * seconds, 60.0))

    async def sweep_once(self) -> int:
        """Erase what is past retention now, if this worker holds the lease; how many."""
        if not await self.lease.hold():
            return 0
        erased = 0
        while erased < MOST_PER_SWEEP:
            done = await self._service.erase_expired(retention=self._retention, limit=BATCH)
            erased += done
            if done < BATCH:
                break
        if erased:
            log.info("retention_erased", count=erased)
        return erased

    async def stop(self) -> None:
        await super().stop()
        await self.lease.release()
