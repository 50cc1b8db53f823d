"""A service split by role (``PROCESS_ROLES``), as a Deployment per role runs it: the API
process serves requests and consumes nothing, the workers process consumes and serves only its
probes and metrics; together they do what one process with both roles does."""

import pydantic
import pytest

from schemas.events import ComplaintRouted
from schemas.topics import COMPLAINT_EVENTS
from services.routing.app import create_app
from services.routing.config import RoutingSettings
from tests import factories
from tests.conftest import service_env
from tests.support import as_event, payloads, publish, read_topic, running


def settings(bootstrap: str, mongo_url: str, db_suffix: str, roles: str) -> RoutingSettings:
    return RoutingSettings(
        **service_env(bootstrap, mongo_url, f"it_roles_{db_suffix}"),  # type: ignore[arg-type]
        process_roles=roles,
        outbox_poll_seconds=0.2,
    )


async def test_the_api_and_the_workers_run_in_processes_of_their_own(
    bootstrap: str, mongo_url: str, db_suffix: str
) -> None:
    api_app = create_app(settings(bootstrap, mongo_url, db_suffix, "api"))
    workers_app = create_app(settings(bootstrap, mongo_url, db_suffix, "workers"))
    async with running(api_app) as api, running(workers_app) as workers:
        # The API process answers the API, and runs no consumer.
        assert (await api.get("/v1/directory")).status_code == 200
        assert not api_app.state.consumer.subscriber.running
        # The workers process answers its probes and metrics only.
        for path in ("/healthz", "/readyz", "/metrics"):
            assert (await workers.get(path)).status_code == 200, path
        refused = await workers.get("/v1/directory")
        assert refused.status_code == 404
        assert refused.json()["code"] == "not_served_here"
        assert refused.headers["content-type"].startswith("application/problem+json")
        # ... and it is the one that routes.
        assert workers_app.state.consumer.subscriber.running
        event = as_event(factories.submitted(category="kesehatan.puskesmas", region_code="81.71"))
        await publish(bootstrap, COMPLAINT_EVENTS.name, [event])
        seen = await read_topic(
            bootstrap,
            COMPLAINT_EVENTS.name,
            until=lambda rs: bool(payloads(rs, event.subject, ComplaintRouted)),
        )
        [routed] = payloads(seen, event.subject, ComplaintRouted)
        assert routed.agency_id == "dinkes-kota-ambon"


def test_a_role_the_platform_does_not_know_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="process_roles"):
        RoutingSettings(process_roles="api,cron")
    assert RoutingSettings(process_roles="workers").roles == {"workers"}
    assert RoutingSettings().roles == {"api", "workers"}
