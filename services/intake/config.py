"""Settings of the intake service (environment variables; see the README table)."""

from pydantic import Field

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
    intake_max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Largest request body accepted (413 above it)."
    )
