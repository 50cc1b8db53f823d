"""Standards use case: store a standard as a new version and announce its publication."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from kernel.metrics import STANDARDS_STORED
from kernel.mongo import Session, stored_precision
from kernel.unit_of_work import UnitOfWork
from schemas.envelope import Event, new_event
from schemas.events import StandardPublished
from services.standards.domain import StandardCreate, completion_days, standard_id
from services.standards.store import StandardStore

SOURCE = "/lapor/standards"


class StandardsService:
    """Registry writes, each with its "published" event in the same transaction."""

    def __init__(self, *, store: StandardStore, uow: UnitOfWork) -> None:
        self._store = store
        self._uow = uow

    async def publish(self, create: StandardCreate, *, correlation_id: str) -> dict[str, Any]:
        """Store the standard (version 1, or the next version of the same agency service)."""
        sid = standard_id(create.agency_id, create.service_name)
        now = stored_precision(datetime.now(UTC))

        async def effect(session: Session) -> tuple[dict[str, Any], Sequence[Event]]:
            current = await self._store.get(sid, session=session)
            version = 1 if current is None else int(current["version"]) + 1
            doc = {
                "_id": sid,
                **create.model_dump(mode="json"),
                "version": version,
                "status": "published",
                "published_at": now,
            }
            await self._store.put(doc, session=session)
            fee = create.delivery.fee
            event = new_event(
                StandardPublished(
                    standard_id=sid,
                    agency_id=create.agency_id,
                    service_name=create.service_name,
                    version=version,
                    completion_time_days=completion_days(create.delivery.completion_time),
                    fee_idr=0 if fee.free else fee.amount_idr,
                    published_at=now,
                ),
                source=SOURCE,
                correlation_id=correlation_id,
                now=now,
            )
            return doc, [event]

        doc = await self._uow.run(effect)
        STANDARDS_STORED.labels(create.agency_id).inc()
        return doc

    async def get(self, sid: str) -> dict[str, Any] | None:
        """One standard."""
        return await self._store.get(sid)

    async def list(self, *, agency_id: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
        """Standards, optionally of one agency."""
        return await self._store.list(agency_id=agency_id, limit=limit, offset=offset)
