"""Routing use case: decide the agency for a submitted complaint and announce it."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Literal

from kernel.logging import get_logger
from kernel.metrics import COMPLAINTS_ROUTED, REROUTES_GIVEN_UP
from kernel.mongo import Session
from kernel.unit_of_work import UnitOfWork
from schemas.complaint import LifecycleAction
from schemas.envelope import Event, new_event
from schemas.events import ComplaintRouted, ComplaintStatusChanged, ComplaintSubmitted
from services.routing.domain import (
    FALLBACK_RULE_ID,
    Decision,
    Directory,
    NoAgencyLeft,
    decide,
    honour_choice,
)
from services.routing.store import RoutingStore

SOURCE = "/lapor/routing"
MAX_REROUTES = 3

log = get_logger(__name__)


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
        category, region = submitted.category, submitted.region_code
        choice: Literal["honoured", "declined"] | None = None
        decision = None
        if submitted.chosen_agency_id is not None:
            decision = honour_choice(
                directory, submitted.chosen_agency_id, category=category, region_code=region
            )
            choice = "honoured" if decision is not None else "declined"
        if decision is None:
            decision = decide(directory, category=category, region_code=region)
        routed_at = datetime.now(UTC)
        routed = self._routed(submitted.complaint_id, decision, routed_at, event, choice=choice)

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            await self._store.record(
                submitted.complaint_id,
                decision,
                routed_at,
                category=submitted.category,
                region_code=submitted.region_code,
                excluded=[],
                reroutes=0,
                session=session,
            )
            return None, [routed]

        if await self._uow.run_once(event, effect):
            decided_by = "fallback" if decision.rule_id == FALLBACK_RULE_ID else "rule"
            COMPLAINTS_ROUTED.labels(decision.agency.agency_id, decided_by).inc()

    async def on_status_changed(self, event: Event) -> None:
        """Bukan Wewenang: decide again without the agencies that bounced it ("no wrong door").

        After MAX_REROUTES automatic re-routes, or when every candidate has bounced it, the
        complaint stays with the national admin, who re-routes it by hand.
        """
        changed = event.data
        assert isinstance(changed, ComplaintStatusChanged)
        if changed.action is not LifecycleAction.BOUNCE or changed.agency_id is None:
            return
        bounced_by = changed.agency_id
        decided: list[Decision] = []

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            decided.clear()
            earlier = await self._store.decision(changed.complaint_id, session=session)
            if earlier is None:
                log.info("bounce_of_unrouted_complaint_left_to_admin")
                return None, ()
            excluded = sorted({*earlier.get("excluded", []), bounced_by})
            if earlier.get("reroutes", 0) >= MAX_REROUTES:
                log.warning("reroute_loop_left_to_admin", excluded=excluded)
                REROUTES_GIVEN_UP.labels("too_many").inc()
                return None, ()
            try:
                decision = decide(
                    await self._store.directory(),
                    category=earlier["category"],
                    region_code=earlier["region_code"],
                    exclude=frozenset(excluded),
                )
            except NoAgencyLeft:
                log.warning("no_agency_left_for_reroute", excluded=excluded)
                REROUTES_GIVEN_UP.labels("no_agency_left").inc()
                return None, ()
            routed_at = changed.changed_at
            await self._store.record(
                changed.complaint_id,
                decision,
                routed_at,
                category=earlier["category"],
                region_code=earlier["region_code"],
                excluded=excluded,
                reroutes=earlier.get("reroutes", 0) + 1,
                session=session,
            )
            decided.append(decision)
            return None, [self._routed(changed.complaint_id, decision, routed_at, event)]

        if await self._uow.run_once(event, effect):
            for decision in decided:
                COMPLAINTS_ROUTED.labels(decision.agency.agency_id, "reroute").inc()

    @staticmethod
    def _routed(
        complaint_id: str,
        decision: Decision,
        at: datetime,
        cause: Event,
        *,
        choice: Literal["honoured", "declined"] | None = None,
    ) -> Event:
        return new_event(
            ComplaintRouted(
                complaint_id=complaint_id,
                agency_id=decision.agency.agency_id,
                agency_name=decision.agency.name,
                time_zone=decision.agency.time_zone,
                rule_id=decision.rule_id,
                reason=decision.reason,
                reporter_choice=choice,
                routed_at=at,
            ),
            source=SOURCE,
            correlation_id=cause.correlation_id,
            now=at,
        )
