"""Contracts between the platform's own services over HTTP (not for anyone else: these paths are
left out of the OpenAPI documents and of the Ingress)."""

# Intake hands notify the data keys of reports, wrapped under PII_KEYS (``Sealer.wrap``).
REPORTER_KEYS_PATH = "/internal/v1/reporter-keys"
# The caller's credential: ``Sealer.service_key(caller)``.
SERVICE_KEY_HEADER = "X-Service-Key"
# Most keys asked for at once (a page of messages, a batch of events).
MOST_KEYS_PER_REQUEST = 100
# The services that may ask for report data keys (by service name): notify, to reach reporters.
KEY_HOLDERS = ("notify",)
