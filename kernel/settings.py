"""Settings every service shares, read only from environment variables.

Each field is one environment variable of the same name in upper case (``KAFKA_BOOTSTRAP_SERVERS``);
services subclass ``ServiceSettings`` to add their own. ``make config-docs`` style tables in the
README are checked against these fields by a test, so the documentation cannot drift.
"""

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kernel.clock import Clock
from kernel.ratelimit import RateLimiter
from kernel.sealing import Sealer

# Known to everyone on purpose: refused when ENVIRONMENT=production.
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"  # noqa: S105
# A Fernet key known to everyone on purpose: refused when ENVIRONMENT=production.
DEV_PII_KEY = "ZGV2LW9ubHktaW5zZWN1cmUtcGlpLWtleS0zMmJ5dGU="


class ServiceSettings(BaseSettings):
    """Configuration of one service process."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    service_name: str = Field(
        default="service", description="Name in logs, metrics and the CloudEvents source."
    )
    http_host: str = Field(default="127.0.0.1", description="Address the HTTP server binds.")
    process_roles: str = Field(
        default="api,workers",
        pattern=r"^(api|workers)(,(api|workers))?$",
        description="What this process does: 'api' serves the HTTP API, 'workers' runs the "
        "consumer group and background jobs (probes and /metrics are always served). A "
        "Deployment per role scales each on its own.",
    )
    http_port: int = Field(default=8000, ge=0, le=65535, description="Port of the HTTP server.")
    http_public_rate_per_minute: float = Field(
        default=120.0,
        ge=0,
        description="Requests a minute one address may make without a token (0: no limit); "
        "above it, 429 with Retry-After.",
    )
    http_trusted_proxies: str = Field(
        default="127.0.0.1",
        description="Addresses (comma-separated, or *) whose X-Forwarded-For names the client; "
        "set to the ingress controller's in Kubernetes.",
    )
    http_public_burst: int = Field(
        default=30,
        ge=1,
        description="Requests an address may make at once before the rate applies.",
    )

    def public_rate_limiter(self) -> RateLimiter | None:
        """The anonymous callers' limiter these settings ask for (None: off)."""
        if self.http_public_rate_per_minute == 0:
            return None
        return RateLimiter(
            per_minute=self.http_public_rate_per_minute, burst=self.http_public_burst
        )

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Comma-separated Kafka bootstrap servers."
    )
    kafka_client_id_prefix: str = Field(default="lapor", description="Prefix of Kafka client IDs.")
    kafka_create_topics: bool = Field(
        default=True,
        description="Create missing topics at start-up; off where Strimzi or an admin owns them.",
    )
    kafka_replication_factor: int = Field(
        default=1, ge=1, description="Replication factor for topics this service creates."
    )
    kafka_enable_idempotence: bool = Field(
        default=False,
        description="Idempotent producer; needs InitProducerId, which embedded Tansu lacks.",
    )
    kafka_max_batch: int = Field(
        default=500, ge=1, description="Most records a consumer handles before committing."
    )
    consumer_transaction_events: int = Field(
        default=100,
        ge=1,
        description="Most consumed events applied in one database transaction (1: one "
        "transaction per event); a batch that fails is applied again one by one.",
    )
    kafka_session_timeout_ms: int = Field(
        default=10_000,
        ge=1_000,
        description="How long the group waits for a silent instance before giving its "
        "partitions to the others.",
    )
    kafka_heartbeat_interval_ms: int = Field(
        default=1_000,
        ge=100,
        description="How often an instance tells the group it is alive (and learns of a "
        "rebalance); at most a third of the session timeout.",
    )
    kafka_max_poll_interval_ms: int = Field(
        default=300_000,
        ge=1_000,
        description="Longest an instance may go between polls before the group hands its "
        "partitions to another; a batch stops at half of it and the rest is fetched again.",
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=500,
        ge=1,
        le=500,
        description="Longest the broker may hold a consumer's fetch when it has nothing new. "
        "Kafka answers as soon as a record arrives, so its default suits it; the embedded "
        "broker answers only when the time is up, so the development stack sets 20.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="How every Kafka client of the service connects: SSL encrypts, SASL_* "
        "authenticates (SASL_SSL does both; use it outside a trusted network).",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism when the protocol is SASL_*."
    )
    kafka_sasl_username: str = Field(default="", description="SASL user name (SASL_* only).")
    kafka_sasl_password: SecretStr = Field(
        default=SecretStr(""), description="SASL password (SASL_* only); never logged."
    )
    kafka_ssl_cafile: str = Field(
        default="",
        description="PEM file of the CA that signed the brokers' certificates (SSL, SASL_SSL); "
        "empty: the system's trust store.",
    )
    kafka_ssl_certfile: str = Field(
        default="", description="PEM client certificate for mutual TLS (optional)."
    )
    kafka_ssl_keyfile: str = Field(
        default="", description="PEM private key of the client certificate (optional)."
    )
    mongo_url: str = Field(
        default="mongodb://127.0.0.1:27017/?retryWrites=false&directConnection=true",
        description="MongoDB connection string; must reach a replica set (transactions).",
    )
    mongo_database: str = Field(
        default="",
        description="Database this service owns; empty means 'lapor_<service_name>'. "
        "'{service}' in it is replaced by the service's name, so one setting can give every "
        "service a database of its own (e.g. 'staging_{service}').",
    )
    mongo_timeout_ms: int = Field(
        default=5000, ge=100, description="Server selection and socket timeout for MongoDB."
    )
    group_commit_items: int = Field(
        default=100,
        ge=1,
        description="Most concurrent submissions written in one transaction (1: a transaction "
        "each); a caller is answered once its own item is stored.",
    )
    handler_max_attempts: int = Field(
        default=5,
        ge=1,
        description="Attempts at an event whose handler keeps failing before it is dead-lettered "
        "(infrastructure outages are retried without limit).",
    )
    outbox_poll_seconds: float = Field(
        default=0.5, gt=0, description="Outbox relay poll interval when no commit has woken it."
    )
    outbox_idle_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Longest the relay waits between two polls while it finds nothing (the "
        "wait doubles from OUTBOX_POLL_SECONDS); this process's commits wake it at once.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level logged."
    )
    log_json: bool = Field(default=True, description="JSON log lines (off: human-readable).")
    environment: Literal["development", "production"] = Field(
        default="development",
        description="'production' refuses development defaults such as the built-in JWT secret.",
    )
    clock_offset_seconds: float = Field(
        default=0.0,
        ge=-10 * 365 * 86400,
        le=10 * 365 * 86400,
        description="Non-production only: run this service's clock this many seconds ahead "
        "(negative: behind), to rehearse deadlines, breaches and auto-closing; refused in "
        "production.",
    )
    auth_jwt_secret: SecretStr = Field(
        default=SecretStr(DEV_JWT_SECRET),
        description="HS256 key for bearer tokens (used when no public key is set).",
    )
    auth_jwt_public_key: str = Field(
        default="",
        description="PEM public key of the identity provider (RS256/ES256); overrides the secret.",
    )
    pii_keys: list[SecretStr] = Field(
        default=[SecretStr(DEV_PII_KEY)],
        min_length=1,
        description="Fernet keys (JSON list) sealing reporter contact details at rest; the "
        "first seals, all open (put a new key first to rotate).",
    )
    auth_jwt_issuer: str = Field(default="lapor-dev", description="Required 'iss' of tokens.")
    auth_jwt_audience: str = Field(default="lapor", description="Required 'aud' of tokens.")

    @model_validator(mode="after")
    def _no_development_secrets_in_production(self) -> Self:
        if self.environment == "production" and not self.auth_jwt_public_key:
            secret = self.auth_jwt_secret.get_secret_value()
            if secret == DEV_JWT_SECRET or len(secret) < 32:
                raise ValueError(
                    "production needs AUTH_JWT_PUBLIC_KEY or an AUTH_JWT_SECRET of 32+ characters"
                )
        if self.environment == "production" and any(
            key.get_secret_value() == DEV_PII_KEY for key in self.pii_keys
        ):
            raise ValueError("production needs PII_KEYS of its own (not the development key)")
        if self.environment == "production" and self.clock_offset_seconds:
            raise ValueError("production runs on real time: CLOCK_OFFSET_SECONDS must be 0")
        return self

    def clock(self) -> Clock:
        """The clock these settings ask for."""
        return Clock(self.clock_offset_seconds)

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> Self:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()
        ):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        if bool(self.kafka_ssl_certfile) != bool(self.kafka_ssl_keyfile):
            raise ValueError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together")
        if (
            self.environment == "production"
            and self.kafka_sasl_mechanism == "PLAIN"
            and (self.kafka_security_protocol == "SASL_PLAINTEXT")
        ):
            raise ValueError("production refuses SASL PLAIN without TLS (the password is sent)")
        return self

    def sealer(self) -> Sealer:
        """Seals personal data with these settings' keys."""
        return Sealer([key.get_secret_value() for key in self.pii_keys])

    @property
    def request_db_deadline_seconds(self) -> float:
        """One deadline for all the database calls of a request, retries included."""
        return self.mongo_timeout_ms * 2 / 1000

    @property
    def roles(self) -> frozenset[str]:
        """The process's roles (``PROCESS_ROLES``) as a set."""
        return frozenset(self.process_roles.split(","))

    @property
    def database_name(self) -> str:
        """The MongoDB database this service owns."""
        return (self.mongo_database or "lapor_{service}").replace("{service}", self.service_name)
