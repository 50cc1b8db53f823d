"""Settings of the notify service."""

from pydantic import Field

from kernel.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    """Notify: tells complainants and agencies what happened."""

    service_name: str = Field(default="notify", description="Name in logs, metrics and events.")
    http_port: int = Field(default=8004, ge=0, le=65535, description="Port of the HTTP server.")
