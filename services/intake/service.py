"""Intake use cases: submit, look up, act on a complaint, support and rate it, reflect outcomes."""

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from kernel.applied import taking_in, took_in
from kernel.clock import Clock
from kernel.group_commit import GroupCommit
from kernel.logging import get_logger
from kernel.metrics import COMPLAINTS_RECEIVED, INTEGRATION_SUBMISSIONS, REPORTER_ERASURES
from kernel.mongo import Session, stored_precision
from kernel.sealing import report_sealed
from kernel.subscriptions import RejectedEvent
from kernel.unit_of_work import UnitOfWork
from schemas.complaint import Actor, ComplaintStatus, LifecycleAction, Role
from schemas.complaint import LifecycleAction as A
from schemas.envelope import Event, new_event
from schemas.events import (
    ComplaintMerged,
    ComplaintReporterErased,
    ComplaintRouted,
    ComplaintSubmission,
    ComplaintSupported,
    SlaBreached,
    SlaDeadlineSet,
    SlaEscalated,
    SlaWindowExpired,
    StandardChecked,
)
from services.intake.catalog import ServiceCatalog
from services.intake.directory import AgencyDirectory
from services.intake.domain import (
    ComplaintCreate,
    annotation,
    duplicate_report,
    merged_updates,
    new_record,
    new_tracking_id,
    route_proposal,
    state_of,
    status_changed_event,
    submitted_event,
    transition_update,
)
from services.intake.duplicates import WINDOW as DUPLICATE_WINDOW
from services.intake.duplicates import likely_duplicates, regency_of
from services.intake.lifecycle import (
    ENDED_STATUSES,
    OPEN_STATUSES,
    Command,
    IllegalTransition,
    apply,
    retention_cutoff,
)
from services.intake.recent import JustFiled, RecentReports
from services.intake.reporter_keys import ReporterKeys
from services.intake.store import ComplaintStore
from services.intake.views import is_own, is_public, public_snapshot

SOURCE = "/lapor/intake"
# Who asks, in complaint.reporter_erased, when the retention period ends.
RETENTION = "retention"
ROUTING_ACTOR = Actor(Role.SYSTEM, "routing")
SLA_ACTOR = Actor(Role.SYSTEM, "sla")
ROUTING_ACTIONS = {
    ComplaintStatus.SUBMITTED: LifecycleAction.FORWARD,
    ComplaintStatus.BOUNCED: LifecycleAction.REROUTE,
}
RATEABLE = frozenset({ComplaintStatus.ANSWERED, ComplaintStatus.CLOSED})

log = get_logger(__name__)


def _event_time(payload: SlaBreached | SlaEscalated | SlaWindowExpired) -> datetime:
    if isinstance(payload, SlaWindowExpired):
        return stored_precision(payload.expired_at)
    if isinstance(payload, SlaBreached):
        return stored_precision(payload.breached_at)
    return stored_precision(payload.escalated_at)


