"""Notify use cases: plan the messages each event calls for (once per event, recipient and
channel: the message's own ID makes a repeated event store nothing), then deliver them channel by
channel with retries, quiet hours, rate limits and digests. What is due at once is handed from
the planner to the senders in memory; the queue in the database is for what waits (quiet hours,
digests, retries) and for what a dead process left half done."""

import asyncio
import contextlib
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from kernel.logging import get_logger, scrub
from kernel.metrics import (
    NOTIFICATION_ATTEMPTS,
    NOTIFICATION_SEND_SECONDS,
    NOTIFICATIONS_RECORDED,
)
from kernel.mongo import Session, is_unavailable, stored_precision
from kernel.unit_of_work import UnitOfWork
from schemas.complaint import ReporterContact
from schemas.envelope import Event, new_event
from schemas.events import (
    ComplaintReporterErased,
    ComplaintStatusChanged,
    ComplaintSubmission,
    ComplaintSubmitted,
    ComplaintSubmittedV1,
    ComplaintSupported,
    NotificationFailed,
    NotificationSent,
    NotificationUndeliverable,
    RecipientRole,
    as_v1,
)
from services.notify.channels import Channel, DeliveryFailure, Outgoing, PermanentFailure
from services.notify.domain import (
    Audience,
    ComplaintFile,
    PlannedMessage,
    calls_for_messages,
    file_from,
    holder_fields,
    plan,
)
from services.notify.file_cache import FileCache
from services.notify.policy import KINDS, backoff, first_send_at
from services.notify.rendering import TemplateRenderer
from services.notify.store import FAILED, PENDING, RETRYING, SENT, NotifyStore, rate_subject

SOURCE = "/lapor/notify"
# Names the notification.sent of each message (``sent_event_id``).
SENT_EVENTS = uuid.UUID("6f1d7c52-3a0e-4c4f-9b1e-5d2a8e7c4b10")
V1_COPIES = uuid.UUID("0c5e2b7a-94d1-4f3e-8a61-2b7d9e4c1f08")
# How long delivered messages' queue entries wait to be deleted together.
FORGET_SECONDS = 1.0
log = get_logger(__name__)


