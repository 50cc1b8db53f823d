"""Routing use case: decide the agency for a submitted complaint and announce it."""

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from kernel.applied import APPLIED, took_in
from kernel.logging import get_logger
from kernel.metrics import (
    COMPLAINTS_ROUTED,
    REROUTES_GIVEN_UP,
    ROUTING_DELAY,
    ROUTING_DIRECTORY_CHANGES,
)
from kernel.mongo import Session, stored_precision
from kernel.unit_of_work import UnitOfWork
from schemas.complaint import Actor, LifecycleAction, ReportType, Role
from schemas.envelope import Event, new_event
from schemas.events import (
    ComplaintRouted,
    ComplaintStatusChanged,
    ComplaintSubmission,
    StandardPublished,
)
from services.routing.domain import (
    FALLBACK_RULE_ID,
    Decision,
    Directory,
    NoAgencyLeft,
    Rule,
    Subject,
    agency_changes,
    decide,
    honour_choice,
    owner_rule,
)
from services.routing.store import RoutingStore, VersionConflict

SOURCE = "/lapor/routing"
MAX_REROUTES = 3
BY_HAND = frozenset({LifecycleAction.FORWARD, LifecycleAction.REROUTE})

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


class DirectoryEditor:
    """Admin edits of the rule table: validated as a whole, versioned, audited."""

    def __init__(self, *, store: RoutingStore, uow: UnitOfWork) -> None:
        self._store = store
        self._uow = uow

    async def change(
        self,
        edit: Callable[[Directory], Directory],
        *,
        change: dict[str, Any],
        actor: Actor,
        expected_version: int | None,
        now: datetime | None = None,
    ) -> Directory:
        """Apply ``edit`` to the directory in force; raises ``VersionConflict`` when it is not
        at ``expected_version`` (or changes meanwhile) and ``ValidationError`` when the result
        is inconsistent. Takes effect in every instance within the directory cache time."""
        at = stored_precision(now or datetime.now(UTC))

        async def effect(session: Session) -> tuple[Directory, Sequence[Event]]:
            current = await self._store.directory(fresh=True)
            if expected_version is not None and current.version != expected_version:
                raise VersionConflict(current.version)
            following = edit(current)
            await self._store.replace(
                current,
                following,
                changed_by=f"{actor.role.value}:{actor.subject}",
                changed_at=at,
                change=change,
                session=session,
            )
            return following, _announced(current, following, at)

        following = await self._uow.run(effect)
        ROUTING_DIRECTORY_CHANGES.labels(change["kind"]).inc()
        log.info("routing_directory_changed", version=following.version, **change)
        return following

    async def announce(self, *, now: datetime | None = None) -> None:
        """Publish every agency of the directory in force (at start: the topic is compacted and
        consumers keep the newest version, so a repeat costs nothing and a lost or new topic is
        filled again)."""
        at = stored_precision(now or datetime.now(UTC))
        directory = await self._store.directory(fresh=True)

        async def effect(session: Session) -> tuple[int, Sequence[Event]]:
            events = _announced(None, directory, at)
            return len(events), events

        count = await self._uow.run(effect)
        log.info("agencies_announced", agencies=count, version=directory.version)


