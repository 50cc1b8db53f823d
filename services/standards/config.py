"""Settings of the standards service."""

from pydantic import Field, model_validator

from kernel.settings import ServiceSettings


class StandardsSettings(ServiceSettings):
    """Standards: the SIPP registry of service standards."""

    service_name: str = Field(default="standards", description="Name in logs, metrics and events.")
    http_port: int = Field(default=8005, ge=0, le=65535, description="Port of the HTTP server.")
    standards_max_body_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Largest request body accepted (413 above it)."
    )
    standards_import_max_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1024,
        description="Largest CSV or XLSX file accepted by the bulk import.",
    )
    standards_zone_green: int = Field(
        default=90, ge=1, le=100, description="Lowest completeness score (0-100) in the green zone."
    )
    standards_zone_yellow: int = Field(
        default=60, ge=0, le=100, description="Lowest score in the yellow zone; below is red."
    )
    standards_score_refresh_seconds: float = Field(
        default=60.0, gt=0, description="How often the compliance gauges are recomputed."
    )

    @model_validator(mode="after")
    def _zones_ordered(self) -> "StandardsSettings":
        if self.standards_zone_yellow >= self.standards_zone_green:
            raise ValueError("STANDARDS_ZONE_YELLOW must be below STANDARDS_ZONE_GREEN")
        return self