class NotifyService:
    """Plans messages: one per (event, recipient, channel), however often the event comes."""

    def __init__(
        self,
        *,
        store: NotifyStore,
        uow: UnitOfWork,
        renderer: TemplateRenderer,
        digest_window: timedelta,
        lease: timedelta = timedelta(seconds=60),
        on_recorded: Callable[[Sequence[dict[str, Any]]], None] | None = None,
        on_erased: Callable[[str], None] | None = None,
        v1_facts: bool = False,
    ) -> None:
        self._store = store
        self._uow = uow
        self._on_recorded = on_recorded
        self._on_erased = on_erased
        self._v1_facts = v1_facts
        self._files = FileCache()
        self._renderer = renderer
        self._digest_window = digest_window
        self._lease = lease

    async def on_event(self, event: Event) -> None:
        """Update the complaint's file, then record the messages the event needs.

        No processed mark, and a transaction only for the messages: each file update is
        idempotent by itself (a submission is filed once, a holder change once per event ID,
        a supporter added once), and a message's ID is its (event, recipient, channel), so a
        repeated event collides with the messages its first delivery stored and stores nothing
        again."""
        if not calls_for_messages(event.data):
            return  # nothing to store: a redelivery does nothing again
        file = await self._file_after(event, session=self._uow.session())
        if file is None:
            return
        audience = await self._audience(file, session=self._uow.session())
        now = stored_precision(datetime.now(UTC))
        docs = [self._document(message, event, now) for message in plan(event.data, file, audience)]
        if not docs:
            return
        # What is due now is sent by this process as soon as this commits, without a claim:
        # queued as being sent, so that were this process to die first, another sender takes
        # it once the lease lapses. Digestible messages wait for the lead sender.
        handed = [
            doc
            for doc in docs
            if self._on_recorded is not None
            and doc["status"] == PENDING
            and not doc["digestible"]
            and doc["next_attempt_at"] <= now
        ]
        lease_until = now + self._lease

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            await self._store.record(
                docs,
                claimed={doc["_id"] for doc in handed},
                lease_until=lease_until,
                reporter_keyed=file.sealed_reporter is not None,
                session=session,
            )
            # An inbox message is delivered by being stored.
            events = [
                _sent_event(doc, event.correlation_id, now, attempts=1)
                for doc in docs
                if doc["channel"] == "inbox"
            ]
            return None, with_v1_copies(events, self._v1_facts)

        if not await self._uow.run_unless_stored(effect):
            return

        def committed() -> None:
            for doc in docs:
                NOTIFICATIONS_RECORDED.labels(doc["recipient_role"], doc["channel"]).inc()
            if handed and self._on_recorded is not None:
                until = lease_until
                self._on_recorded([{**doc, "attempts": 1, "lease_until": until} for doc in handed])

        self._uow.after_commit(committed)

    async def on_reporter_erased(self, event: Event[ComplaintReporterErased]) -> None:
        """Forget the reporter (UU 27/2022 (PDP)): nothing more goes to them about this
        complaint, and notify keeps no way to reach them."""
        complaint_id = event.data.complaint_id
        self._files.forget(complaint_id)
        self._store.forget_key(complaint_id)
        if self._on_erased is not None:
            self._on_erased(complaint_id)  # not sent from memory either
        await self._store.erase_reporter(
            complaint_id, at=event.data.erased_at, session=self._uow.session()
        )

    async def _file_after(self, event: Event, *, session: Session | None) -> ComplaintFile | None:
        """The complaint's file once the event is taken in; None when there is no file or the
        event calls for no message."""
        payload = event.data
        store = self._store
        file: ComplaintFile | None
        if isinstance(payload, ComplaintSubmission | ComplaintStatusChanged | ComplaintSupported):
            self._files.forget(payload.complaint_id)  # about to change
        if isinstance(payload, ComplaintSubmission):
            file = file_from(payload, await self._reporter(payload))  # no need to read it back
            if await store.save_file(file, session=session):
                self._keep_once_committed(file)
            return file
        if isinstance(payload, ComplaintStatusChanged):
            # Who holds the complaint now, and the file as it is then, in one round trip.
            file = await store.update_file(
                payload.complaint_id, holder_fields(payload), event_id=event.id, session=session
            )
            self._keep_once_committed(file)
        elif isinstance(payload, ComplaintSupported):
            await store.add_supporter(
                payload.complaint_id, payload.supporter_account, session=session
            )
            return None
        else:
            file = self._files.get(event.subject)
            if file is None:
                file = await store.file(event.subject, session=session)
                self._keep_once_committed(file)
        if file is None:
            log.info("notification_for_unknown_complaint", event_type=event.type)
        return file

    async def _reporter(self, submitted: ComplaintSubmission) -> ReporterContact:
        """The contact details of a submission: opened with the report's data key (version
        2; none once the key is destroyed), or as version 1 carried them."""
        if isinstance(submitted, ComplaintSubmittedV1):
            return submitted.reporter
        if isinstance(submitted, ComplaintSubmitted) and submitted.sealed_reporter is not None:
            return await self._store.reporter_of(submitted.complaint_id, submitted.sealed_reporter)
        return ReporterContact()

    def _keep_once_committed(self, file: ComplaintFile | None) -> None:
        if file is not None:
            self._uow.after_commit(lambda: self._files.keep(file))

    def forget_files(self) -> None:
        """Forget every file kept in memory (this instance lost partitions)."""
        self._files.clear()

    async def _audience(self, file: Any, *, session: Session | None) -> Audience:
        agency = file.agency_id
        officers, webhook = await self._store.agency_audience(agency) if agency else ([], False)
        accounts = [a for a in (file.reporter_account, *file.supporters) if a]
        preferences = await self._store.preferences(accounts, session=session) if accounts else {}
        return Audience(
            officers=officers,
            webhook_agencies=frozenset([agency]) if webhook else frozenset(),
            complainant_preferences=preferences.get(file.reporter_account or ""),
            supporter_preferences=preferences,
        )

    def _document(self, message: PlannedMessage, event: Event, now: datetime) -> dict[str, Any]:
        kind = KINDS[message.template]
        rendered = self._renderer.render(message.template, message.context, message.locale)
        inbox = message.channel == "inbox"
        return {
            "_id": message.key(event.id),
            "complaint_id": event.subject,
            "recipient_role": message.recipient_role.value,
            "recipient": message.recipient,
            "channel": message.channel,
            "address": message.address,
            "template": message.template,
            "locale": message.locale,
            "subject": rendered.subject,
            "body": rendered.body,
            "caused_by": event.id,
            "correlation_id": event.correlation_id,
            "urgent": kind.urgent,
            "digestible": kind.digestible,
            "status": SENT if inbox else PENDING,
            "attempts": 1 if inbox else 0,
            "attempt_log": [],
            "next_attempt_at": None
            if inbox
            else first_send_at(now, kind, message.quiet_hours, digest_window=self._digest_window),
            "lease_until": None,
            "recorded_at": now,
            "sent_at": now if inbox else None,
            "read_at": None,
        }


