"""Settings of the notify service."""

from pydantic import Field, SecretStr

from kernel.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    """Notify: tells complainants, supporters and agencies what happened."""

    # One event a transaction here: a notify killed mid-batch left a transaction holding a
    # hundred events' messages and queue entries, and the restarted senders' claims waited on
    # them (and on the restarted consumer's own retries) for minutes instead of one reaping.
    consumer_transaction_events: int = Field(
        default=1,
        ge=1,
        description="Most consumed events applied in one database transaction; notify's "
        "default is 1 (see the README).",
    )

    service_name: str = Field(default="notify", description="Name in logs, metrics and events.")
    http_port: int = Field(default=8004, ge=0, le=65535, description="Port of the HTTP server.")
    notify_smtp_host: str = Field(
        default="", description="SMTP server for email; empty disables the email channel."
    )
    notify_smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port.")
    notify_smtp_username: str = Field(default="", description="SMTP login; empty: no login.")
    notify_smtp_password: SecretStr = Field(default=SecretStr(""), description="SMTP password.")
    notify_smtp_starttls: bool = Field(default=True, description="Upgrade SMTP with STARTTLS.")
    notify_email_from: str = Field(
        default="SP4N-LAPOR! <no-reply@lapor.go.id>", description="From: of every email."
    )
    notify_sms_gateway_url: str = Field(
        default="", description="HTTP endpoint of the SMS gateway; empty disables SMS."
    )
    notify_sms_gateway_token: SecretStr = Field(
        default=SecretStr(""), description="Bearer token for the SMS gateway."
    )
    notify_intake_url: str = Field(
        default="http://127.0.0.1:8001",
        description="Intake's base URL, where notify asks for the data keys that open "
        "reporters' contact details (its internal endpoint, not routed by the Ingress).",
    )
    notify_send_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Longest a single send may take before it is retried."
    )
    notify_max_attempts: int = Field(
        default=6, ge=1, le=50, description="Attempts before a message is dead-lettered."
    )
    notify_backoff_base_seconds: float = Field(
        default=5.0, gt=0, description="Wait before the second attempt; doubles each time."
    )
    notify_backoff_cap_seconds: float = Field(
        default=1800.0, gt=0, description="Longest wait between two attempts."
    )
    notify_channel_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Sends in flight per channel; each channel has its own, so a slow one "
        "never holds the others up.",
    )
    notify_claim_batch: int = Field(
        default=20,
        ge=1,
        le=500,
        description="Most messages a sender claims at once (each is still recorded as soon "
        "as it is sent); the channel's first sender, which makes the digests, claims one.",
    )
    notify_dispatch_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        description="How soon an idle channel looks again for due messages (retries, senders "
        "that died); new messages wake it at once.",
    )
    notify_dispatch_idle_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Longest an idle channel waits between two looks: the wait doubles from "
        "the poll interval while nothing is due.",
    )
    notify_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A message claimed by an instance that died is retried after this long.",
    )
    notify_digest_window_seconds: float = Field(
        default=300.0,
        ge=0,
        description="Deadline warnings and breaches for one officer within this window go out "
        "as one digest.",
    )
    notify_directory_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long an agency's officers and webhook are kept in memory for planning "
        "messages; a change made through another replica reaches messages within this time "
        "(0: read for every event).",
    )
    notify_publish_v1_facts: bool = Field(
        default=False,
        description="Also publish notification.sent and notification.failed as version 1 on "
        "lapor.complaint-events.v1 (deprecated), next to version 2 on "
        "lapor.notification-events.v1, while subscribers move.",
    )
    notify_rate_per_hour: int = Field(
        default=30,
        ge=1,
        description="Most non-urgent messages one recipient gets per channel per hour; the rest "
        "wait.",
    )
