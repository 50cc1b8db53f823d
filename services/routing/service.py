"""Routing use case: decide the agency for a submitted complaint and announce it."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from kernel.metrics import COMPLAINTS_ROUTED
from kernel.mongo import Session
from kernel.unit_of_work import UnitOfWork
from schemas.envelope import Event, new_event
from schemas.events import ComplaintRouted, ComplaintSubmitted
from services.routing.domain import FALLBACK_RULE_ID, Directory, decide
from services.routing.store import RoutingStore

SOURCE = "/lapor/routing"


def load_directory(path: str) -> Directory:
    """The directory in a JSON file, or the shipped seed when ``path`` is empty."""
    if path:
        text = Path(path).read_text("utf-8")
    else:
        text = (
            resources.files("services.routing.data").joinpath("directory.json").read_text("utf-8")
        )
    return Directory.model_validate(json.loads(text))


class RoutingService:
    """Turns "submitted" into "routed", once per complaint event."""

    def __init__(self, *, store: RoutingStore, uow: UnitOfWork) -> None:
        self._store = store
        self._uow = uow

    async def on_submitted(self, event: Event) -> None:
        """Assign the agency and publish the decision with its reason."""
        submitted = event.data
        assert isinstance(submitted, ComplaintSubmitted)
        directory = await self._store.directory()
        decision = decide(directory, category=submitted.category, region_code=submitted.region_code)
        routed_at = datetime.now(UTC)
        routed = new_event(
            ComplaintRouted(
                complaint_id=submitted.complaint_id,
                agency_id=decision.agency.agency_id,
                agency_name=decision.agency.name,
                time_zone=decision.agency.time_zone,
                rule_id=decision.rule_id,
                reason=decision.reason,
                routed_at=routed_at,
            ),
            source=SOURCE,
            correlation_id=event.correlation_id,
            now=routed_at,
        )

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            await self._store.record(submitted.complaint_id, decision, routed_at, session=session)
            return None, [routed]

        if await self._uow.run_once(event, effect):
            decided_by = "fallback" if decision.rule_id == FALLBACK_RULE_ID else "rule"
            COMPLAINTS_ROUTED.labels(decision.agency.agency_id, decided_by).inc()