class Dispatcher:
    """Delivers due messages, one worker pool per channel so a slow gateway holds up only its
    own channel. Any number of instances may run: a message is claimed before it is sent."""

    def __init__(
        self,
        *,
        store: NotifyStore,
        uow: UnitOfWork,
        channels: Sequence[Channel],
        renderer: TemplateRenderer,
        concurrency: int,
        poll_seconds: float,
        lease: timedelta,
        max_attempts: int,
        backoff_base: float,
        backoff_cap: float,
        send_timeout: float,
        rate_per_hour: int,
        idle_poll: float | None = None,
        claim_batch: int = 1,
        publish: Callable[[Sequence[Event]], Awaitable[None]] | None = None,
        forget_seconds: float = FORGET_SECONDS,
        v1_facts: bool = False,
    ) -> None:
        self._v1_facts = v1_facts
        self._store = store
        self._publish = publish
        self._forget_seconds = forget_seconds
        # Per channel: messages the planner queued as being sent by this process (no claim).
        self._handed: dict[str, deque[dict[str, Any]]] = {}
        # Sent, their notification.sent published: queue entries deleted together.
        self._delivered: list[str] = []
        self._claim_batch = claim_batch
        self._idle_poll = max(idle_poll or poll_seconds, poll_seconds)
        # Per channel: its idle workers, first to fall idle first, and the wake-ups that found
        # none idle (a worker claims again instead of sleeping while some are owed).
        self._idle: dict[str, deque[asyncio.Future[None]]] = {}
        self._owed: Counter[str] = Counter()
        self._abandoned_checked: dict[str, datetime] = {}
        self._uow = uow
        self._channels = list(channels)
        self._renderer = renderer
        self._concurrency = concurrency
        self._poll = poll_seconds
        self._lease = lease
        self._max_attempts = max_attempts
        self._backoff = (backoff_base, backoff_cap)
        self._timeout = send_timeout
        self._rate = rate_per_hour
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    def hand(self, messages: Sequence[dict[str, Any]]) -> None:
        """Messages just recorded as being sent by this process: delivered from memory, the
        queue not read (a claim was the costliest query notify made)."""
        for message in messages:
            self._handed.setdefault(message["channel"], deque()).append(message)
        self.wake(Counter(message["channel"] for message in messages))

    def drop(self, complaint_id: str) -> None:
        """Forget what was handed over for this complaint and not sent yet (its reporter's
        data was erased: nothing more goes to them)."""
        for channel, handed in self._handed.items():
            self._handed[channel] = deque(m for m in handed if m["complaint_id"] != complaint_id)

    def wake(self, queued: Mapping[str, int]) -> None:
        """Messages were queued (so many per channel): as many idle workers look now. Waking
        them all had each message claimed by one and looked for in vain by every other (five to
        seven claims a message, the costliest query notify makes)."""
        for name, count in queued.items():
            idle = self._idle.get(name)
            if idle is None:
                continue
            for _ in range(count):
                while idle and idle[0].done():
                    idle.popleft()
                if not idle:
                    # A busy worker claims again anyway: more owed looks than workers is waste.
                    self._owed[name] = min(self._owed[name] + 1, self._concurrency)
                    continue
                idle.popleft().set_result(None)

    async def start(self) -> None:
        """One pool of workers per channel."""
        self._stopping.clear()
        self._idle = {channel.name: deque() for channel in self._channels}
        for channel in self._channels:
            self._handed.setdefault(channel.name, deque())
        self._owed.clear()
        self._tasks = [asyncio.create_task(self._forgetting(), name="notify-forget")]
        self._tasks += [
            asyncio.create_task(
                self._worker(channel, digests=n == 0), name=f"notify-{channel.name}-{n}"
            )
            for channel in self._channels
            for n in range(self._concurrency)
        ]

    async def stop(self) -> None:
        """Let sends in flight finish (their outcome is recorded), hand back what was handed
        over and not sent (for another sender now rather than after a lease), then stop."""
        self._stopping.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=self._timeout + 5)
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        unsent = [message["_id"] for handed in self._handed.values() for message in handed]
        for handed in self._handed.values():
            handed.clear()
        with contextlib.suppress(Exception):
            if unsent:
                await self._store.hand_back(unsent)
            await self._forget()

    async def _forgetting(self) -> None:
        """Delete delivered messages' queue entries together, every ``forget_seconds``: one
        command for many messages. A crash before leaves entries whose message is sent, which
        a sender takes back after their lease and only announces (``_deliver``)."""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._forget_seconds)
            try:
                await self._forget()
            except Exception:
                log.warning("notify_forget_failed", exc_info=True)

    async def _forget(self) -> None:
        if self._delivered:
            ids, self._delivered = self._delivered, []
            try:
                await self._store.forget(ids)
            except BaseException:
                self._delivered = ids + self._delivered
                raise

    async def _worker(self, channel: Channel, *, digests: bool) -> None:
        """Deliver while there is work. Idle, the channel's first worker polls (for retries
        falling due and senders that died), less often the longer nothing comes, up to
        ``idle_poll``; the others sleep until the consumer queues messages (``wake``). Twelve
        workers polling twice a second were the database's busiest client under load."""
        name = channel.name
        idle = self._poll
        while not self._stopping.is_set():
            try:
                busy = await self.deliver_one(channel, digests=digests)
            except Exception:  # a database hiccup: log, back off, keep the worker alive
                log.exception("notify_worker_error", channel=name)
                busy = False
            if busy:
                idle = self._poll
                continue
            if self._owed[name]:  # queued while this worker was looking: look again
                self._owed[name] -= 1
                continue
            woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._idle[name].append(woken)
            stopping: asyncio.Future[Any] = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait(
                {woken, stopping},
                timeout=idle if digests else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            stopping.cancel()
            was_woken = woken.done()
            woken.cancel()  # a timed-out worker leaves the idle line (wake skips it)
            idle = self._poll if was_woken else min(idle * 2, self._idle_poll)

    async def deliver_one(self, channel: Channel, *, digests: bool = True) -> bool:
        """Claim and deliver due messages: digestible ones one at a time, by the lead sender
        (``digests``), with what folds into their digest; the others up to ``claim_batch`` at
        once (two digestible messages to one person claimed together would go out as two
        digests). Messages whose sender died are taken back by single claims. False when
        nothing was due."""
        handed = self._handed.get(channel.name)
        if handed:
            message = handed.popleft()
            moment = stored_precision(datetime.now(UTC))
            if message["lease_until"] - moment < self._lease / 2:
                # A backlog in memory: keep what waits in it from lapsing to another sender.
                waiting = [message, *handed]
                until = moment + self._lease
                await self._store.hold_lease([m["_id"] for m in waiting], until=until)
                for m in waiting:
                    m["lease_until"] = until
            await self._deliver(channel, message)
            # Nothing more in memory: what waits in the queue is the lead sender's to find (an
            # unconditional look after each message was one query per message sent).
            return bool(handed)
        now = stored_precision(datetime.now(UTC))
        if digests or self._claim_batch == 1:
            if await self._deliver_claimed_alone(channel, now, digests=digests):
                return True
            if self._claim_batch == 1:
                return False
        return await self._deliver_claimed_together(channel, now)

    async def _deliver_claimed_alone(
        self, channel: Channel, now: datetime, *, digests: bool
    ) -> bool:
        """One message claimed on its own: the lead sender's digestible ones (all of them when
        not claiming in batches), or one whose sender died. False when none was due."""
        # Messages whose sender died are looked for a few times a lease, not at every claim:
        # an empty claim then costs one query, not two. Only here, one at a time (see
        # ``claim_many``).
        checked = self._abandoned_checked.get(channel.name)
        abandoned = checked is None or now - checked >= self._lease / 4
        if abandoned:
            self._abandoned_checked[channel.name] = now
        lead = await self._store.claim(
            channel.name,
            now=now,
            lease=self._lease,
            digests=digests,
            abandoned=abandoned,
            digestible_only=self._claim_batch > 1,
        )
        if lead is None:
            return False
        await self._deliver(channel, lead)
        return True

    async def _deliver_claimed_together(self, channel: Channel, now: datetime) -> bool:
        """Up to ``claim_batch`` waiting messages claimed at once, delivered one by one. On the
        embedded database a claim reads every due entry of the channel: under a backlog of a
        few hundred that was 20-30 ms of its CPU for each message. False when none was due."""
        claimed = await self._store.claim_many(
            channel.name, now=now, lease=self._lease, limit=self._claim_batch
        )
        held_until = now + self._lease
        for at, message in enumerate(claimed):
            if self._stopping.is_set():
                # Hand back what was not sent, for another sender now rather than after a lease.
                await self._store.hand_back([m["_id"] for m in claimed[at:]])
                break
            moment = stored_precision(datetime.now(UTC))
            if held_until - moment < self._lease / 2:
                # Sends took long: keep the rest of the claim from lapsing to another sender.
                held_until = moment + self._lease
                await self._store.hold_lease([m["_id"] for m in claimed[at:]], until=held_until)
            # Each recorded as soon as it is sent: a sender killed mid-claim resends at most
            # the one it had on the wire.
            await self._deliver(channel, message)
        return bool(claimed)

    async def _deliver(self, channel: Channel, lead: dict[str, Any]) -> None:
        """Deliver one claimed message (and, if digestible, those that fold into it)."""
        if lead["status"] == SENT:
            # Sent by a sender that died before announcing it: announce it, do not resend.
            sent_at = lead.get("sent_at") or stored_precision(datetime.now(UTC))
            digest_of = lead.get("digest_of") or 1
            await self._announce([lead], sent_at, digest_of=digest_of)
            return
        now = stored_precision(datetime.now(UTC))
        if not lead["urgent"]:
            # Per person: complainants all share the recipient ID "complainant", so their
            # address is what tells them apart.
            allowed = await self._store.take_rate_slot(
                rate_subject(lead), channel.name, now=now, limit=self._rate
            )
            if not allowed:
                await self._store.hand_back([lead["_id"]], until=now + timedelta(minutes=5))
                return
        batch = [lead]
        if lead.get("digestible"):
            batch += await self._store.claim_digest(lead, now=now, lease=self._lease)
        outgoing = self._outgoing(batch)
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._timeout):
                await channel.send(outgoing)
        except (DeliveryFailure, TimeoutError) as exc:
            reason = exc.reason if isinstance(exc, DeliveryFailure) else "send timed out"
            # A gateway's refusal may quote the address ("550 <x@y>: rejected"): what the log
            # keeps and notification.undeliverable publishes must not.
            await self._failed(channel, batch, scrub(reason), exc, started)
            return
        await self._sent(channel, batch, started)

    def _outgoing(self, batch: list[dict[str, Any]]) -> Outgoing:
        lead = batch[0]
        subject, body = lead["subject"], lead["body"]
        if len(batch) > 1:
            rendered = self._renderer.render(
                "digest", {"items": [m["subject"] for m in batch]}, lead.get("locale", "id")
            )
            subject, body = rendered.subject, rendered.body
        return Outgoing(
            message_id=lead["_id"],
            complaint_id=lead["complaint_id"],
            recipient=lead["recipient"],
            address=lead["address"],
            template="digest" if len(batch) > 1 else lead["template"],
            subject=subject,
            body=body,
            digest_of=len(batch),
        )

    async def _sent(self, channel: Channel, batch: list[dict[str, Any]], started: float) -> None:
        """Record the delivery, then announce it.

        No transaction and no outbox row: the message's queue entry is deleted only once its
        notification.sent is published, so an entry whose message is sent is the record of an
        announcement still owed (``_deliver``). The event's ID is derived from the message, so
        announcing it twice publishes the same event twice, which consumers drop."""
        elapsed = time.monotonic() - started
        now = stored_precision(datetime.now(UTC))
        attempt = {"at": now, "outcome": "sent", "error": None, "ms": round(elapsed * 1000)}
        await self._record_sent(batch, attempt, now)
        NOTIFICATION_SEND_SECONDS.labels(channel.name).observe(elapsed)
        NOTIFICATION_ATTEMPTS.labels(channel.name, "sent").inc()
        await self._announce(batch, now, digest_of=len(batch))

    async def _announce(
        self, batch: Sequence[dict[str, Any]], sent_at: datetime, *, digest_of: int
    ) -> None:
        """Publish each message's notification.sent, then let its queue entry go. With the
        broker away, the events go to the outbox instead (published once it is back)."""
        events = [
            _sent_event(
                m,
                m.get("correlation_id"),
                sent_at,
                attempts=m["attempts"],
                digest_of=digest_of,
                event_id=sent_event_id(m["_id"]),
            )
            for m in batch
        ]
        events = with_v1_copies(events, self._v1_facts)
        try:
            if self._publish is None:
                raise LookupError("no publisher: the outbox relays them")
            await self._publish(events)
        except Exception:

            async def stored(session: Session) -> tuple[None, Sequence[Event]]:
                return None, events

            await self._uow.run(stored)
        self._delivered += [m["_id"] for m in batch]

    async def _record_sent(
        self, batch: list[dict[str, Any]], attempt: dict[str, Any], now: datetime
    ) -> None:
        """Record a delivery the channel accepted, retrying while the database refuses (an
        outage) and holding the lease meanwhile: were the lease let go, the message would be
        claimed and sent again at every expiry (the mid-batch kill test saw one message sent
        13 times in 60 s)."""
        delay = 0.2
        while True:
            try:
                await self._store.record_sent(
                    batch, attempt=attempt, fields={"sent_at": now, "digest_of": len(batch)}
                )
                return
            except Exception as exc:
                if not is_unavailable(exc) or self._stopping.is_set():
                    raise  # shutting down: the next sender delivers it again (at least once)
                log.warning("notification_sent_not_recorded_yet", retry_in_seconds=delay)
            with contextlib.suppress(Exception):
                until = stored_precision(datetime.now(UTC)) + self._lease
                await self._store.hold_lease([m["_id"] for m in batch], until=until)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _failed(
        self,
        channel: Channel,
        batch: list[dict[str, Any]],
        reason: str,
        error: BaseException,
        started: float,
    ) -> None:
        now = stored_precision(datetime.now(UTC))
        attempts = max(m["attempts"] for m in batch)
        final = isinstance(error, PermanentFailure) or attempts >= self._max_attempts
        attempt = {
            "at": now,
            "outcome": "failed" if final else "retry",
            "error": reason,
            "ms": round((time.monotonic() - started) * 1000),
        }
        NOTIFICATION_ATTEMPTS.labels(channel.name, attempt["outcome"]).inc()
        log.warning(
            "notification_attempt_failed",
            channel=channel.name,
            attempts=attempts,
            final=final,
            reason=reason,
        )
        if not final:
            base, cap = self._backoff
            retry_at = now + backoff(attempts, base=base, cap=cap)

            async def retry(session: Session) -> tuple[None, Sequence[Event]]:
                await self._store.settle(
                    batch,
                    status=RETRYING,
                    attempt=attempt,
                    fields={"next_attempt_at": retry_at, "last_error": reason},
                    session=session,
                )
                return None, ()

            await self._uow.run(retry)
            return

        async def give_up(session: Session) -> tuple[None, Sequence[Event]]:
            await self._store.settle(
                batch,
                status=FAILED,
                attempt=attempt,
                fields={"failed_at": now, "last_error": reason},
                session=session,
            )
            events: list[Event] = []
            for m in batch:
                failed = NotificationFailed(
                    complaint_id=m["complaint_id"],
                    notification_id=m["_id"],
                    recipient_role=RecipientRole(m["recipient_role"]),
                    recipient=m["recipient"],
                    channel=m["channel"],
                    template=m["template"],
                    caused_by=m["caused_by"],
                    attempts=m["attempts"],
                    error=reason,
                    failed_at=now,
                )
                dead = NotificationUndeliverable(
                    notification_id=m["_id"],
                    complaint_id=m["complaint_id"],
                    channel=m["channel"],
                    template=m["template"],
                    attempts=m["attempts"],
                    error=reason,
                    failed_at=now,
                )
                correlation = m.get("correlation_id") or m["caused_by"]
                events += [
                    new_event(failed, source=SOURCE, correlation_id=correlation, now=now),
                    new_event(dead, source=SOURCE, correlation_id=correlation, now=now),
                ]
            return None, with_v1_copies(events, self._v1_facts)

        await self._uow.run(give_up)


