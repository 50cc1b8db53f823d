"""MongoDB adapter of notify: complaint files (contacts), the officer directory, webhooks,
preferences, and the message log that is also the delivery queue and the in-app inbox."""

import time
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from kernel.applied import APPLIED, not_yet_taken_in, taking_in
from kernel.mongo import Document, Session, drop_index_if_present
from kernel.sealing import DataKey, Sealer, report_sealed, report_token
from schemas.complaint import ReporterContact
from schemas.events import RecipientRole
from services.notify.domain import (
    ERASED_TEXT,
    NAMES_THE_REPORTER,
    ComplaintFile,
    Officer,
    Preferences,
    struck,
)

FILES = "complaint_files"
OFFICERS = "officers"
WEBHOOKS = "webhooks"
PREFERENCES = "preferences"
MESSAGES = "messages"
QUEUE = "delivery_queue"
RATES = "delivery_rates"
UNUSED_LOG_INDEX = "channel_1_status_1_next_attempt_at_1"
RATE_WINDOW_SECONDS = 3600
# The IDs of the holder changes a complaint's file remembers having taken in: more than one
# complaint ever sees between two copies of an event published twice.

PENDING, RETRYING, SENDING, SENT, FAILED = "pending", "retrying", "sending", "sent", "failed"
CANCELLED = "cancelled"  # never sent: the reporter's data was erased first
WAITING = [PENDING, RETRYING]


def _to_reporter(message: dict[str, Any]) -> bool:
    return bool(message["recipient_role"] == RecipientRole.COMPLAINANT.value)


# What of a logged message may be personal (where it goes, and a text that names the reporter;
# never its subject: no template puts the reporter in its first line), and what each reads as
# once sealed under a destroyed key.
SHREDDED: dict[str, Any] = {"address": None, "body": ERASED_TEXT}


def _sealed_fields(message: dict[str, Any]) -> list[str]:
    """The fields of a message to seal under its report's key."""
    fields = ["address"] if _to_reporter(message) and message.get("address") else []
    if message.get("template") in NAMES_THE_REPORTER:
        fields.append("body")
    return fields


class KeySource(Protocol):
    """Where the data keys of reports come from (intake, through ``ReporterKeyClient``)."""

    async def find(self, complaint_ids: Iterable[str]) -> dict[str, DataKey]: ...

    def forget(self, complaint_id: str) -> None: ...


class NoKeys:
    """No key source: what was sealed under a report's key stays sealed (index creation,
    tools that read no personal data)."""

    async def find(self, complaint_ids: Iterable[str]) -> dict[str, DataKey]:
        return {}

    def forget(self, complaint_id: str) -> None:
        pass


