"""SLA on the real broker and database: the first follow-up deadline of a routed complaint."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from schemas.events import ComplaintRouted, SlaDeadlineSet
from schemas.topics import COMPLAINT_EVENTS
from services.sla.app import create_app
from services.sla.config import SlaSettings
from tests import factories
from tests.conftest import service_env
from tests.support import Seen, as_event, key_on_same_partition, publish, read_topic, running


@pytest.fixture(scope="module")
async def client(
    bootstrap: str, mongo_url: str, db_suffix: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = SlaSettings(
        **service_env(bootstrap, mongo_url, f"it_sla_{db_suffix}"),  # type: ignore[arg-type]
        sla_extra_holidays=["2026-11-26"],
        outbox_poll_seconds=0.2,
    )
    async with running(create_app(settings)) as client:
        yield client


def routed(routed_at: datetime, time_zone: str) -> ComplaintRouted:
    return factories.routed(routed_at=routed_at, time_zone=time_zone)


def deadlines(cid: str, records: list[Seen]) -> list[SlaDeadlineSet]:
    return [
        SlaDeadlineSet.model_validate_json(r.value or b"")
        for r in records
        if r.key == cid.encode() and r.type == SlaDeadlineSet.event_type()
    ]


async def test_routed_complaint_gets_its_deadline_once_in_the_agency_zone(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    # Tuesday 24 Nov, WIT. Thursday 26 Nov is a holiday declared in configuration, so five
    # working days run Wed 25, Fri 27, Mon 30, Tue 1, Wed 2 December.
    event = as_event(routed(datetime(2026, 11, 24, 3, 0, tzinfo=UTC), "Asia/Jayapura"))
    await publish(bootstrap, COMPLAINT_EVENTS.name, [event, event])
    # Same partition: once the marker has its deadline, both copies of the event were seen.
    marker = as_event(
        factories.routed(
            key_on_same_partition(event.subject, COMPLAINT_EVENTS.partitions),
            time_zone="Asia/Jakarta",
        )
    )
    await publish(bootstrap, COMPLAINT_EVENTS.name, [marker])

    seen = await read_topic(
        bootstrap, COMPLAINT_EVENTS.name, until=lambda rs: bool(deadlines(marker.subject, rs))
    )
    [deadline] = deadlines(event.subject, seen)
    assert deadline.due_at == datetime(2026, 12, 2, 14, 59, 59, tzinfo=UTC)
    assert deadline.working_days == 5
    assert deadline.time_zone == "Asia/Jayapura"
    # Same instant, Jakarta: ends at 23:59:59 WIB, two hours later in UTC.
    assert deadlines(marker.subject, seen)[0].due_at == datetime(
        2026, 12, 2, 16, 59, 59, tzinfo=UTC
    )

    [clock] = (await client.get(f"/v1/clocks/{event.subject}")).json()
    assert clock["stage"] == "first_follow_up"
    assert clock["state"] == "running"
    assert clock["due_at"].startswith("2026-12-02T14:59:59")
