"""Standards use cases: drafts, publication (superseding the version in force), bulk import,
scores, and the complaint feedback each standard draws."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from kernel.metrics import STANDARDS_STORED
from kernel.mongo import Session, stored_precision
from kernel.unit_of_work import UnitOfWork
from schemas.complaint import Actor
from schemas.envelope import Event, new_event
from schemas.events import (
    ComplaintSubmission,
    StandardChecked,
    StandardPublished,
    StandardSuperseded,
)
from services.standards.domain import StandardCreate, completion_days, standard_id
from services.standards.scoring import StandardScore, Thresholds, score
from services.standards.store import StandardStore

SOURCE = "/lapor/standards"
DRAFT, PUBLISHED, SUPERSEDED = "draft", "published", "superseded"


class NotADraft(Exception):
    """Only a draft can be published (or edited)."""


class VersionNotFound(LookupError):
    """No such version of that standard."""


class StandardsService:
    """Registry writes, each with its events in the same transaction."""

    def __init__(self, *, store: StandardStore, uow: UnitOfWork, zones: Thresholds) -> None:
        self._store = store
        self._uow = uow
        self.zones = zones

    async def save(
        self, create: StandardCreate, actor: Actor, *, publish: bool, correlation_id: str
    ) -> dict[str, Any]:
        """A new version of the agency's service: a draft, or published at once."""
        now = stored_precision(datetime.now(UTC))

        async def effect(session: Session) -> tuple[dict[str, Any], Sequence[Event]]:
            return await self._save(create, actor, publish, now, correlation_id, session)

        doc = await self._uow.run(effect)
        STANDARDS_STORED.labels(create.agency_id).inc()
        return doc

    async def import_all(
        self,
        standards: list[StandardCreate],
        actor: Actor,
        *,
        publish: bool,
        correlation_id: str,
    ) -> list[dict[str, Any]]:
        """Every standard of an import, in one transaction: all of them or none."""
        now = stored_precision(datetime.now(UTC))

        async def effect(session: Session) -> tuple[list[dict[str, Any]], Sequence[Event]]:
            saved: list[dict[str, Any]] = []
            events: list[Event] = []
            for create in standards:
                doc, more = await self._save(create, actor, publish, now, correlation_id, session)
                saved.append(doc)
                events += more
            return saved, events

        saved = await self._uow.run(effect)
        for create in standards:
            STANDARDS_STORED.labels(create.agency_id).inc()
        return saved

    async def publish_draft(
        self, sid: str, version: int, actor: Actor, *, correlation_id: str
    ) -> dict[str, Any]:
        """Publish a draft; the version in force (if any) is superseded."""
        now = stored_precision(datetime.now(UTC))

        async def effect(session: Session) -> tuple[dict[str, Any], Sequence[Event]]:
            draft = await self._store.version(sid, version, session=session)
            if draft is None:
                raise VersionNotFound(f"{sid} has no version {version}")
            if draft["status"] != DRAFT:
                raise NotADraft(f"version {version} of {sid} is {draft['status']}")
            create = StandardCreate.model_validate(draft["content"])
            events = await self._make_current(
                sid, version, create, actor, now, correlation_id, session
            )
            return await self._store.version(sid, version, session=session) or {}, events

        return await self._uow.run(effect)

    async def _save(
        self,
        create: StandardCreate,
        actor: Actor,
        publish: bool,
        now: datetime,
        correlation_id: str,
        session: Session,
    ) -> tuple[dict[str, Any], list[Event]]:
        sid = standard_id(create.agency_id, create.service_name)
        version = await self._store.latest_version(sid, session=session) + 1
        doc = {
            "_id": f"{sid}@{version}",
            "standard_id": sid,
            "version": version,
            "status": DRAFT,
            "content": create.model_dump(mode="json"),
            "created_at": now,
            "created_by": _who(actor),
            "published_at": None,
            "published_by": None,
            "superseded_at": None,
        }
        await self._store.add_version(doc, session=session)
        events: list[Event] = []
        if publish:
            events = await self._make_current(
                sid, version, create, actor, now, correlation_id, session
            )
            doc = await self._store.version(sid, version, session=session) or doc
        return doc, events

    async def _make_current(
        self,
        sid: str,
        version: int,
        create: StandardCreate,
        actor: Actor,
        now: datetime,
        correlation_id: str,
        session: Session,
    ) -> list[Event]:
        events: list[Event] = []
        current = await self._store.get(sid, session=session)
        if current is not None:
            await self._store.mark_version(
                sid,
                current["version"],
                {"status": SUPERSEDED, "superseded_at": now, "superseded_by": version},
                session=session,
            )
            # Same key, before the publication: a compacted topic keeps the publication.
            events.append(
                self._event(
                    StandardSuperseded(
                        standard_id=sid,
                        agency_id=create.agency_id,
                        version=current["version"],
                        superseded_by=version,
                        superseded_at=now,
                    ),
                    correlation_id,
                    now,
                )
            )
        await self._store.mark_version(
            sid,
            version,
            {"status": PUBLISHED, "published_at": now, "published_by": _who(actor)},
            session=session,
        )
        search = " ".join(filter(None, (create.service_name, create.agency_name, create.agency_id)))
        await self._store.put(
            {
                "_id": sid,
                **create.model_dump(mode="json"),
                "version": version,
                "status": PUBLISHED,
                "published_at": now,
                "search": search.lower(),
            },
            session=session,
        )
        fee = create.delivery.fee
        events.append(
            self._event(
                StandardPublished(
                    standard_id=sid,
                    agency_id=create.agency_id,
                    service_name=create.service_name,
                    version=version,
                    completion_time_days=completion_days(create.delivery.completion_time),
                    fee_idr=0 if fee.free else fee.amount_idr,
                    unit_id=create.unit_id,
                    region_code=create.region_code,
                    published_at=now,
                ),
                correlation_id,
                now,
            )
        )
        return events

    @staticmethod
    def _event(payload: Any, correlation_id: str, now: datetime) -> Event:
        return new_event(payload, source=SOURCE, correlation_id=correlation_id, now=now)

    async def get(self, sid: str) -> dict[str, Any] | None:
        """The version in force."""
        return await self._store.get(sid)

    async def versions(self, sid: str) -> list[dict[str, Any]]:
        """Every version, newest first."""
        return await self._store.versions(sid)

    async def search(
        self,
        *,
        agency_id: str | None = None,
        region_code: str | None = None,
        keyword: str | None = None,
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        """Standards in force."""
        return await self._store.search(
            agency_id=agency_id,
            region_code=region_code,
            keyword=keyword,
            limit=limit,
            offset=offset,
        )

    def score_of(self, doc: dict[str, Any], *, published: bool) -> StandardScore:
        """The score of a stored standard (in force, or a version's content)."""
        content = doc.get("content", doc)
        create = StandardCreate.model_validate(
            {k: v for k, v in content.items() if k in StandardCreate.model_fields}
        )
        sid = doc.get("standard_id") or doc["_id"]
        return score(sid, create, published=published, zones=self.zones)

    async def scores(self, *, agency_id: str | None = None) -> list[tuple[str, StandardScore]]:
        """(agency, score) of every standard in force, optionally of one agency."""
        docs = (
            await self._store.search(agency_id=agency_id, limit=100_000, offset=0)
            if agency_id
            else await self._store.all_in_force()
        )
        return [(doc["agency_id"], self.score_of(doc, published=True)) for doc in docs]

    async def feedback(self, standard_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Complaints and violations per standard."""
        return await self._store.feedback(standard_ids)

    async def on_submitted(self, event: Event[ComplaintSubmission]) -> None:
        """A complaint about a standard counts against it."""
        submitted = event.data
        sid = submitted.service_standard_id
        if sid is None:
            return

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            await self._store.count_complaint(sid, session=session)
            return None, ()

        await self._uow.run_once(event, effect)

    async def on_standard_checked(self, event: Event[StandardChecked]) -> None:
        """The SLA service found the experience broke the standard's promise."""
        checked = event.data
        if not checked.violations:
            return

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            await self._store.count_violations(
                checked.standard_id, list(checked.violations), session=session
            )
            return None, ()

        await self._uow.run_once(event, effect)


def _who(actor: Actor) -> str:
    return f"{actor.role.value}:{actor.subject}"
