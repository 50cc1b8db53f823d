"""Composition root of notify."""

from datetime import timedelta

import httpx
from fastapi import FastAPI

from kernel import http
from kernel.auth import TokenVerifier
from kernel.metrics import NOTIFICATION_QUEUE
from kernel.runtime import DatabaseGauges, Runtime, Startable
from schemas.topics import UNDELIVERABLE_NOTIFICATIONS
from services.notify import handlers
from services.notify.api import notify_router
from services.notify.channels import (
    Channel,
    Outgoing,
    PermanentFailure,
    SmsGatewayChannel,
    SmtpChannel,
    WebhookChannel,
)
from services.notify.config import NotifySettings
from services.notify.rendering import TemplateRenderer
from services.notify.reporter_keys import ReporterKeyClient
from services.notify.service import Dispatcher, NotifyService
from services.notify.store import NotifyStore

Settings = NotifySettings
QUEUE_GAUGE_SECONDS = 15.0
DESCRIPTION = (
    "Messages to complainants, supporters and agencies: one per event, recipient and channel; "
    "email, SMS, signed webhooks and an in-app inbox."
)


class DisabledChannel:
    """A channel this deployment has not configured: its messages fail visibly (dead letter,
    "notification failed") instead of waiting forever; an admin re-queues them once it is."""

    def __init__(self, name: str, setting: str) -> None:
        self.name = name
        self._setting = setting

    async def send(self, message: Outgoing) -> None:
        raise PermanentFailure(f"the {self.name} channel is not configured ({self._setting})")


def channels(
    settings: NotifySettings, store: NotifyStore, client: httpx.AsyncClient
) -> list[Channel]:
    """Email, SMS and webhooks as configured."""
    email: Channel = DisabledChannel("email", "NOTIFY_SMTP_HOST")
    if settings.notify_smtp_host:
        email = SmtpChannel(
            host=settings.notify_smtp_host,
            port=settings.notify_smtp_port,
            sender=settings.notify_email_from,
            username=settings.notify_smtp_username or None,
            password=settings.notify_smtp_password.get_secret_value() or None,
            starttls=settings.notify_smtp_starttls,
            timeout=settings.notify_send_timeout_seconds,
        )
    sms: Channel = DisabledChannel("sms", "NOTIFY_SMS_GATEWAY_URL")
    if settings.notify_sms_gateway_url:
        sms = SmsGatewayChannel(
            url=settings.notify_sms_gateway_url,
            token=settings.notify_sms_gateway_token.get_secret_value() or None,
            client=client,
        )
    return [email, sms, WebhookChannel(endpoints=store, client=client)]


def create_app(settings: NotifySettings) -> FastAPI:
    """Notify: plans messages from lifecycle events and delivers them; officers, webhooks,
    preferences and inboxes over HTTP."""
    runtime = Runtime(
        settings,
        extra_topics=[UNDELIVERABLE_NOTIFICATIONS],
        description=DESCRIPTION,
    )
    sealer = settings.sealer()
    client = httpx.AsyncClient(timeout=settings.notify_send_timeout_seconds)
    keys = ReporterKeyClient(
        url=settings.notify_intake_url,
        sealer=sealer,
        client=client,
        caller=settings.service_name,
    )
    store = NotifyStore(
        runtime.db,
        sealer=sealer,
        keys=keys,
        directory_seconds=settings.notify_directory_cache_seconds,
    )
    renderer = TemplateRenderer()
    dispatcher = Dispatcher(
        store=store,
        uow=runtime.uow,
        channels=channels(settings, store, client),
        renderer=renderer,
        concurrency=settings.notify_channel_concurrency,
        poll_seconds=settings.notify_dispatch_poll_seconds,
        idle_poll=settings.notify_dispatch_idle_seconds,
        lease=timedelta(seconds=settings.notify_lease_seconds),
        max_attempts=settings.notify_max_attempts,
        backoff_base=settings.notify_backoff_base_seconds,
        backoff_cap=settings.notify_backoff_cap_seconds,
        send_timeout=settings.notify_send_timeout_seconds,
        rate_per_hour=settings.notify_rate_per_hour,
        claim_batch=settings.notify_claim_batch,
        publish=runtime.publishers.publish_now,
        v1_facts=settings.notify_publish_v1_facts,
    )
    service = NotifyService(
        store=store,
        uow=runtime.uow,
        renderer=renderer,
        digest_window=timedelta(seconds=settings.notify_digest_window_seconds),
        lease=timedelta(seconds=settings.notify_lease_seconds),
        on_recorded=dispatcher.hand,
        on_erased=dispatcher.drop,
        v1_facts=settings.notify_publish_v1_facts,
    )
    consumer = runtime.include(handlers.router(runtime, service))

    async def prepare() -> None:
        await store.create_indexes()

    async def queue_gauges() -> None:
        counts = await store.queue_counts()
        # Replaced as a whole, with no await in between: a status whose last message left the
        # queue must drop out, not stay at its last count (a backlog alert would never resolve).
        NOTIFICATION_QUEUE.clear()
        for (channel, status), count in counts.items():
            NOTIFICATION_QUEUE.labels(channel, status).set(count)

    app = http.create_app(
        service=settings.service_name,
        title="LAPOR notify",
        description=DESCRIPTION,
        components=[
            runtime,
            Startable(prepare, stop=client.aclose),  # closed after the dispatcher stops
        ],
        # The consumer hands what is due to this process's dispatcher: they run together.
        workers=[
            consumer,
            dispatcher,
            DatabaseGauges(
                queue_gauges,
                seconds=QUEUE_GAUGE_SECONDS,
                db=runtime.db,
                gauges=[NOTIFICATION_QUEUE],
            ),
        ],
        roles=settings.roles,
        readiness=runtime.readiness_checks(),
        public_rate_limit=settings.public_rate_limiter(),
        db_deadline_seconds=settings.request_db_deadline_seconds,
    )
    app.include_router(
        notify_router(store=store, caller=http.authentication(TokenVerifier(settings)))
    )
    app.state.dispatcher = dispatcher  # tests and operators' tools
    app.state.runtime = runtime  # for lapor-admin rebuild
    return app