def public_snapshots(record: dict[str, Any], correlation_id: str) -> list[Event]:
    """The public stream's event for a record, when the record is public at all."""
    if not is_public(record):
        return []
    return [new_event(public_snapshot(record), source=SOURCE, correlation_id=correlation_id)]


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used for a different request."""


class ComplaintNotFound(LookupError):
    """No complaint has this tracking ID."""


class UnknownReference(Exception):
    """A field names something the platform does not know (the sender's to fix)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class DirectoryUnavailable(Exception):
    """Routing has not announced its directory to this intake yet (a first start)."""


class IntakeService:
    """Every write is one transaction with the events it causes."""

    def __init__(
        self,
        *,
        store: ComplaintStore,
        keys: ReporterKeys,
        uow: UnitOfWork,
        submissions: GroupCommit[dict[str, Any]],
        reply_window: timedelta,
        directory: AgencyDirectory,
        catalog: ServiceCatalog,
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock or Clock()
        self._store = store
        self._keys = keys
        self._directory = directory
        self._catalog = catalog
        self._uow = uow
        # New complaints arriving together share a transaction (each answered once stored).
        self._submissions = submissions
        self._reply_window = reply_window
        self._recent = RecentReports(store, window=DUPLICATE_WINDOW)
        self._just_filed = JustFiled()

    async def submit(
        self,
        create: ComplaintCreate,
        *,
        correlation_id: str,
        reporter_id: str | None = None,
        idempotency_key: str | None = None,
        integration_client: str | None = None,
        now: datetime | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Store the complaint and its "submitted" event together; returns (record, created).

        A retry carrying the same Idempotency-Key gets the complaint the first request created;
        an integration client's keys are its own (two apps may pick the same one).
        """
        if idempotency_key is not None and integration_client is not None:
            idempotency_key = f"client:{integration_client}:{idempotency_key}"
        standard = create.service_standard_id
        if standard is not None and not await self._catalog.is_published(standard):
            raise UnknownReference(
                "service_standard_id",
                f"no published service standard {standard} (GET /v1/public/standards on the "
                "standards service lists them)",
            )
        if idempotency_key is not None:
            earlier = await self._earlier(idempotency_key, create)
            if earlier is not None:
                return earlier, False
        submitted_at = stored_precision((now or self._clock.now()).astimezone(UTC))
        contact = create.reporter.model_dump(mode="json")
        for _ in range(3):
            complaint_id = new_tracking_id()
            # Sealed once under the report's own key: the record and the event hold the same
            # token, and neither opens once the key is destroyed.
            sealed = self._keys.issue(complaint_id).seal(contact) if any(contact.values()) else None
            record = new_record(
                complaint_id,
                create,
                submitted_at,
                idempotency_key=idempotency_key,
                reporter_id=reporter_id,
                integration_client=integration_client,
            )
            record["reporter"] = report_sealed(sealed) if sealed is not None else None
            event = new_event(
                submitted_event(
                    complaint_id,
                    create,
                    submitted_at,
                    sealed_reporter=sealed,
                    reporter_account=reporter_id,
                    integration_client=integration_client,
                ),
                source=SOURCE,
                correlation_id=correlation_id,
                now=submitted_at,
            )
            try:
                await self._submissions.write(record, [event])
            except DuplicateKeyError as exc:
                if idempotency_key is not None and "idempotency" in str(exc):
                    earlier = await self._earlier(idempotency_key, create)
                    if earlier is not None:
                        return earlier, False
                continue  # tracking-ID collision: draw another
            self._just_filed.add(record)
            COMPLAINTS_RECEIVED.labels(
                create.channel.value, create.report_type.value, create.region_code[:2]
            ).inc()
            if integration_client is not None:
                INTEGRATION_SUBMISSIONS.labels(integration_client).inc()
            log.info(
                "complaint_submitted",
                complaint_id=complaint_id,
                event_id=event.id,
                integration_client=integration_client,
            )
            return record, True
        raise RuntimeError("could not draw a free tracking ID")

    async def on_submitted(self, event: Event[ComplaintSubmission]) -> None:
        """Find the likely duplicates of a new complaint among the open ones filed before it.

        Here rather than in the POST: the lookup reads up to 200 recent complaints, which was
        more than half of a submission's time, and nobody needs the answer before an admin
        opens the complaint. Recomputing gives the same answer, so a redelivery needs no mark.
        """
        submitted = event.data
        record = self._just_filed.take(submitted.complaint_id) or await self._store.get(
            submitted.complaint_id
        )
        if record is None:
            return  # filed through another intake deployment: not ours to annotate
        nearby = await self._recent.before(
            category=record["category"],
            regency=regency_of(record["region_code"]),
            moment=record["submitted_at"],
            report=record,
        )
        candidates = [duplicate_report(doc) for doc in nearby if doc["_id"] != record["_id"]]
        found = [
            {"tracking_id": tracking_id, "score": score}
            for tracking_id, score in likely_duplicates(duplicate_report(record), candidates)
        ]
        if found != record.get("possible_duplicates", []):
            await self._store.set_possible_duplicates(record["_id"], found)

    async def _earlier(self, key: str, create: ComplaintCreate) -> dict[str, Any] | None:
        earlier = await self._store.by_idempotency_key(key)
        if earlier is not None and earlier["idempotency"]["fingerprint"] != create.fingerprint():
            raise IdempotencyConflict(key)
        return earlier

    async def get(self, tracking_id: str) -> dict[str, Any]:
        """A complaint by tracking ID."""
        record = await self._store.get(tracking_id)
        if record is None:
            raise ComplaintNotFound(tracking_id)
        return record

    async def submitted_by_client(
        self, client_id: str, *, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """What one integration client filed, newest first (its audit)."""
        return await self._store.find({"integration_client": client_id}, limit=limit, offset=offset)

    async def list(self, query: dict[str, Any], *, limit: int, offset: int) -> list[dict[str, Any]]:
        """Complaints matching a scope filter, newest first."""
        return await self._store.find(query, limit=limit, offset=offset)

    async def act(
        self,
        tracking_id: str,
        command: Command,
        actor: Actor,
        *,
        correlation_id: str,
        idempotency_key: str | None = None,
        fingerprint: str = "",
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Apply a lifecycle action; the change, its history entry and its event land together.

        The same action retried under the same Idempotency-Key (by the same person, on the same
        complaint) is applied once: the retry gets the complaint as it is, and nothing new.
        """
        moment = stored_precision((now or self._clock.now()).astimezone(UTC))
        scoped = (
            f"{tracking_id}|{actor.role.value}:{actor.subject}|{idempotency_key}"
            if idempotency_key is not None
            else None
        )

        async def effect(session: Session) -> tuple[dict[str, Any], Sequence[Event]]:
            record = await self._store.get(tracking_id, session=session)
            if record is None:
                raise ComplaintNotFound(tracking_id)
            if scoped is not None:
                earlier = await self._store.action_key(scoped, session=session)
                if earlier is not None:
                    if earlier["fingerprint"] != fingerprint:
                        raise IdempotencyConflict(idempotency_key)
                    return record, ()
                await self._store.remember_action_key(scoped, fingerprint, moment, session=session)
            confirmed = await self._named(_confirming_proposal(record, command))
            transition = apply(
                state_of(record), confirmed, actor, now=moment, reply_window=self._reply_window
            )
            update = transition_update(record, transition)
            if confirmed.action in (A.FORWARD, A.REROUTE):
                update["$set"]["route_proposal"] = None
            events: list[Event] = [
                new_event(
                    status_changed_event(tracking_id, transition),
                    source=SOURCE,
                    correlation_id=correlation_id,
                    now=moment,
                )
            ]
            if command.merge_into is not None:
                update["$set"]["merged_into"] = command.merge_into
                merged = await self._merge(record, command.merge_into, moment, session=session)
                events.append(new_event(merged, source=SOURCE, correlation_id=correlation_id))
                survivor = await self._store.get(command.merge_into, session=session)
                assert survivor is not None
                events += public_snapshots(survivor, correlation_id)
            updated = await self._store.apply(
                tracking_id, record["version"], update, session=session
            )
            events += public_snapshots(updated, correlation_id)
            return updated, events

        try:
            return await self._uow.run(effect)
        except DuplicateKeyError:
            if scoped is None:
                raise
            # The same key came twice at once and the other one won: this one is its retry.
            return await self._uow.run(effect)

    async def _named(self, command: Command) -> Command:
        """A forward or re-route by hand with the agency as the directory describes it; an
        agency the directory does not list is refused."""
        if command.action not in (A.FORWARD, A.REROUTE) or not command.agency_id:
            return command
        agency = await self._directory.find(command.agency_id)
        if agency is None:
            if not await self._directory.known():
                raise DirectoryUnavailable()
            raise IllegalTransition(
                "unknown_agency", f"the directory lists no agency {command.agency_id}", 422
            )
        return replace(command, agency_name=agency.name, agency_units=agency.unit_ids)

    async def _merge(
        self, duplicate: dict[str, Any], into: str, moment: datetime, *, session: Session
    ) -> ComplaintMerged:
        """Make the surviving complaint carry the duplicate's reporter and supporters."""
        if into == duplicate["_id"]:
            raise IllegalTransition(
                "merge_into_itself", "a complaint cannot merge into itself", 422
            )
        target = await self._store.get(into, session=session)
        if target is None:
            raise IllegalTransition("merge_target_not_found", f"no complaint {into}", 422)
        if ComplaintStatus(target["status"]) not in OPEN_STATUSES:
            raise IllegalTransition(
                "merge_target_closed", f"{into} is {target['status']}; merge into an open one", 422
            )
        followers = set(duplicate.get("followers", []))
        if duplicate.get("reporter_id"):
            followers.add(duplicate["reporter_id"])
        for citizen in await self._store.supporters_of(duplicate["_id"], session=session):
            await self._store.add_supporter(into, citizen, session=session)
        await self._store.update(
            into,
            {
                "$addToSet": {
                    "merged_from": duplicate["_id"],
                    "followers": {"$each": sorted(followers)},
                },
                "$inc": {"version": 1},
            },
            session=session,
        )
        return ComplaintMerged(
            complaint_id=into, merged_complaint_id=duplicate["_id"], merged_at=moment
        )

    async def support(
        self, tracking_id: str, actor: Actor, *, correlation_id: str
    ) -> dict[str, Any]:
        """One citizen supports a public report of someone else, once."""
        record = await self.get(tracking_id)
        if actor.role is not Role.CITIZEN:
            raise IllegalTransition("role_not_allowed", "only citizens support reports", 403)
        if not is_public(record):
            raise ComplaintNotFound(tracking_id)
        if is_own(record, actor):
            raise IllegalTransition("own_report", "reporters cannot support their own report", 422)
        now = stored_precision(self._clock.now())

        async def effect(session: Session) -> tuple[dict[str, Any], Sequence[Event]]:
            if not await self._store.add_supporter(tracking_id, actor.subject, session=session):
                raise IllegalTransition("already_supported", "you already support this report")
            updated = await self._store.get(tracking_id, session=session)
            assert updated is not None
            supported = new_event(
                ComplaintSupported(
                    complaint_id=tracking_id, supporter_account=actor.subject, supported_at=now
                ),
                source=SOURCE,
                correlation_id=correlation_id,
                now=now,
            )
            return updated, [supported, *public_snapshots(updated, correlation_id)]

        return await self._uow.run(effect)

    async def erase_reporter(
        self, tracking_id: str, actor: Actor, *, correlation_id: str
    ) -> dict[str, Any]:
        """Forget who filed the report and how to reach them, at the reporter's request or the
        national admin's; the report stays, as if filed anonim. A repeat changes nothing."""
        record = await self.get(tracking_id)
        own = is_own(record, actor)
        if not own and actor.role is not Role.NATIONAL_ADMIN:
            raise IllegalTransition(
                "not_your_complaint", "only the reporter or the national admin erases it", 403
            )
        if record.get("reporter_erased_at") is not None:
            return record
        requested_by = "reporter" if own else Role.NATIONAL_ADMIN.value
        erased = await self._erase(tracking_id, requested_by, correlation_id=correlation_id)
        assert erased is not None  # asked for: nothing guards it
        return erased

    async def erase_expired(self, *, retention: timedelta, limit: int = 100) -> int:
        """Destroy the contact details of reports that ended longer than ``retention`` ago,
        by the erasure path a reporter's request takes (UU 27/2022 Pasal 43-44); returns how
        many. A report re-opened meanwhile keeps them."""
        now = self._clock.now()
        ended_before = retention_cutoff(now, retention)
        expired = await self._store.ended_with_contact(
            ENDED_STATUSES, ended_before=ended_before, limit=limit
        )
        erased = 0
        for tracking_id in expired:
            done = await self._erase(
                tracking_id,
                RETENTION,
                correlation_id=f"retention-{now:%Y%m%d}",
                unless_changed=(ENDED_STATUSES, ended_before),
            )
            erased += done is not None
        return erased

    async def _erase(
        self,
        tracking_id: str,
        requested_by: str,
        *,
        correlation_id: str,
        unless_changed: tuple[Collection[str], datetime] | None = None,
    ) -> dict[str, Any] | None:
        """Destroy the report's data key and drop the contact details and account from the
        record, with the event that tells the other services, in one transaction; None when
        ``unless_changed`` no longer holds (nothing is written)."""
        now = stored_precision(self._clock.now())

        async def effect(session: Session) -> tuple[dict[str, Any] | None, Sequence[Event]]:
            updated = await self._store.erase_reporter(
                tracking_id, at=now, session=session, unless_changed=unless_changed
            )
            if updated is None:
                return None, ()
            await self._keys.destroy(tracking_id, session=session)
            erased = new_event(
                ComplaintReporterErased(
                    complaint_id=tracking_id, erased_at=now, requested_by=requested_by
                ),
                source=SOURCE,
                correlation_id=correlation_id,
                now=now,
            )
            return updated, [erased]

        erased = await self._uow.run(effect)
        self._keys.forget(tracking_id)  # a read during the transaction may have kept it
        if erased is not None:
            REPORTER_ERASURES.labels(requested_by).inc()
            log.info("reporter_erased", complaint_id=tracking_id, requested_by=requested_by)
        return erased

    async def rate(
        self, tracking_id: str, actor: Actor, *, score: int, comment: str | None
    ) -> dict[str, Any]:
        """The complainant rates the answer once it is given (1-5 and a comment)."""
        record = await self.get(tracking_id)
        if not is_own(record, actor):
            raise IllegalTransition("not_your_complaint", "only the reporter rates the answer", 403)
        if ComplaintStatus(record["status"]) not in RATEABLE:
            raise IllegalTransition("not_answered_yet", "a complaint is rated after its answer")
        rating = {
            "score": score,
            "comment": comment,
            "rated_at": stored_precision(self._clock.now()),
        }

        async def effect(session: Session) -> tuple[dict[str, Any], Sequence[Event]]:
            updated = await self._store.set_rating(tracking_id, rating, session=session)
            if updated is None:
                raise IllegalTransition("already_rated", "this answer was already rated")
            return updated, ()

        return await self._uow.run(effect)

    async def on_routed(self, event: Event[ComplaintRouted]) -> None:
        """Routing's decision forwards a submitted complaint (and to the rule's unit, if it names
        one), or re-routes a bounced one; a proposal (manual mode) is kept for the national
        admin, who confirms it by forwarding without naming an agency.

        A complaint that is no longer waiting (an admin deferred, rejected or forwarded it by
        hand first) keeps its course; the decision is recorded as ignored, not dead-lettered.
        """
        routed = event.data

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            record = await self._store.get(routed.complaint_id, session=session)
            if record is None:
                raise RejectedEvent(f"no complaint {routed.complaint_id!r} is stored here")
            if took_in(record, event.id):
                return None, ()
            # A first decision forwards; one after a Bukan Wewenang bounce re-routes. A complaint
            # an admin already moved on keeps its course.
            action = ROUTING_ACTIONS.get(ComplaintStatus(record["status"]))
            if action is None:
                log.info("routing_decision_ignored", status=record["status"])
                return None, ()
            if routed.proposal:
                proposal = route_proposal(routed)
                update: dict[str, Any] = {"$set": {"route_proposal": proposal}}
                if routed.reporter_choice is not None:
                    update["$set"]["reporter_choice"] = routed.reporter_choice
                await self._store.apply(
                    routed.complaint_id,
                    record["version"],
                    taking_in(update, event.id),
                    session=session,
                )
                return None, ()
            routed_to = Command(
                action,
                agency_id=routed.agency_id,
                agency_name=routed.agency_name,
                agency_units=tuple(routed.agency_units),
                reason=routed.reason,
            )
            transitions = [
                apply(
                    state_of(record),
                    routed_to,
                    ROUTING_ACTOR,
                    now=routed.routed_at,
                    reply_window=self._reply_window,
                )
            ]
            if routed.unit_id is not None and routed.unit_id in routed.agency_units:
                transitions.append(
                    apply(
                        transitions[0].state,
                        Command(A.FORWARD_TO_UNIT, unit_id=routed.unit_id, reason=routed.reason),
                        ROUTING_ACTOR,
                        now=routed.routed_at,
                        reply_window=self._reply_window,
                    )
                )
            update = transition_update(record, transitions)
            update["$set"]["route_proposal"] = None
            if routed.reporter_choice is not None:
                update["$set"]["reporter_choice"] = routed.reporter_choice
            updated = await self._store.apply(
                routed.complaint_id, record["version"], taking_in(update, event.id), session=session
            )
            changes = [
                new_event(
                    status_changed_event(routed.complaint_id, transition),
                    source=SOURCE,
                    correlation_id=event.correlation_id,
                    now=routed.routed_at,
                )
                for transition in transitions
            ]
            return None, [*changes, *public_snapshots(updated, event.correlation_id)]

        await self._uow.run(effect)

    async def on_window_expired(self, event: Event[SlaWindowExpired]) -> None:
        """The reply window passed without a reply: the complaint closes."""
        await self._sla_outcome(event, Command(LifecycleAction.AUTO_CLOSE))

    async def on_breach(self, event: Event[SlaBreached | SlaEscalated]) -> None:
        """A breach that reaches the national admin escalates the complaint; one that reaches
        the agency admin or an outside body is told to them (notify), with no status change."""
        payload = event.data
        if payload.escalate_to != "national_admin":
            return
        reason = f"{payload.stage.value} deadline passed"
        await self._sla_outcome(event, Command(LifecycleAction.ESCALATE, reason=reason))

    async def _sla_outcome(
        self, event: Event[SlaWindowExpired | SlaBreached | SlaEscalated], command: Command
    ) -> None:
        """Apply what the SLA service decided; a complaint that moved on meanwhile keeps its
        course."""
        payload = event.data

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            record = await self._store.get(payload.complaint_id, session=session)
            if record is None:
                raise RejectedEvent(f"no complaint {payload.complaint_id!r} is stored here")
            if took_in(record, event.id):
                return None, ()
            try:
                transition = apply(
                    state_of(record),
                    command,
                    SLA_ACTOR,
                    now=_event_time(payload),
                    reply_window=self._reply_window,
                )
            except IllegalTransition as exc:
                log.info("sla_outcome_not_applied", code=exc.code, status=record["status"])
                return None, ()
            updated = await self._store.apply(
                payload.complaint_id,
                record["version"],
                taking_in(transition_update(record, transition), event.id),
                session=session,
            )
            changed = new_event(
                status_changed_event(payload.complaint_id, transition),
                source=SOURCE,
                correlation_id=event.correlation_id,
            )
            return None, [changed, *public_snapshots(updated, event.correlation_id)]

        await self._uow.run(effect)

    async def on_standard_checked(self, event: Event[StandardChecked]) -> None:
        """Attach the standard in force, and any violation of it, to the complaint."""
        await self.on_annotations([event])

    async def on_deadline_set(self, event: Event[SlaDeadlineSet]) -> None:
        """Show the deadline the SLA service computed."""
        await self.on_annotations([event])

    async def on_annotations(self, events: Sequence[Event]) -> None:
        """What other services worked out about complaints (a deadline, the standard check),
        each shown on its complaint; consecutive ones are written together, in one write."""

        # No processed mark and no transaction of their own: each note sets fields to what the
        # event says, so a redelivery (which comes in partition order, with every later note of
        # the complaint after it) leaves the complaint as it was. In a consumer batch the write
        # joins the batch's transaction.
        updates = merged_updates([annotation(event.data) for event in events])
        if not await self._store.update_each(updates, session=self._uow.session()):
            missing = sorted({complaint_id for complaint_id, _ in updates})
            raise RejectedEvent(f"not every complaint of {missing} is stored here")


def _confirming_proposal(record: dict[str, Any], command: Command) -> Command:
    """A forward or re-route that names no agency confirms routing's proposal, if there is one
    (manual mode); otherwise the lifecycle asks for the agency."""
    proposal = record.get("route_proposal")
    if command.action not in (A.FORWARD, A.REROUTE) or command.agency_id or not proposal:
        return command
    return replace(
        command, agency_id=proposal["agency_id"], reason=command.reason or proposal["reason"]
    )
