"""The timer sweep: one replica at a time fires the clocks whose moment has come.

No timer per clock lives in memory: the sweep asks the (state, next_fire_at) index for due
clocks every ``SLA_SWEEP_SECONDS``. The lease hands the job to another replica when this one
stops or dies; the clocks' phases in MongoDB say exactly where it left off.
"""

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime

from kernel.lease import Lease
from kernel.logging import get_logger
from services.sla.service import SlaService

log = get_logger(__name__)


def utc_now() -> datetime:
    """The real clock (tests pass their own)."""
    return datetime.now(UTC)


class Sweeper:
    """Runs ``SlaService.fire_due`` on a schedule while holding the sweep lease."""

    def __init__(
        self,
        *,
        service: SlaService,
        lease: Lease,
        seconds: float,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._service = service
        self._lease = lease
        self._seconds = seconds
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """Sweep in the background."""
        self._task = asyncio.create_task(self._run(), name="sla-sweeper")

    async def stop(self) -> None:
        """Finish the sweep in progress and hand the lease on."""
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=15)
        await self._lease.release()

    async def sweep_once(self) -> int:
        """One sweep now, if this replica holds the lease; returns clocks fired."""
        if not await self._lease.hold():
            return 0
        return await self._service.fire_due(self._clock())

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                fired = await self.sweep_once()
                if fired:
                    log.info("clocks_fired", count=fired)
            except Exception:
                log.warning("sweep_failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._seconds)