class RoutingService:
    """Turns "submitted" into "routed", once per complaint event."""

    def __init__(self, *, store: RoutingStore, uow: UnitOfWork) -> None:
        self._store = store
        self._uow = uow

    async def on_submitted(self, event: Event[ComplaintSubmission]) -> None:
        """Assign the agency (or propose it) and publish the decision with its reason."""
        submitted = event.data
        directory = await self._store.directory()
        subject = Subject(
            category=submitted.category,
            region_code=submitted.region_code,
            report_type=submitted.report_type,
            service_standard_id=submitted.service_standard_id,
            at=submitted.submitted_at,
        )
        decided: list[Decision] = []

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            # The owner is read in the transaction: a standard published earlier in the same
            # batch of events is already there.
            choice: Literal["honoured", "declined"] | None = None
            decision = None
            extra = await self._owner_rules(
                directory, submitted.service_standard_id, session=session
            )
            if submitted.chosen_agency_id is not None:
                decision = honour_choice(directory, submitted.chosen_agency_id, subject)
                choice = "honoured" if decision is not None else "declined"
            if decision is None:
                decision = decide(directory, subject, extra=extra)
            decided[:] = [decision]
            routed_at = datetime.now(UTC)
            routed = self._routed(submitted.complaint_id, decision, routed_at, event, choice=choice)
            await self._store.record(
                submitted.complaint_id,
                decision,
                routed_at,
                subject=_stored(subject),
                excluded=[],
                reroutes=0,
                caused_by=event.id,
                session=session,
            )
            return None, [routed]

        # No processed mark: the decision is kept per complaint with the events it was taken
        # for, so a repeated submission collides with it (``RoutingStore.record``).
        if await self._uow.run_unless_stored(effect):
            for decision in decided:
                COMPLAINTS_ROUTED.labels(decision.agency.agency_id, _decided_by(decision)).inc()
            waited = datetime.now(UTC) - submitted.submitted_at
            ROUTING_DELAY.observe(max(waited.total_seconds(), 0.0))

    async def on_status_changed(self, event: Event[ComplaintStatusChanged]) -> None:
        """Bukan Wewenang: decide again without the agencies that bounced it ("no wrong door").
        A forward by the national admin settles a proposed decision (kept for the audit).

        After MAX_REROUTES automatic re-routes, or when every candidate has bounced it, the
        complaint stays with the national admin, who re-routes it by hand.
        """
        changed = event.data
        if changed.action in BY_HAND and changed.actor_role is Role.NATIONAL_ADMIN:
            await self._settled_by_admin(changed, event)
            return
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
            if took_in(earlier, event.id):
                return None, ()  # this bounce was decided on already
            excluded = sorted({*earlier.get("excluded", []), bounced_by})
            if earlier.get("reroutes", 0) >= MAX_REROUTES:
                log.warning("reroute_loop_left_to_admin", excluded=excluded)
                REROUTES_GIVEN_UP.labels("too_many").inc()
                return None, ()
            subject = Subject(
                category=earlier["category"],
                region_code=earlier["region_code"],
                report_type=ReportType(earlier["report_type"]),
                service_standard_id=earlier.get("service_standard_id"),
                at=changed.changed_at,
            )
            directory = await self._store.directory()
            extra = await self._owner_rules(directory, subject.service_standard_id, session=session)
            try:
                decision = decide(directory, subject, exclude=frozenset(excluded), extra=extra)
            except NoAgencyLeft:
                log.warning("no_agency_left_for_reroute", excluded=excluded)
                REROUTES_GIVEN_UP.labels("no_agency_left").inc()
                return None, ()
            routed_at = changed.changed_at
            await self._store.record(
                changed.complaint_id,
                decision,
                routed_at,
                subject=_stored(subject),
                excluded=excluded,
                reroutes=earlier.get("reroutes", 0) + 1,
                caused_by=event.id,
                applied=earlier.get(APPLIED, ()),
                session=session,
            )
            decided.append(decision)
            return None, [self._routed(changed.complaint_id, decision, routed_at, event)]

        if await self._uow.run_unless_stored(effect):
            for decision in decided:
                COMPLAINTS_ROUTED.labels(decision.agency.agency_id, "reroute").inc()

    async def on_standard_published(self, event: Event[StandardPublished]) -> None:
        """Remember who publishes each service standard: complaints about it go there."""
        published = event.data

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            await self._store.set_owner(
                published.standard_id,
                published.agency_id,
                published.unit_id,
                published.version,
                published.publication(),
                session=session,
            )
            return None, ()

        await self._uow.run(effect)  # an earlier publication arriving again changes nothing

    async def _owner_rules(
        self, directory: Directory, standard_id: str | None, *, session: Session
    ) -> list[Rule]:
        if standard_id is None:
            return []
        owner = await self._store.owner(standard_id, session=session)
        if owner is None:
            return []
        rule = owner_rule(directory, standard_id, owner["agency_id"], owner.get("unit_id"))
        return [rule] if rule is not None else []

    async def _settled_by_admin(self, changed: ComplaintStatusChanged, event: Event) -> None:
        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            earlier = await self._store.decision(changed.complaint_id, session=session)
            if earlier is None:
                return None, ()
            await self._store.confirm(
                changed.complaint_id,
                {
                    "agency_id": changed.agency_id,
                    "changed": changed.agency_id != earlier["agency_id"],
                    "at": changed.changed_at,
                    "action": changed.action.value,
                },
                caused_by=event.id,
                session=session,
            )
            return None, ()

        await self._uow.run(effect)  # noting the same settlement twice notes it once

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
                unit_id=decision.unit_id,
                agency_units=list(decision.agency.unit_ids),
                alternatives=list(decision.alternatives),
                confidence=decision.confidence,
                directory_version=decision.directory_version,
                proposal=decision.proposal,
                routed_at=at,
            ),
            source=SOURCE,
            correlation_id=cause.correlation_id,
            now=at,
        )


def _announced(before: Directory | None, after: Directory, at: datetime) -> list[Event]:
    """The agency events an edit (or, with no ``before``, the whole directory) publishes."""
    return [
        new_event(payload, source=SOURCE, correlation_id=f"directory-{after.version}")
        for payload in agency_changes(before, after, at)
    ]


def _decided_by(decision: Decision) -> str:
    if decision.proposal:
        return "proposal"
    return "fallback" if decision.rule_id == FALLBACK_RULE_ID else "rule"


def _stored(subject: Subject) -> dict[str, Any]:
    return {
        "category": subject.category,
        "region_code": subject.region_code,
        "report_type": subject.report_type.value,
        "service_standard_id": subject.service_standard_id,
    }
