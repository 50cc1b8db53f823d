"""Routing on the real broker and database: decisions, redelivery, poison messages, rule edits."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from schemas.complaint import ComplaintStatus, LifecycleAction, Role
from schemas.envelope import encode
from schemas.events import AgencyPublished, ComplaintRouted, ComplaintSubmitted
from schemas.topics import AGENCY_DIRECTORY, COMPLAINT_EVENTS, ROUTING_GROUP, dead_letter_topic
from services.routing.app import create_app
from services.routing.config import RoutingSettings
from services.routing.store import DECISIONS
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
    subjects,
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
    event = as_event(
        factories.submitted(
            category="kesehatan.puskesmas", region_code="81.71.03", submitted_at=datetime.now(UTC)
        )
    )
    delays_before = await routing_delays(client)
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
    # The routing SLO's indicator counted it, as routed within 30 seconds of its submission.
    count, within = await routing_delays(client)
    assert count >= delays_before[0] + 1 and within >= delays_before[1] + 1


async def routing_delays(client: httpx.AsyncClient) -> tuple[float, float]:
    """How many decisions the routing-delay histogram counted, and how many within 30 s."""
    text = (await client.get("/metrics")).text
    count = within = 0.0
    for line in text.splitlines():
        if line.startswith("lapor_complaint_routing_delay_seconds_count "):
            count = float(line.split()[-1])
        if line.startswith('lapor_complaint_routing_delay_seconds_bucket{le="30.0"} '):
            within = float(line.split()[-1])
    return count, within


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


ADMIN = bearer(Role.NATIONAL_ADMIN, "admin-1")


async def test_rules_are_edited_through_the_api_with_versions_and_an_audit_trail(
    client: httpx.AsyncClient,
) -> None:
    current = await client.get("/v1/directory")
    version = int(current.headers["ETag"].strip('"'))
    rule = {"category": "pariwisata", "region_prefix": "81.71", "agency_id": "pemkot-ambon"}
    agency = bearer(Role.AGENCY_ADMIN, "a", agency="pemkot-ambon")
    assert (await client.put("/v1/rules/pariwisata-ambon", json=rule)).status_code == 401
    refused = await client.put("/v1/rules/pariwisata-ambon", json=rule, headers=agency)
    assert refused.status_code == 403

    # Inconsistent or malformed edits are refused whole, with the field named.
    ghost = await client.put(
        "/v1/rules/pariwisata-ambon", json=rule | {"agency_id": "dinas-hantu"}, headers=ADMIN
    )
    assert ghost.status_code == 422
    assert ghost.json()["code"] == "inconsistent_directory"
    assert "unknown agencies: dinas-hantu" in ghost.json()["errors"][0]["message"]
    no_unit = await client.put(
        "/v1/rules/pariwisata-ambon", json=rule | {"unit_id": "bidang-x"}, headers=ADMIN
    )
    assert "does not have" in no_unit.json()["errors"][0]["message"]
    bad_region = await client.put(
        "/v1/rules/pariwisata-ambon", json=rule | {"region_prefix": "81.99"}, headers=ADMIN
    )
    assert bad_region.status_code == 422
    assert bad_region.json()["errors"][0]["field"] == "body.region_prefix"
    stale = await client.put(
        "/v1/rules/pariwisata-ambon",
        json=rule,
        headers=ADMIN | {"If-Match": f'"{version - 1 if version > 1 else 999}"'},
    )
    assert stale.status_code == 412
    assert stale.json()["current_version"] == version
    assert (await client.get("/v1/directory")).headers["ETag"] == f'"{version}"'

    saved = await client.put(
        "/v1/rules/pariwisata-ambon", json=rule, headers=ADMIN | {"If-Match": f'"{version}"'}
    )
    assert saved.status_code == 200, saved.text
    assert saved.headers["ETag"] == f'"{version + 1}"'
    assert "pariwisata-ambon" in {r["rule_id"] for r in saved.json()["rules"]}
    removed = await client.delete("/v1/rules/pariwisata-ambon", headers=ADMIN)
    assert removed.headers["ETag"] == f'"{version + 2}"'
    missing = await client.delete("/v1/rules/pariwisata-ambon", headers=ADMIN)
    assert (missing.status_code, missing.json()["code"]) == (404, "rule_not_found")

    assert (await client.get("/v1/directory/versions", headers=agency)).status_code == 403
    auditor = bearer(Role.AUDITOR, "bpk-1")
    trail = (await client.get("/v1/directory/versions?limit=2", headers=auditor)).json()
    assert [(t["version"], t["change"]["kind"]) for t in trail] == [
        (version + 2, "rule_removed"),
        (version + 1, "rule_put"),
    ]
    assert trail[1]["changed_by"] == "national_admin:admin-1"
    assert trail[1]["change"]["rule"]["agency_id"] == "pemkot-ambon"
    then = (await client.get(f"/v1/directory/versions/{version + 1}", headers=auditor)).json()
    assert "pariwisata-ambon" in {r["rule_id"] for r in then["directory"]["rules"]}
    seed = (await client.get("/v1/directory/versions/1", headers=auditor)).json()
    assert seed["changed_by"] == "seed"


async def test_an_explanation_can_be_asked_before_a_rule_goes_live(
    client: httpx.AsyncClient,
) -> None:
    explained = await client.get(
        "/v1/directory/explain",
        params={"category": "kesehatan.puskesmas", "region_code": "81.71.02"},
    )
    body = explained.json()
    assert (body["agency_id"], body["rule_id"], body["confidence"]) == (
        "dinkes-kota-ambon",
        "kesehatan-ambon",
        "medium",  # kesehatan-maluku has the same priority; the city rule is more specific
    )
    assert body["alternatives"][0] == "kesehatan-maluku"
    bad = await client.get("/v1/directory/explain", params={"category": "x", "region_code": "7"})
    assert bad.status_code == 422


async def test_rule_changes_while_complaints_flow_route_each_complaint_once_by_the_table_in_force(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    disdik = {"name": "Dinas Pendidikan Kota Padang", "region_code": "13.71"}
    made = await client.put("/v1/agencies/disdik-kota-padang", json=disdik, headers=ADMIN)
    assert made.status_code == 200, made.text
    before = [as_event(submitted("pendidikan.sekolah", "13.71.01")) for _ in range(30)]
    after = [as_event(submitted("pendidikan.sekolah", "13.71.01")) for _ in range(30)]

    async def flow() -> None:
        for event in before:
            await publish(bootstrap, COMPLAINT_EVENTS.name, [event])

    flowing = asyncio.create_task(flow())
    await asyncio.sleep(0.05)
    edited = await client.put(
        "/v1/rules/pendidikan-padang",
        json={
            "category": "pendidikan",
            "region_prefix": "13.71",
            "agency_id": "disdik-kota-padang",
            "priority": 50,
        },
        headers=ADMIN,
    )
    assert edited.status_code == 200
    edit_version = int(edited.headers["ETag"].strip('"'))
    await flowing
    await publish(bootstrap, COMPLAINT_EVENTS.name, after)

    everyone = {event.subject for event in before + after}
    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: everyone <= subjects(rs, ComplaintRouted),
        timeout=60,
    )
    for event in before + after:
        [routed] = routed_for(event.subject, seen)  # exactly once
        assert routed.directory_version is not None
        expected = (
            "disdik-kota-padang" if routed.directory_version >= edit_version else ("pemkot-padang")
        )
        assert routed.agency_id == expected, routed
    # Everything submitted after the edit answered used the new table.
    assert {routed_for(e.subject, seen)[0].agency_id for e in after} == {"disdik-kota-padang"}


async def test_a_rule_naming_a_unit_sends_the_complaint_straight_there(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    event = as_event(submitted("kependudukan.ktp", "81.71.02"))
    await publish(bootstrap, COMPLAINT_EVENTS.name, [event])
    seen = await read_topic(
        bootstrap, COMPLAINT_EVENTS.name, until=lambda rs: bool(routed_for(event.subject, rs))
    )
    [routed] = routed_for(event.subject, seen)
    assert (routed.agency_id, routed.unit_id) == ("pemkot-ambon", "disdukcapil")
    assert "disdukcapil" in routed.agency_units and routed.proposal is False


async def test_manual_mode_only_proposes_and_records_how_the_admin_settled_it(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    directory = (await client.get("/v1/directory")).json()
    dinkes = next(a for a in directory["agencies"] if a["agency_id"] == "dinkes-prov-sumbar")
    manual = {k: v for k, v in dinkes.items() if k != "agency_id"} | {"routing_mode": "manual"}
    assert (
        await client.put("/v1/agencies/dinkes-prov-sumbar", json=manual, headers=ADMIN)
    ).status_code == 200
    event = as_event(submitted("kesehatan.rs", "13.02"))
    await publish(bootstrap, COMPLAINT_EVENTS.name, [event])
    seen = await read_topic(
        bootstrap, COMPLAINT_EVENTS.name, until=lambda rs: bool(routed_for(event.subject, rs))
    )
    [proposed] = routed_for(event.subject, seen)
    assert (proposed.agency_id, proposed.proposal) == ("dinkes-prov-sumbar", True)

    # The national admin forwards it elsewhere by hand; routing keeps that next to its proposal.
    by_hand = factories.status_changed(
        event.subject, actor_role=Role.NATIONAL_ADMIN, agency_id="pemprov-sumbar"
    )
    await publish(bootstrap, COMPLAINT_EVENTS.name, [as_event(by_hand)])

    async def settled() -> dict[str, Any] | None:
        found = (await client.get(f"/v1/decisions/{event.subject}", headers=ADMIN)).json()
        return found if found.get("confirmation") else None

    decision = await eventually(settled)
    assert decision["proposal"] is True
    assert decision["confirmation"]["agency_id"] == "pemprov-sumbar"
    assert decision["confirmation"]["changed"] is True


async def test_health_readiness_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200

    async def counted() -> str | None:
        text = (await client.get("/metrics")).text
        return text if "lapor_complaints_routed_total{" in text else None

    metrics = await eventually(counted)
    assert (
        'lapor_messages_consumed_total{event_type="id.go.lapor.complaint.submitted.v2"' in metrics
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
        bounced = as_event(bounce)
        # Each bounce published twice (a relay killed before deleting it): decided on once.
        await publish(bootstrap, COMPLAINT_EVENTS.name, [bounced, bounced])
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


async def test_the_directory_is_announced_at_start_and_after_every_edit(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    def from_routing(records: list[Seen], agency_id: str) -> list[AgencyPublished]:
        return [
            AgencyPublished.model_validate_json(r.value or b"")
            for r in records
            if r.key == agency_id.encode()
            and r.headers.get("ce_source") == "/lapor/routing"
            and r.type == AgencyPublished.event_type()
        ]

    desk = "kemenpanrb-admin-nasional"
    seen = await read_topic(
        bootstrap, AGENCY_DIRECTORY.name, until=lambda rs: bool(from_routing(rs, desk))
    )
    assert from_routing(seen, desk)[0].national_desk
    [ambon] = from_routing(seen, "dinkes-kota-ambon")[:1]
    assert (ambon.name, ambon.time_zone) == ("Dinas Kesehatan Kota Ambon", "Asia/Jayapura")
    assert [u.unit_id for u in ambon.units][:1] == ["puskesmas-rijali"]

    agency_id = f"dinas-uji-{factories.new_tracking_id()[4:9].lower()}"
    body = {"name": "Dinas Uji Kota Padang", "region_code": "13.71"}
    made = await client.put(f"/v1/agencies/{agency_id}", json=body, headers=ADMIN)
    assert made.status_code == 200, made.text
    seen = await read_topic(
        bootstrap, AGENCY_DIRECTORY.name, until=lambda rs: bool(from_routing(rs, agency_id))
    )
    [published] = from_routing(seen, agency_id)
    assert (published.name, published.time_zone, published.national_desk) == (
        "Dinas Uji Kota Padang",
        "Asia/Jakarta",
        False,
    )
    assert published.directory_version == made.json()["version"]