def with_v1_copies(events: Sequence[Event], on: bool) -> list[Event]:
    """``events``, and when ``on`` the deprecated version 1 of each notification fact among
    them, on the topic version 1 used; its ID is derived from version 2's, so a copy published
    twice is the same event twice."""
    if not on:
        return list(events)
    copies = [
        new_event(
            as_v1(event.data),
            source=event.source,
            correlation_id=event.correlation_id,
            now=event.time,
            event_id=uuid.uuid5(V1_COPIES, event.id).hex,
        )
        for event in events
        if isinstance(event.data, NotificationSent | NotificationFailed)
    ]
    return [*events, *copies]


def sent_event_id(message_id: str) -> str:
    """The ID of a message's notification.sent: the same however often it is announced."""
    return uuid.uuid5(SENT_EVENTS, message_id).hex


def _sent_event(
    doc: dict[str, Any],
    correlation_id: str | None,
    now: datetime,
    *,
    attempts: int,
    digest_of: int = 1,
    event_id: str | None = None,
) -> Event:
    return new_event(
        NotificationSent(
            complaint_id=doc["complaint_id"],
            notification_id=doc["_id"],
            recipient_role=RecipientRole(doc["recipient_role"]),
            recipient=doc["recipient"],
            channel=doc["channel"],
            template=doc["template"],
            caused_by=doc["caused_by"],
            attempts=max(attempts, 1),
            digest_of=digest_of,
            sent_at=now,
        ),
        source=SOURCE,
        correlation_id=correlation_id or doc["caused_by"],
        now=now,
        event_id=event_id,
    )
