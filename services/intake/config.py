"""Settings of the intake service (environment variables; see the README table)."""

from pydantic import Field, SecretStr

from kernel.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Intake: the HTTP API citizens and integrations submit through."""

    service_name: str = Field(default="intake", description="Name in logs, metrics and events.")
    http_port: int = Field(default=8001, ge=0, le=65535, description="Port of the HTTP server.")
    intake_reply_window_days: int = Field(
        default=10,
        ge=1,
        le=365,
        description="Days the complainant may reply to an answer and re-open the complaint.",
    )
    intake_contact_retention_days: int = Field(
        default=730,
        ge=1,
        le=3650,
        description="Days after a report is closed (or rejected, or merged) that its "
        "reporter's contact details are destroyed (their data key): see the README for the "
        "legal basis of the default.",
    )
    intake_retention_sweep_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="How often one intake worker looks for contact details past retention.",
    )
    intake_sms_gateway_token: SecretStr = Field(
        default=SecretStr(""),
        description="Shared secret the SMS gateway sends in X-Gateway-Token; empty turns the "
        "SMS webhook off.",
    )
    intake_sms_default_region: str = Field(
        default="31",
        pattern=r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$",
        description="Region of SMS reports that name none (the deployment's own area).",
    )
    intake_open311_api_keys: list[SecretStr] = Field(
        default_factory=list,
        description='API keys that may POST Open311 service requests, JSON list: ["key1"].',
    )
    intake_max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Largest request body accepted (413 above it)."
    )
