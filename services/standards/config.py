"""Settings of the standards service."""

from pydantic import Field

from kernel.settings import ServiceSettings


class StandardsSettings(ServiceSettings):
    """Standards: the SIPP registry of published service standards."""

    service_name: str = Field(default="standards", description="Name in logs, metrics and events.")
    http_port: int = Field(default=8005, ge=0, le=65535, description="Port of the HTTP server.")
    standards_max_body_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Largest request body accepted (413 above it)."
    )
