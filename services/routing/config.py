"""Settings of the routing service."""

from pydantic import Field

from kernel.settings import ServiceSettings


class RoutingSettings(ServiceSettings):
    """Routing: assigns each complaint to the agency with authority over it."""

    service_name: str = Field(default="routing", description="Name in logs, metrics and events.")
    http_port: int = Field(default=8002, ge=0, le=65535, description="Port of the HTTP server.")
    routing_directory_file: str = Field(
        default="",
        description="JSON file of agencies and rules loaded when the store is empty; "
        "empty means the shipped seed directory.",
    )
    routing_directory_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a loaded rule table is reused before re-reading."
    )