class NotifyStore:
    """Personal data lives in files, officers and messages; nothing else here holds any.

    A reporter's contact details, in their complaint's file and as the address of each message
    to them, are sealed under the report's data key (``keys`` finds it), so that they stop
    opening, in this database and in its backups, once intake destroys the key. Records made
    before data keys existed are sealed under ``PII_KEYS`` (``sealer``).

    Who an agency's officers are and whether it has a webhook is read for every event that
    plans messages: kept in memory for ``directory_seconds`` (what this process writes takes
    effect at once; another replica's change within that time)."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        *,
        sealer: Sealer | None = None,
        keys: KeySource | None = None,
        directory_seconds: float = 0.0,
    ) -> None:
        self._sealer = sealer
        self._keys = keys or NoKeys()
        self._directory_seconds = directory_seconds
        # agency -> (read at, monotonic; its officers, whether it has a webhook)
        self._directory: dict[str, tuple[float, list[Officer], bool]] = {}
        self._files = db[FILES]
        self._officers = db[OFFICERS]
        self._webhooks = db[WEBHOOKS]
        self._preferences = db[PREFERENCES]
        self._messages = db[MESSAGES]
        self._queue = db[QUEUE]
        self._rates = db[RATES]

    async def create_indexes(self) -> None:
        """The queue (per channel, by due time), the log per complaint, inboxes, rate limits.

        The log has no index by channel, status and due time: senders claim from the queue, and
        every message written would pay for it; migrating drops it where earlier versions made
        it."""
        # A complaint's messages (GET /v1/complaints/{id}/notifications).
        await self._messages.create_index([("complaint_id", ASCENDING), ("recorded_at", ASCENDING)])
        # A recipient's inbox.
        await self._messages.create_index(
            [("recipient", ASCENDING), ("channel", ASCENDING), ("sent_at", DESCENDING)]
        )
        await drop_index_if_present(self._messages, UNUSED_LOG_INDEX)
        await self._queue.create_index(
            [("channel", ASCENDING), ("status", ASCENDING), ("next_attempt_at", ASCENDING)]
        )
        await self._queue.create_index("digest_id", sparse=True)
        # Hourly counters for the rate limit are dropped a day after their hour.
        await self._rates.create_index("at", expireAfterSeconds=24 * RATE_WINDOW_SECONDS)
        await self._officers.create_index([("agency_id", ASCENDING), ("unit_id", ASCENDING)])

    # complaint files

    async def save_file(self, file: ComplaintFile, *, session: Session | None) -> bool:
        """Remember how to reach the people of a complaint (once: a repeated submission leaves
        the file as later events made it); False when it was there already."""
        doc = asdict(file)
        token = doc.pop("sealed_reporter")
        if token is not None:
            doc["reporter"] = report_sealed(token)
        else:
            reporter = file.reporter.model_dump(mode="json")
            doc["reporter"] = self._sealer.seal(reporter) if self._sealer else reporter
        doc["supporters"] = list(file.supporters)
        doc["_id"] = doc.pop("complaint_id")
        result = await self._files.update_one(
            {"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True, session=session
        )
        return result.upserted_id is not None

    async def update_file(
        self,
        complaint_id: str,
        fields: dict[str, Any],
        *,
        event_id: str,
        session: Session | None,
    ) -> ComplaintFile | None:
        """Make the file say what event ``event_id`` says of who holds the complaint, unless the
        file already took it in (an event published twice comes again after newer ones, and
        must not undo them); the file as it is then (None: no file)."""
        doc = await self._files.find_one_and_update(
            {"_id": complaint_id, **not_yet_taken_in(event_id)},
            taking_in({"$set": fields}, event_id),
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        if doc is None:
            return await self.file(complaint_id, session=session)
        return await self._opened(doc)

    async def erase_reporter(
        self, complaint_id: str, *, at: datetime, session: Session | None
    ) -> None:
        """Forget a complaint's reporter: their contact and account leave its file (anonim
        from now on), the messages not yet sent to them are cancelled, and the addresses of all
        messages to them are struck from the log. Each write may be repeated."""
        # Rendered messages name the reporter (the agency's notice of a report that is not
        # anonim). A repeat finds them struck already and writes the same again.
        rendered = await self._messages.find(
            {"complaint_id": complaint_id, "template": {"$in": sorted(NAMES_THE_REPORTER)}},
            {"template": 1},
            session=session,
        ).to_list(None)
        changes = [(m["_id"], struck(m)) for m in rendered]
        writes = [UpdateOne({"_id": i}, {"$set": c}) for i, c in changes if c is not None]
        if writes:
            await self._messages.bulk_write(writes, ordered=False, session=session)
        empty = ReporterContact().model_dump(mode="json")
        await self._files.update_one(
            {"_id": complaint_id},
            {
                "$set": {
                    "reporter": self._sealer.seal(empty) if self._sealer else empty,
                    "reporter_account": None,
                    "anonymous": True,
                }
            },
            session=session,
        )
        theirs = {"complaint_id": complaint_id, "recipient_role": RecipientRole.COMPLAINANT.value}
        unsent = await self._messages.find(
            {**theirs, "status": {"$in": [*WAITING, SENDING]}}, {"_id": 1}, session=session
        ).to_list(None)
        ids = [doc["_id"] for doc in unsent]
        if ids:
            # Whatever its queue state: one a sender has on the wire right now is recorded as
            # sent when it returns, the others never go.
            await self._queue.delete_many({"_id": {"$in": ids}}, session=session)
            await self._messages.update_many(
                {"_id": {"$in": ids}, "status": {"$in": [*WAITING, SENDING]}},
                {"$set": {"status": CANCELLED, "cancelled_at": at}},
                session=session,
            )
        await self._messages.update_many(theirs, {"$set": {"address": None}}, session=session)

    async def add_supporter(
        self, complaint_id: str, account: str, *, session: Session | None
    ) -> None:
        """A supporter hears about the report's progress."""
        await self._files.update_one(
            {"_id": complaint_id}, {"$addToSet": {"supporters": account}}, session=session
        )

    async def file(self, complaint_id: str, *, session: Session | None) -> ComplaintFile | None:
        """The stored file of a complaint."""
        doc = await self._files.find_one({"_id": complaint_id}, session=session)
        return await self._opened(doc)

    async def _opened(self, doc: dict[str, Any] | None) -> ComplaintFile | None:
        if doc is None:
            return None
        doc["complaint_id"] = complaint_id = doc.pop("_id")
        token = report_token(doc["reporter"])
        if token is not None:
            doc["reporter"] = await self.reporter_of(complaint_id, token)
        else:
            reporter = self._sealer.open(doc["reporter"]) if self._sealer else doc["reporter"]
            doc["reporter"] = ReporterContact.model_validate(reporter or {})
        doc["sealed_reporter"] = token
        doc["supporters"] = tuple(doc.get("supporters", ()))
        doc.pop(APPLIED, None)
        return ComplaintFile(**doc)

    async def reporter_of(self, complaint_id: str, sealed: str) -> ReporterContact:
        """Contact details sealed under a report's data key, opened (none once it is gone)."""
        key = (await self._keys.find([complaint_id])).get(complaint_id)
        return ReporterContact.model_validate(key.open(sealed) if key is not None else {})

    def forget_key(self, complaint_id: str) -> None:
        """Drop a report's data key from memory (its reporter's data was erased)."""
        self._keys.forget(complaint_id)

    async def _sealed(
        self, messages: Sequence[dict[str, Any]], *, reporter_keyed: bool
    ) -> list[dict[str, Any]]:
        """Messages as the log keeps them. Under the report's data key when it has one
        (``reporter_keyed``): the address of a message to the reporter (their e-mail or phone
        is theirs, not the log's to show), and the text of one that names them (to officers,
        of a report that is not anonim); otherwise the address under ``PII_KEYS``."""
        personal = [_sealed_fields(m) if reporter_keyed else [] for m in messages]
        wanted = {m["complaint_id"] for m, fields in zip(messages, personal, strict=True) if fields}
        keys = await self._keys.find(wanted) if wanted else {}
        sealed = []
        for message, fields in zip(messages, personal, strict=True):
            key = keys.get(message["complaint_id"]) if fields else None
            address = message.get("address")
            if key is not None:
                message = {**message, **{f: report_sealed(key.seal(message[f])) for f in fields}}
            elif address is not None and self._sealer is not None:
                message = {**message, "address": self._sealer.seal(address)}
            sealed.append(message)
        return sealed

    async def _opened_messages(self, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Messages with what was sealed opened. Once the report's key is destroyed, an address
        reads as none, and a text as what erasure leaves of it."""
        tokens = [{f: t for f in SHREDDED if (t := report_token(m.get(f)))} for m in messages]
        wanted = {m["complaint_id"] for m, sealed in zip(messages, tokens, strict=True) if sealed}
        keys = await self._keys.find(wanted) if wanted else {}
        opened = []
        for message, sealed in zip(messages, tokens, strict=True):
            message = dict(message)
            key = keys.get(message["complaint_id"])
            for field, token in sealed.items():
                message[field] = key.open(token) if key is not None else SHREDDED[field]
            address = message.get("address")
            if "address" not in sealed and address is not None:
                message["address"] = self._sealer.open(address) if self._sealer else address
            opened.append(message)
        return opened

    async def _opened_message(self, message: dict[str, Any]) -> dict[str, Any]:
        [opened] = await self._opened_messages([message])
        return opened

    def _rate_key(self, subject: str, channel: str, moment: datetime) -> str:
        """The hour's counter of one person on one channel: keyed by a fingerprint of the
        address, which does not show the address."""
        who = self._sealer.fingerprint(subject) if self._sealer else subject
        return f"{who}|{channel}|{moment:%Y%m%d%H}"

    # officers, webhooks, preferences

    async def put_officer(self, officer: Officer) -> None:
        """Add or replace an officer."""
        doc = officer.model_dump(mode="json")
        doc["_id"] = doc["officer_id"]
        previous = await self._officers.find_one_and_replace(
            {"_id": doc["_id"]}, doc, {"agency_id": 1}, upsert=True
        )
        self._directory.pop(officer.agency_id, None)
        if previous is not None:  # moved from another agency
            self._directory.pop(previous.get("agency_id", ""), None)

    async def remove_officer(self, officer_id: str) -> bool:
        """Drop an officer; False when there was none."""
        removed = await self._officers.find_one_and_delete({"_id": officer_id}, {"agency_id": 1})
        if removed is None:
            return False
        self._directory.pop(removed.get("agency_id", ""), None)
        return True

    async def officer(self, officer_id: str) -> Officer | None:
        """One officer."""
        doc = await self._officers.find_one({"_id": officer_id}, {"_id": 0})
        return Officer.model_validate(doc) if doc else None

    async def officers_of(self, agency_id: str, *, session: Session | None = None) -> list[Officer]:
        """Every officer of an agency and of its units."""
        cursor = self._officers.find({"agency_id": agency_id}, {"_id": 0}, session=session)
        return [Officer.model_validate(doc) async for doc in cursor]

    async def put_webhook(self, agency_id: str, url: str, secret: str) -> None:
        """Register (or replace) an agency's webhook endpoint."""
        await self._webhooks.replace_one(
            {"_id": agency_id}, {"_id": agency_id, "url": url, "secret": secret}, upsert=True
        )
        self._directory.pop(agency_id, None)

    async def endpoint(self, agency_id: str) -> tuple[str, str] | None:
        """``(url, secret)`` of an agency's webhook."""
        doc = await self._webhooks.find_one({"_id": agency_id})
        return (doc["url"], doc["secret"]) if doc else None

    async def agencies_with_webhooks(
        self, agency_ids: Sequence[str], *, session: Session | None = None
    ) -> frozenset[str]:
        """Which of these agencies registered a webhook."""
        cursor = self._webhooks.find(
            {"_id": {"$in": list(agency_ids)}}, {"_id": 1}, session=session
        )
        return frozenset([doc["_id"] async for doc in cursor])

    async def agency_audience(self, agency_id: str) -> tuple[list[Officer], bool]:
        """An agency's officers (its units' included) and whether it registered a webhook,
        from memory when read within ``directory_seconds``."""
        known = self._directory.get(agency_id)
        if known is not None and time.monotonic() - known[0] < self._directory_seconds:
            return known[1], known[2]
        read_at = time.monotonic()
        officers = await self.officers_of(agency_id)
        webhook = bool(await self.agencies_with_webhooks([agency_id]))
        if self._directory_seconds > 0:
            self._directory[agency_id] = (read_at, officers, webhook)
        return officers, webhook

    async def put_preferences(self, account: str, preferences: Preferences) -> None:
        """A citizen's choices."""
        doc = preferences.model_dump(mode="json") | {"_id": account}
        await self._preferences.replace_one({"_id": account}, doc, upsert=True)

    async def preferences(
        self, accounts: Sequence[str], *, session: Session | None = None
    ) -> dict[str, Preferences]:
        """The stored choices of these citizens."""
        cursor = self._preferences.find({"_id": {"$in": list(accounts)}}, session=session)
        found: dict[str, Preferences] = {}
        async for doc in cursor:
            account = doc.pop("_id")
            found[account] = Preferences.model_validate(doc)
        return found

    # messages: log, queue, inbox

    async def record(
        self,
        docs: Sequence[dict[str, Any]],
        *,
        claimed: Collection[str] = (),
        lease_until: datetime | None = None,
        reporter_keyed: bool = False,
        session: Session,
    ) -> None:
        """Log planned messages (each ``_id`` is the (event, recipient, channel) key) and queue
        those still to be delivered: one write for each, however many messages. The
        ``claimed`` ones are queued as being sent until ``lease_until`` (this process sends
        them as soon as this commits, without claiming them). ``reporter_keyed``: the
        complaint's contact details are sealed under its data key, and so are their addresses
        in the log."""
        if docs:
            logged = await self._sealed(docs, reporter_keyed=reporter_keyed)
            await self._messages.insert_many(logged, session=session)
        waiting = [
            _queued(doc, lease_until=lease_until if doc["_id"] in claimed else None)
            for doc in docs
            if doc["status"] != SENT
        ]
        if waiting:
            await self._queue.insert_many(waiting, session=session)

    async def claim(
        self,
        channel: str,
        *,
        now: datetime,
        lease: timedelta,
        digests: bool,
        abandoned: bool = True,
        digestible_only: bool = False,
    ) -> dict[str, Any] | None:
        """Take the most overdue message of a channel (or, when ``abandoned``, one whose sender
        died mid-send); digestible ones only when ``digests`` (one worker per channel takes
        those, so that two workers never split one recipient's digest between them). With
        ``digestible_only``, the waiting messages it takes are digestible ones (the others are
        claimed in batches), the abandoned ones any.

        Claims run on the queue, which holds only undelivered messages: the delivery log
        grows without bound, the queue stays as small as the backlog."""
        kinds = {} if digests else {"digestible": False}
        claimed = {"$set": {"status": SENDING, "lease_until": now + lease}, "$inc": {"attempts": 1}}
        waiting = {"status": {"$in": WAITING}, "next_attempt_at": {"$lte": now}}
        queries = [{**kinds, **waiting, **({"digestible": True} if digestible_only else {})}]
        if abandoned:
            queries.append({**kinds, "status": SENDING, "lease_until": {"$lt": now}})
        for query in queries:
            entry = await self._queue.find_one_and_update(
                {"channel": channel, **query},
                claimed,
                sort=[("next_attempt_at", ASCENDING)],
                return_document=ReturnDocument.AFTER,
            )
            if entry is not None:
                return (await self._with_messages([entry]))[0]
        return None

    async def claim_many(
        self,
        channel: str,
        *,
        now: datetime,
        lease: timedelta,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Take up to ``limit`` of a channel's most overdue waiting messages that fold into no
        digest, most overdue first.

        Four round trips however many: find them, claim those still free (another sender may
        take some in between: each is claimed once), read back which are this call's, and
        read their messages. Never one whose sender died: the killed sender's transaction may
        still hold it, and on the embedded database a write to it waits until that
        transaction is reaped, which held a whole batch (a single claim waits alone)."""
        claim = uuid.uuid4().hex
        scope = {
            "channel": channel,
            "digestible": False,
            "status": {"$in": WAITING},
            "next_attempt_at": {"$lte": now},
        }
        found = await (
            self._queue.find(scope, {"_id": 1})
            .sort("next_attempt_at", ASCENDING)
            .limit(limit)
            .to_list(None)
        )
        if not found:
            return []
        ids = [doc["_id"] for doc in found]
        await self._queue.update_many(
            {"_id": {"$in": ids}, **scope},
            {
                "$set": {"status": SENDING, "lease_until": now + lease, "claim": claim},
                "$inc": {"attempts": 1},
            },
        )
        entries = await self._queue.find({"_id": {"$in": ids}, "claim": claim}).to_list(None)
        taken = await self._with_messages(entries)
        return sorted(taken, key=lambda m: m["next_attempt_at"] or now)

    async def _with_messages(self, entries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The logged messages of claimed queue entries, with the attempts the claims counted:
        one read however many."""
        if not entries:
            return []
        ids = [entry["_id"] for entry in entries]
        found = await self._messages.find({"_id": {"$in": ids}}).to_list(None)
        messages = {doc["_id"]: doc for doc in await self._opened_messages(found)}
        assert len(messages) == len(ids), "a queued message is always logged"
        return [{**messages[entry["_id"]], "attempts": entry["attempts"]} for entry in entries]

    async def claim_digest(
        self, lead: dict[str, Any], *, now: datetime, lease: timedelta
    ) -> list[dict[str, Any]]:
        """Fold every other waiting digestible message for the same recipient and channel into
        the lead's delivery."""
        query = {
            "recipient": lead["recipient"],
            "channel": lead["channel"],
            "digestible": True,
            "status": {"$in": WAITING},
            "_id": {"$ne": lead["_id"]},
        }
        await self._queue.update_many(
            query,
            {
                "$set": {"status": SENDING, "lease_until": now + lease, "digest_id": lead["_id"]},
                "$inc": {"attempts": 1},
            },
        )
        entries = [doc async for doc in self._queue.find({"digest_id": lead["_id"]})]
        folded = await self._with_messages(entries)
        return sorted(folded, key=lambda m: m["recorded_at"])

    async def take_rate_slot(
        self, subject: str, channel: str, *, now: datetime, limit: int
    ) -> bool:
        """Reserve one of the ``limit`` non-urgent messages a person may get on a channel in
        this clock hour; False when they are all taken. Atomic, so concurrent senders cannot
        overshoot: the counter only moves while below the limit, and when it is at the limit
        the upsert collides with the existing counter."""
        try:
            await self._rates.update_one(
                {"_id": self._rate_key(subject, channel, now), "n": {"$lt": limit}},
                {"$inc": {"n": 1}, "$setOnInsert": {"at": now}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True

    async def record_sent(
        self, batch: Sequence[dict[str, Any]], *, attempt: dict[str, Any], fields: dict[str, Any]
    ) -> None:
        """Record that the messages of one delivery were sent: one write however many. Their
        queue entries stay until ``forget``: an entry whose message is sent means "its
        notification.sent may not be published yet" (``Dispatcher``)."""
        await self._messages.bulk_write(
            [
                UpdateOne(
                    {"_id": message["_id"]},
                    {
                        "$set": {"status": SENT, **fields},
                        "$inc": {"attempts": 1},
                        "$push": {"attempt_log": attempt},
                    },
                )
                for message in batch
            ],
            ordered=False,
        )

    async def forget(self, message_ids: Sequence[str]) -> None:
        """Take delivered messages off the queue."""
        await self._queue.delete_many({"_id": {"$in": list(message_ids)}})

    async def hold_lease(self, message_ids: Sequence[str], *, until: datetime) -> None:
        """Keep messages being delivered claimed until ``until`` (their sender is still busy
        with them)."""
        await self._queue.update_many(
            {"_id": {"$in": list(message_ids)}, "status": SENDING},
            {"$set": {"lease_until": until}},
        )

    async def hand_back(self, message_ids: Sequence[str], *, until: datetime | None = None) -> None:
        """Hand claimed messages back unsent, not counted as an attempt: due as they were, or
        from ``until`` on."""
        due = {} if until is None else {"next_attempt_at": until}
        await self._queue.update_many(
            {"_id": {"$in": list(message_ids)}, "status": SENDING},
            {"$set": {"status": PENDING, "lease_until": None, **due}, "$inc": {"attempts": -1}},
        )

    async def settle(
        self,
        batch: Sequence[dict[str, Any]],
        *,
        status: str,
        attempt: dict[str, Any],
        fields: dict[str, Any],
        session: Session,
    ) -> None:
        """Record an attempt's outcome on the messages of one delivery; a message sent or
        failed for good leaves the queue, one to retry waits there for its next attempt."""
        ids = [m["_id"] for m in batch]
        for message in batch:
            await self._messages.update_one(
                {"_id": message["_id"]},
                {
                    # The message counts every attempt it ever had; the queue entry counts those
                    # of its current round (an admin's re-queue starts a new round).
                    "$set": {"status": status, **fields},
                    "$inc": {"attempts": 1},
                    "$push": {"attempt_log": attempt},
                },
                session=session,
            )
        if status in (SENT, FAILED):
            await self._queue.delete_many({"_id": {"$in": ids}}, session=session)
        else:
            await self._queue.update_many(
                {"_id": {"$in": ids}},
                {
                    "$set": {
                        "status": status,
                        "lease_until": None,
                        "next_attempt_at": fields["next_attempt_at"],
                        "digest_id": None,
                    }
                },
                session=session,
            )

    async def requeue(self, message_id: str, *, now: datetime, by: str) -> dict[str, Any] | None:
        """Give a failed message a fresh round of attempts (after its cause was fixed); its
        attempt log keeps the earlier ones and says who re-queued it."""
        message = await self._messages.find_one_and_update(
            {"_id": message_id, "status": FAILED},
            {
                "$set": {"status": PENDING, "next_attempt_at": now},
                "$push": {"attempt_log": {"at": now, "outcome": "requeued", "by": by}},
            },
            return_document=ReturnDocument.AFTER,
        )
        if message is not None:
            fresh_round = _queued({**message, "attempts": 0})
            await self._queue.replace_one({"_id": message_id}, fresh_round, upsert=True)
            return await self._opened_message(message)
        return None

    async def message(self, message_id: str) -> dict[str, Any] | None:
        """One message."""
        found = await self._messages.find_one({"_id": message_id})
        return None if found is None else await self._opened_message(found)

    async def messages_of(self, complaint_id: str) -> list[dict[str, Any]]:
        """The message log of one complaint, oldest first."""
        cursor = self._messages.find({"complaint_id": complaint_id}).sort("recorded_at", 1)
        return await self._opened_messages(await cursor.to_list(None))

    async def messages_to(self, account: str, *, limit: int) -> list[dict[str, Any]]:
        """What went to a citizen account: its inbox, and the messages to the reporter of every
        report it filed (their e-mail and phone, addresses opened), newest first."""
        filed = await self._files.find({"reporter_account": account}, {"_id": 1}).to_list(None)
        query: dict[str, Any] = {"recipient": account}
        if filed:
            mine = {
                "complaint_id": {"$in": [f["_id"] for f in filed]},
                "recipient_role": RecipientRole.COMPLAINANT.value,
            }
            query = {"$or": [query, mine]}
        cursor = self._messages.find(query).sort("recorded_at", DESCENDING).limit(limit)
        return await self._opened_messages(await cursor.to_list(None))

    async def inbox(self, recipient: str, *, limit: int, offset: int) -> list[dict[str, Any]]:
        """A recipient's in-app inbox, newest first."""
        cursor = (
            self._messages.find({"recipient": recipient, "channel": "inbox"})
            .sort("recorded_at", DESCENDING)
            .skip(offset)
            .limit(limit)
        )
        return await self._opened_messages(await cursor.to_list(None))

    async def mark_read(self, recipient: str, message_id: str, at: datetime) -> bool:
        """Mark one inbox message read; False when it is not this recipient's."""
        result = await self._messages.update_one(
            {"_id": message_id, "recipient": recipient, "channel": "inbox"},
            {"$set": {"read_at": at}},
        )
        return result.matched_count == 1

    async def queue_counts(self) -> dict[tuple[str, str], int]:
        """Messages waiting or being sent per (channel, status), for the queue gauges: read from
        the queue, which is as small as the backlog (the log grows with every message ever
        sent, and grouping it on every refresh cost more each day)."""
        pipeline = [{"$group": {"_id": {"c": "$channel", "s": "$status"}, "n": {"$sum": 1}}}]
        cursor = await self._queue.aggregate(pipeline)
        return {(doc["_id"]["c"], doc["_id"]["s"]): doc["n"] async for doc in cursor}


def _queued(message: dict[str, Any], *, lease_until: datetime | None = None) -> dict[str, Any]:
    """The scheduling part of a message, as the queue keeps it; being sent until
    ``lease_until`` when given (an attempt is under way)."""
    return {
        "_id": message["_id"],
        "channel": message["channel"],
        "recipient": message["recipient"],
        "digestible": message["digestible"],
        "status": PENDING if lease_until is None else SENDING,
        "next_attempt_at": message["next_attempt_at"],
        "lease_until": lease_until,
        "attempts": message.get("attempts", 0) + (lease_until is not None),
        "digest_id": None,
    }


def rate_subject(message: dict[str, Any]) -> str:
    """Who a rate limit counts for: the address when there is one (every complainant has the
    recipient ID "complainant"), else the recipient (an officer, an account, an agency app)."""
    address: str | None = message.get("address")
    return address or message["recipient"]
