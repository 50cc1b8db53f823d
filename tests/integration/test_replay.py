"""``lapor-admin replay-dlq``: dead letters go back to their topic once the cause is fixed,
each once, and the consumer then handles them."""

from collections.abc import AsyncIterator

import httpx
import pytest

from kernel.replay import replay
from kernel.settings import ServiceSettings
from schemas.envelope import encode
from schemas.events import ComplaintRouted
from schemas.topics import COMPLAINT_EVENTS, ROUTING_GROUP, dead_letter_topic
from services.routing.app import create_app
from services.routing.config import RoutingSettings
from tests import factories
from tests.conftest import service_env
from tests.support import as_event, payloads, publish_raw, read_topic, running

pytestmark = pytest.mark.reliability

DLQ = dead_letter_topic(ROUTING_GROUP).name


@pytest.fixture(scope="module")
async def routing(
    bootstrap: str, mongo_url: str, db_suffix: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = RoutingSettings(
        **service_env(bootstrap, mongo_url, f"it_replay_{db_suffix}"),  # type: ignore[arg-type]
        outbox_poll_seconds=0.2,
    )
    async with running(create_app(settings)) as client:
        yield client


async def test_dead_letters_are_replayed_once_to_their_topic_and_handled(
    routing: httpx.AsyncClient, bootstrap: str
) -> None:
    settings = ServiceSettings(service_name="admin", kafka_bootstrap_servers=bootstrap)
    # Two records the routing group dead-lettered earlier (say, before a fix), and one that
    # lost its original topic header.
    events = [
        as_event(factories.submitted(category="pendidikan", region_code="13")) for _ in range(2)
    ]
    for event in events:
        record = encode(event)
        await publish_raw(
            bootstrap,
            DLQ,
            key=event.subject.encode(),
            value=record.value,
            headers=[
                *record.headers,
                ("x-dlq-reason", b"handler failed 5 times: database was down"),
                ("x-dlq-original-topic", COMPLAINT_EVENTS.name.encode()),
            ],
        )
    await publish_raw(bootstrap, DLQ, key=b"orphan", value=b"{}", headers=[("x-dlq-reason", b"?")])

    preview = await replay(settings, DLQ, dry_run=True)
    assert (preview.replayed, preview.skipped) == (2, 1)
    first = await replay(settings, DLQ, limit=1)
    rest = await replay(settings, DLQ)
    again = await replay(settings, DLQ)
    assert (first.replayed, rest.replayed, rest.skipped, again.replayed) == (1, 1, 1, 0)
    assert rest.by_topic == {COMPLAINT_EVENTS.name: 1}

    wanted = {event.subject for event in events}
    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: all(payloads(rs, cid, ComplaintRouted) for cid in wanted),
    )
    for event in events:
        assert len(payloads(seen, event.subject, ComplaintRouted)) == 1
        [back] = [
            r for r in seen if r.key == event.subject.encode() and r.type.endswith("submitted.v2")
        ]
        assert not any(name.startswith("x-dlq-") for name in back.headers)
        assert back.headers["ce_id"] == event.id  # the same event: consumers can tell repeats

    with pytest.raises(ValueError, match="not a dead-letter topic"):
        await replay(settings, COMPLAINT_EVENTS.name)
