"""Routing on the real broker and database: decisions, redelivery, poison messages, rule edits."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from schemas.complaint import ComplaintStatus, LifecycleAction, Role
from schemas.envelope import encode
from schemas.events import ComplaintRouted, ComplaintSubmitted
from schemas.topics import COMPLAINT_EVENTS, ROUTING_GROUP, dead_letter_topic
from services.routing.app import create_app
from services.routing.config import RoutingSettings
from services.routing.store import DECISIONS, DIRECTORY
from tests import factories
from tests.conftest import service_env
from tests.support import (
    Seen,
    as_event,
    bearer,
    eventually,
    key_on_same_partition,
    payloads,
    publish,
    publish_raw,
    read_topic,
    running,
)


@pytest.fixture(scope="module")
def settings(bootstrap: str, mongo_url: str, db_suffix: str) -> RoutingSettings:
    return RoutingSettings(
        **service_env(bootstrap, mongo_url, f"it_routing_{db_suffix}"),  # type: ignore[arg-type]
        routing_directory_cache_seconds=0,
        outbox_poll_seconds=0.2,
    )


@pytest.fixture(scope="module")
async def client(settings: RoutingSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_app(settings)) as client:
        yield client


def submitted(category: str, region_code: str) -> ComplaintSubmitted:
    return factories.submitted(category=category, region_code=region_code)


def routed_for(complaint_id: str, records: list[Seen]) -> list[ComplaintRouted]:
    return payloads(records, complaint_id, ComplaintRouted)


async def test_a_submitted_complaint_is_routed_with_its_reason(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    event = as_event(submitted("kesehatan.puskesmas", "81.71.03"))
    await publish(bootstrap, COMPLAINT_EVENTS.name, [event])
    cid = event.subject

    seen = await read_topic(
        bootstrap, COMPLAINT_EVENTS.name, until=lambda rs: bool(routed_for(cid, rs))
    )
    [routed] = routed_for(cid, seen)
    assert routed.agency_id == "dinkes-kota-ambon"
    assert routed.time_zone == "Asia/Jayapura"
    assert routed.rule_id == "kesehatan-ambon"
    record = next(r for r in seen if r.key == cid.encode() and r.type == routed.event_type())
    assert record.headers["ce_correlationid"] == event.correlation_id

    assert (await client.get(f"/v1/decisions/{cid}")).status_code == 401
    agency = bearer(Role.AGENCY_ADMIN, "a", agency="dinkes-kota-ambon")
    assert (await client.get(f"/v1/decisions/{cid}", headers=agency)).status_code == 403
    decision = (
        await client.get(f"/v1/decisions/{cid}", headers=bearer(Role.NATIONAL_ADMIN, "admin"))
    ).json()
    assert decision["agency_id"] == "dinkes-kota-ambon"
    assert decision["alternatives"] == ["kesehatan-maluku", "umum-ambon", "umum-maluku"]


async def test_a_redelivered_event_is_routed_once(
    client: httpx.AsyncClient,
    bootstrap: str,
    mongo: AsyncMongoClient[Any],
    settings: RoutingSettings,
) -> None:
    event = as_event(submitted("infrastruktur.jalan", "13.71"))
    await publish(bootstrap, COMPLAINT_EVENTS.name, [event, event, event])
    # A later complaint on the same partition: once it is routed, all three copies were seen.
    marker_id = key_on_same_partition(event.subject, COMPLAINT_EVENTS.partitions)
    marker = as_event(factories.submitted(marker_id, region_code="13.71"))
    await publish(bootstrap, COMPLAINT_EVENTS.name, [marker])

    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: bool(routed_for(marker.subject, rs)),
    )
    assert len(routed_for(event.subject, seen)) == 1
    decisions = mongo[settings.database_name][DECISIONS]
    assert await decisions.count_documents({"_id": event.subject}) == 1


async def test_poison_messages_are_dead_lettered_and_the_consumer_keeps_going(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    good = as_event(submitted("pendidikan", "13"))
    valid = encode(as_event(submitted("pendidikan", "13")))
    bad_payload = dict(valid.headers)
    poison = [
        (b"not json", list(valid.headers)),
        (valid.value, [h for h in valid.headers if h[0] != "ce_id"]),
        (b'{"complaint_id": {"$gt": ""}}', list(bad_payload.items())),
        (valid.value, []),
    ]
    for value, headers in poison:
        await publish_raw(
            bootstrap, COMPLAINT_EVENTS.name, key=b"poison", value=value, headers=headers
        )
    await publish(bootstrap, COMPLAINT_EVENTS.name, [good])

    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: bool(routed_for(good.subject, rs)),
    )
    assert routed_for(good.subject, seen)[0].agency_id == "pemprov-sumbar"
    dlq = await read_topic(
        bootstrap, dead_letter_topic(ROUTING_GROUP).name, until=lambda rs: len(rs) >= 4
    )
    reasons = [r.headers["x-dlq-reason"] for r in dlq]
    assert len(dlq) == 4
    assert any("payload does not match" in reason for reason in reasons)
    assert any("missing CloudEvents attributes: id" in reason for reason in reasons)
    assert any("missing ce_type" in reason for reason in reasons)
    assert all(r.headers["x-dlq-consumer-group"] == ROUTING_GROUP for r in dlq)


async def test_a_rule_edit_applies_to_the_next_complaint_without_a_restart(
    client: httpx.AsyncClient,
    bootstrap: str,
    mongo: AsyncMongoClient[Any],
    settings: RoutingSettings,
) -> None:
    directory = mongo[settings.database_name][DIRECTORY]
    await directory.update_one(
        {"_id": "current"},
        {
            "$push": {
                "rules": {
                    "rule_id": "pendidikan-padang",
                    "category": "pendidikan",
                    "region_prefix": "13.71",
                    "agency_id": "pemkot-padang",
                    "priority": 50,
                }
            }
        },
    )
    event = as_event(submitted("pendidikan.sekolah", "13.71.01"))
    await publish(bootstrap, COMPLAINT_EVENTS.name, [event])
    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: bool(routed_for(event.subject, rs)),
    )
    assert routed_for(event.subject, seen)[0].rule_id == "pendidikan-padang"

    listed = (await client.get("/v1/directory")).json()
    assert "pendidikan-padang" in [rule["rule_id"] for rule in listed["rules"]]


async def test_health_readiness_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200

    async def counted() -> str | None:
        text = (await client.get("/metrics")).text
        return text if "lapor_complaints_routed_total{" in text else None

    metrics = await eventually(counted)
    assert (
        'lapor_messages_consumed_total{event_type="id.go.lapor.complaint.submitted.v1"' in metrics
    )
    assert 'outcome="dead_lettered"' in metrics
    assert "lapor_outbox_backlog_messages" in metrics


async def test_bukan_wewenang_is_rerouted_without_the_bouncing_agencies_until_the_loop_limit(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    event = as_event(submitted("kesehatan.puskesmas", "81.71.03"))
    cid = event.subject
    await publish(bootstrap, COMPLAINT_EVENTS.name, [event])
    chain = ["dinkes-kota-ambon", "dinkes-prov-maluku", "pemkot-ambon", "pemprov-maluku"]
    for step, agency in enumerate(chain):
        seen = await read_topic(
            bootstrap,
            COMPLAINT_EVENTS.name,
            until=lambda rs, step=step: len(routed_for(cid, rs)) > step,  # type: ignore[misc]
        )
        decisions = routed_for(cid, seen)
        assert [d.agency_id for d in decisions] == chain[: step + 1]
        bounce = factories.status_changed(
            cid,
            action=LifecycleAction.BOUNCE,
            from_status=ComplaintStatus.FORWARDED_TO_AGENCY,
            to_status=ComplaintStatus.BOUNCED,
            actor_role="agency_admin",
            agency_id=agency,
            reason="Bukan wewenang",
        )
        await publish(bootstrap, COMPLAINT_EVENTS.name, [as_event(bounce)])
    assert "excluded after Bukan Wewenang" in decisions[-1].reason

    # The fourth bounce reaches the limit: no fifth decision, the national admin decides.
    async def given_up() -> str | None:
        text = (await client.get("/metrics")).text
        return text if 'lapor_reroutes_left_to_admin_total{reason="too_many"}' in text else None

    await eventually(given_up, timeout=30)
    final = await read_topic(bootstrap, COMPLAINT_EVENTS.name, until=lambda rs: False, timeout=2)
    assert len(routed_for(cid, final)) == 4


async def test_the_reporters_chosen_agency_is_honoured_or_flagged(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    honoured = as_event(
        factories.submitted(
            category="kesehatan.rs", region_code="81.71", chosen_agency_id="pemkot-ambon"
        )
    )
    declined = as_event(
        factories.submitted(
            category="infrastruktur.jalan", region_code="81.71", chosen_agency_id="bpjs-kesehatan"
        )
    )
    await publish(bootstrap, COMPLAINT_EVENTS.name, [honoured, declined])
    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: bool(
            routed_for(honoured.subject, rs) and routed_for(declined.subject, rs)
        ),
    )
    [yes] = routed_for(honoured.subject, seen)
    [no] = routed_for(declined.subject, seen)
    assert (yes.agency_id, yes.reporter_choice) == ("pemkot-ambon", "honoured")
    assert (no.agency_id, no.reporter_choice) == ("dinas-pupr-kota-ambon", "declined")
