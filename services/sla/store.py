"""MongoDB adapter of the SLA service: one clock per complaint and stage."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReplaceOne, ReturnDocument, UpdateMany, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from kernel.applied import not_yet_taken_in, taking_in
from kernel.mongo import Document, Session, keep_newer
from schemas.events import SlaDeadlineSet
from services.sla.timers import Phase

CLOCKS = "clocks"
CALENDAR_DAYS = "calendar_days"
STANDARDS = "standards"
COMPLAINTS = "complaints"
AGENCIES = "agencies"
# The events a complaint's record remembers having taken in: far more than one complaint sees
# between two copies of an event published twice.


# A change of existing clocks (an end, a meeting), written together with the clocks that start.
ClockChange = UpdateOne | UpdateMany


@dataclass(frozen=True)
class NewClock:
    """A clock about to start: its deadline, who holds it, and its first warning."""

    deadline: SlaDeadlineSet
    holder: str
    warn_at: datetime | None
    region_code: str | None
    unit_id: str | None = None


def _clock(clock: NewClock) -> dict[str, Any]:
    deadline = clock.deadline
    return {
        "_id": f"{deadline.complaint_id}:{deadline.stage.value}",
        **deadline.model_dump(mode="python"),
        "stage": deadline.stage.value,
        "holder": clock.holder,
        "state": "running",
        "phase": Phase.BEFORE_WARNING.value,
        "level": 0,
        "warn_at": clock.warn_at,
        "next_fire_at": clock.warn_at or deadline.due_at,
        "armed": True,
        "region_code": clock.region_code,
        "unit_id": clock.unit_id,
    }


def _ending(
    complaint_id: str, *, state: str, at: datetime, stages: list[str] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    query: dict[str, Any] = {"complaint_id": complaint_id, "state": "running"}
    if stages is not None:
        query["stage"] = {"$in": stages}
    return query, {"$set": {"state": state, "ended_at": at, "armed": False}}


class ClockStore:
    """Running and stopped clocks; due ones are found through the (state, due_at) index."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._clocks = db[CLOCKS]
        self._complaints = db[COMPLAINTS]
        self._days = db[CALENDAR_DAYS]
        self._standards = db[STANDARDS]
        self._agencies = db[AGENCIES]

    async def create_indexes(self) -> None:
        """Index the query that finds clocks falling due."""
        # "armed": running with something left to fire. Clocks with nothing left sit under
        # armed=false, outside the range the sweep scans, however many pile up.
        await self._clocks.create_index([("armed", ASCENDING), ("next_fire_at", ASCENDING)])
        await self._clocks.create_index([("complaint_id", ASCENDING)])
        await self._clocks.create_index([("agency_id", ASCENDING), ("stage", ASCENDING)])

    async def start_clocks(
        self,
        clocks: Sequence[NewClock],
        *,
        after: Sequence[ClockChange] = (),
        session: Session,
    ) -> None:
        """Start (or restart, after re-routing or resuming) clocks, in one write with the
        changes that end or meet others first: a status change is one round trip here."""
        starts = [ReplaceOne({"_id": doc["_id"]}, doc, upsert=True) for doc in map(_clock, clocks)]
        if after or starts:
            await self._clocks.bulk_write([*after, *starts], ordered=True, session=session)

    async def remember_complaint(
        self,
        complaint_id: str,
        *,
        region_code: str,
        report_type: str,
        caused_by: str,
        session: Session | None,
    ) -> None:
        """What the SLA needs to know of a submitted complaint."""
        await self._take_in(
            complaint_id,
            caused_by,
            {"region_code": region_code, "report_type": report_type},
            session=session,
        )

    async def keep_agency(self, agency_id: str, *, time_zone: str, directory_version: int) -> None:
        """Keep the zone of an agency as the newest directory describes it."""
        await keep_newer(
            self._agencies,
            agency_id,
            {"time_zone": time_zone, "directory_version": directory_version},
            order="directory_version",
        )

    async def agency_zones(self) -> dict[str, str]:
        """The time zone of every agency the directory described."""
        cursor = self._agencies.find({}, {"time_zone": 1})
        return {doc["_id"]: doc["time_zone"] async for doc in cursor}

    async def take_in(
        self, complaint_id: str, caused_by: str, *, session: Session | None
    ) -> dict[str, Any]:
        """Note that event ``caused_by`` is being applied to this complaint; what the SLA knows
        of it (one round trip for both)."""
        return await self._take_in(complaint_id, caused_by, {}, session=session)

    async def _take_in(
        self,
        complaint_id: str,
        caused_by: str,
        fields: dict[str, Any],
        *,
        session: Session | None,
    ) -> dict[str, Any]:
        """Apply ``fields`` for event ``caused_by``, which the complaint's record remembers:
        once it holds that event, the write collides on the complaint's key
        (``DuplicateKeyError``), so a repeated event changes nothing, without a processed mark
        of its own."""
        doc: dict[str, Any] | None = await self._complaints.find_one_and_update(
            {"_id": complaint_id, **not_yet_taken_in(caused_by)},
            taking_in({"$set": fields} if fields else {}, caused_by),
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        assert doc is not None  # an upsert returns the document it wrote
        return doc

    async def end_clocks(
        self,
        complaint_id: str,
        *,
        state: str,
        at: datetime,
        stages: list[str] | None = None,
        session: Session,
    ) -> int:
        """Stop running clocks (all, or some stages) of a complaint; returns how many."""
        result = await self._clocks.update_many(
            *_ending(complaint_id, state=state, at=at, stages=stages), session=session
        )
        return result.modified_count

    @staticmethod
    def ending(
        complaint_id: str, *, state: str, at: datetime, stages: list[str] | None = None
    ) -> ClockChange:
        """The change that stops running clocks (all, or some stages) of a complaint, to be
        written with the clocks that start (``start_clocks``)."""
        return UpdateMany(*_ending(complaint_id, state=state, at=at, stages=stages))

    @staticmethod
    def meeting(
        complaint_id: str, stage: str, *, remaining: int | None, at: datetime
    ) -> ClockChange:
        """The change that meets a running clock at ``at``, keeping the working days it had left
        (None: late); written with the clocks that start."""
        return UpdateOne(
            {"_id": f"{complaint_id}:{stage}", "state": "running"},
            {
                "$set": {
                    "state": "met",
                    "ended_at": at,
                    "armed": False,
                    "remaining_working_days": remaining,
                }
            },
        )

    async def running_clock(
        self, complaint_id: str, stage: str, *, session: Session
    ) -> dict[str, Any] | None:
        """A running clock of one stage."""
        return await self._clocks.find_one(
            {"_id": f"{complaint_id}:{stage}", "state": "running"}, session=session
        )

    async def pause(
        self, complaint_id: str, stage: str, *, remaining: int, at: datetime, session: Session
    ) -> bool:
        """Pause a running clock, keeping the working days it had left."""
        result = await self._clocks.update_one(
            {"_id": f"{complaint_id}:{stage}", "state": "running"},
            {
                "$set": {
                    "state": "paused",
                    "paused_at": at,
                    "remaining_working_days": remaining,
                    "armed": False,
                },
                "$unset": {"next_fire_at": ""},
            },
            session=session,
        )
        return result.modified_count == 1

    async def met_clock(
        self, complaint_id: str, stage: str, *, session: Session
    ) -> dict[str, Any] | None:
        """A met clock of one stage."""
        return await self._clocks.find_one(
            {"_id": f"{complaint_id}:{stage}", "state": "met"}, session=session
        )

    async def reopen(self, clock: dict[str, Any], *, session: Session) -> None:
        """A met clock runs again where it stood (its phase and level kept)."""
        await self._clocks.update_one(
            {"_id": clock["_id"], "state": "met"},
            {
                "$set": {"state": "running", "armed": clock.get("next_fire_at") is not None},
                "$unset": {"ended_at": "", "remaining_working_days": ""},
            },
            session=session,
        )

    async def paused_clock(
        self, complaint_id: str, stage: str, *, session: Session
    ) -> dict[str, Any] | None:
        """A paused clock of one stage."""
        return await self._clocks.find_one(
            {"_id": f"{complaint_id}:{stage}", "state": "paused"}, session=session
        )

    async def set_holder(
        self, complaint_id: str, holder: str, unit_id: str | None, *, session: Session
    ) -> None:
        """Who must act on the running agency clocks (a unit, after disposition)."""
        await self._clocks.update_many(
            {
                "complaint_id": complaint_id,
                "state": "running",
                "holder": {"$in": ["agency", "unit"]},
            },
            {"$set": {"holder": holder, "unit_id": unit_id}},
            session=session,
        )

    async def due(self, now: datetime, *, limit: int) -> list[dict[str, Any]]:
        """Running clocks whose next moment has come, found through the index.

        Unsorted on purpose: every due clock fires in the same sweep, so order does not matter,
        and a sort makes some engines fetch and sort every due clock for each batch.
        """
        cursor = self._clocks.find({"armed": True, "next_fire_at": {"$lte": now}}).limit(limit)
        return await cursor.to_list(None)

    async def advance_many(
        self,
        moves: list[tuple[dict[str, Any], str, int, datetime | None]],
        *,
        session: Session | None,
    ) -> bool:
        """Move many clocks past their firings in one round trip, each only if it still stands
        where it was read; False when any of them was moved by someone else meanwhile."""
        if not moves:
            return True
        requests = [
            UpdateOne(
                {
                    "_id": clock["_id"],
                    "state": "running",
                    "phase": clock["phase"],
                    "level": clock["level"],
                    "next_fire_at": clock["next_fire_at"],
                },
                {
                    "$set": {
                        "phase": phase,
                        "level": level,
                        "next_fire_at": next_fire_at,
                        "armed": next_fire_at is not None,
                    }
                },
            )
            for clock, phase, level, next_fire_at in moves
        ]
        result = await self._clocks.bulk_write(requests, ordered=False, session=session)
        return result.modified_count == len(moves)

    async def keep_standard(self, standard: dict[str, Any], *, session: Session) -> None:
        """Keep the publication of a standard in force: the last one published (earlier or
        repeated ones change nothing)."""
        kept = {name: value for name, value in standard.items() if name != "_id"}
        await keep_newer(
            self._standards, standard["_id"], kept, order="publication", session=session
        )

    async def standard(self, standard_id: str, *, session: Session) -> dict[str, Any] | None:
        """The version of a standard in force now."""
        return await self._standards.find_one({"_id": standard_id}, session=session)

    async def declared_days(self) -> list[dict[str, Any]]:
        """Every day admins declared, by date."""
        return await self._days.find({}, {"_id": 0}).sort("date", ASCENDING).to_list(None)

    async def declare_day(self, day: dict[str, Any]) -> None:
        """Add or replace a declared day (one per date and region)."""
        key = f"{day['date']}|{day['region_prefix']}"
        await self._days.replace_one({"_id": key}, {"_id": key, **day}, upsert=True)

    async def withdraw_day(self, date: str, region_prefix: str) -> bool:
        """Remove a declared day; False when there was none."""
        result = await self._days.delete_one({"_id": f"{date}|{region_prefix}"})
        return result.deleted_count == 1

    async def agency_clocks(self, agency_id: str | None) -> list[dict[str, Any]]:
        """The fields compliance figures need, of one agency's clocks or of all agencies'."""
        query: dict[str, Any] = {"stage": {"$in": ["completion", "first_follow_up"]}}
        if agency_id is not None:
            query["agency_id"] = agency_id
        fields = {
            "agency_id": 1,
            "unit_id": 1,
            "stage": 1,
            "state": 1,
            "due_at": 1,
            "started_at": 1,
            "ended_at": 1,
            "_id": 0,
        }
        return await self._clocks.find(query, fields).to_list(None)

    async def clocks_of(self, complaint_id: str) -> list[dict[str, Any]]:
        """Every clock of one complaint."""
        return await self._clocks.find({"complaint_id": complaint_id}).to_list(None)
