"""Typical journey: the five services as separate processes on the real broker and database.

A complaint posted over HTTP comes back from GET routed, with an agency and a deadline; the
lifecycle events are on the topic in order, carrying the caller's correlation ID, and every
service logged its part under that ID.
"""

import importlib
import json
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from devstack.infra import free_port
from devstack.mailsink import MailSink
from devstack.platform import Platform, start_platform
from kernel.rebuild import RebuildReport
from kernel.runner import SERVICES
from schemas.complaint import Role
from schemas.events import (
    ComplaintReporterErased,
    ComplaintRouted,
    ComplaintStatusChanged,
    ComplaintSubmitted,
    NotificationSent,
    SlaDeadlineSet,
)
from schemas.topics import COMPLAINT_EVENTS, NOTIFICATION_EVENTS, PUBLIC_COMPLAINTS, all_topics
from services.rebuild import rebuild
from tests.support import QUICK_GROUPS, bearer, eventually, read_every_topic, read_topic
from tests.unit.test_observability import ROOT, alert_rules, used_metrics
from tests.unit.test_standards_domain import full_standard

SMS_TOKEN = "e2e-gateway-token"
OPEN311_KEY = "e2e-open311-key"
COMPLAINT = {
    "title": "Jalan berlubang di depan pasar",
    "body": "Lubang besar di Jalan Pattimura membahayakan pengendara motor.",
    "category": "infrastruktur.jalan",
    "region_code": "81.71",
    "report_type": "pengaduan",
    "anonymous": True,
    "reporter": {"name": "Siti Rahma", "email": "siti@example.id"},
}


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-logs")


@pytest.fixture(scope="module")
def mail() -> Iterator[MailSink]:
    sink = MailSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def platform(bootstrap: str, mongo_url: str, log_dir: Path, mail: MailSink) -> Iterator[Platform]:
    running = start_platform(
        kafka_bootstrap=bootstrap,
        mongo_url=mongo_url,
        log_dir=log_dir,
        extra_env=QUICK_GROUPS
        | {
            "INTAKE_SMS_GATEWAY_TOKEN": SMS_TOKEN,
            "INTAKE_OPEN311_API_KEYS": f'["{OPEN311_KEY}"]',
            "NOTIFY_SMTP_HOST": "127.0.0.1",
            "NOTIFY_SMTP_PORT": str(mail.port),
            "NOTIFY_SMTP_STARTTLS": "false",
            "NOTIFY_DIGEST_WINDOW_SECONDS": "3",  # both deadlines of a forward fall in one
            "NOTIFY_DISPATCH_POLL_SECONDS": "0.1",
        },
    )
    liaison = {
        "agency_id": "dinas-pupr-kota-ambon",
        "name": "Budi (penghubung)",
        "email": "budi@pupr.ambon.go.id",
    }
    registered = httpx.put(
        f"{running.url('notify')}/v1/officers/budi",
        json=liaison,
        headers=bearer(Role.NATIONAL_ADMIN, "admin"),
    )
    assert registered.status_code == 200, registered.text
    yield running
    running.stop()


def log_lines(log_dir: Path, service: str) -> list[dict[str, Any]]:
    lines = []
    for line in (log_dir / f"{service}.log").read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


async def test_posted_complaint_is_routed_with_agency_and_deadline(
    platform: Platform, bootstrap: str, log_dir: Path, mail: MailSink
) -> None:
    correlation_id = "e2e-journey-0001"
    async with httpx.AsyncClient(base_url=platform.url("intake"), timeout=10) as intake:
        response = await intake.post(
            "/v1/complaints", json=COMPLAINT, headers={"X-Correlation-ID": correlation_id}
        )
        assert response.status_code == 201
        tracking_id = response.json()["tracking_id"]

        async def routed_with_deadline() -> dict[str, Any] | None:
            body: dict[str, Any] = (await intake.get(f"/v1/complaints/{tracking_id}")).json()
            stages = {d["stage"] for d in body["deadlines"]}
            wanted = {"first_follow_up", "completion"}
            return body if body["agency"] and wanted <= stages else None

        status = await eventually(routed_with_deadline, timeout=60)

    assert status["status"] == "forwarded_to_agency"
    assert status["agency"] == {"id": "dinas-pupr-kota-ambon", "name": "Dinas PUPR Kota Ambon"}
    # The earliest binding deadline; the 60-day ceiling and completion run behind it.
    assert status["deadline"]["stage"] == "first_follow_up"
    assert {d["stage"] for d in status["deadlines"]} == {"first_follow_up", "completion", "ceiling"}
    assert status["deadline"]["working_days"] == 5
    assert status["deadline"]["time_zone"] == "Asia/Jayapura"
    assert status["deadline"]["due_at"] > status["submitted_at"]

    key = tracking_id.encode()
    # submitted, routed, forwarded, four deadlines (verification and ceiling on submission,
    # first follow-up and completion on forwarding); and on the notification topic eight
    # notifications sent: the complainant's receipt and "forwarded" emails; the liaison
    # officer's new assignment and two deadlines, each in the inbox and by email (the
    # deadlines' emails as one digest).
    notices = await read_topic(
        bootstrap,
        NOTIFICATION_EVENTS.name,
        until=lambda rs: sum(r.key == key for r in rs) >= 8,
        timeout=60,
    )
    sent = [r.type for r in notices if r.key == key]
    assert sent == [NotificationSent.event_type()] * 8
    records = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: sum(r.key == key for r in rs) >= 7,
        timeout=60,
    )
    mine = [r for r in records if r.key == key]
    types = [r.type for r in mine]
    # Services answer in parallel, so only causal order is fixed: each answer comes after
    # what it answers, on the one partition of this complaint.
    position: dict[str, int] = {}
    for index, record in enumerate(mine):
        name = record.type
        if record.type == SlaDeadlineSet.event_type():
            name = SlaDeadlineSet.model_validate_json(record.value or b"").stage.value
        position.setdefault(name, index)
    assert set(position) >= {
        ComplaintSubmitted.event_type(),
        ComplaintRouted.event_type(),
        ComplaintStatusChanged.event_type(),
        "verification",
        "ceiling",
        "first_follow_up",
        "completion",
    }
    assert position[ComplaintSubmitted.event_type()] == 0
    assert position[ComplaintRouted.event_type()] < position[ComplaintStatusChanged.event_type()]
    for stage in ("first_follow_up", "completion"):
        assert position[ComplaintStatusChanged.event_type()] < position[stage]
    assert types.count(SlaDeadlineSet.event_type()) == 4
    forwarded = ComplaintStatusChanged.model_validate_json(
        next(r.value for r in mine if r.type == ComplaintStatusChanged.event_type()) or b""
    )
    assert (forwarded.action, forwarded.to_status, forwarded.actor_role) == (
        "forward",
        "forwarded_to_agency",
        "system",
    )
    # The services that follow complaints fetch no notification facts (v1 is off by default).
    assert len(mine) == 7
    emails = [r for r in mail.received if tracking_id in r.subject or tracking_id in r.body]
    assert sorted(r.to[0] for r in emails) == [
        "budi@pupr.ambon.go.id",
        "budi@pupr.ambon.go.id",
        "siti@example.id",
        "siti@example.id",
    ]
    to_agency = "".join(r.body for r in emails if r.to == ("budi@pupr.ambon.go.id",))
    assert "Anonim" in to_agency and "Siti" not in to_agency
    notified = [r for r in notices if r.key == key]
    for records in (mine, notified):  # keyed by complaint: one partition each, in order
        assert len({r.partition for r in records}) == 1
    assert {r.headers["ce_correlationid"] for r in mine + notified} == {correlation_id}
    assert {r.headers["ce_source"] for r in mine} == {
        "/lapor/intake",
        "/lapor/routing",
        "/lapor/sla",
    }
    assert {r.headers["ce_source"] for r in notified} == {"/lapor/notify"}

    for service in ("intake", "routing", "sla", "notify"):
        tagged = [
            line
            for line in log_lines(log_dir, service)
            if line.get("correlation_id") == correlation_id
        ]
        assert tagged, f"{service} logged nothing under the correlation ID"
        if service != "intake":
            assert all(line.get("complaint_id") == tracking_id for line in tagged)


async def test_every_service_reports_ready_and_serves_metrics(platform: Platform) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for name in platform.services:
            assert (await client.get(f"{platform.url(name)}/readyz")).status_code == 200
            metrics = (await client.get(f"{platform.url(name)}/metrics")).text
            assert "lapor_http_requests_total" in metrics
            openapi = (await client.get(f"{platform.url(name)}/openapi.json")).json()
            assert "/healthz" in openapi["paths"]


def test_services_stop_gracefully(bootstrap: str, mongo_url: str, tmp_path: Path) -> None:
    running = start_platform(
        kafka_bootstrap=bootstrap,
        mongo_url=mongo_url,
        services=("routing", "standards"),
        log_dir=tmp_path,
        extra_env=QUICK_GROUPS,
    )
    running.stop()
    for name, server in running.services.items():
        # uvicorn re-raises SIGTERM after its shutdown completes; -9 would mean it had to be killed.
        assert server.process.returncode in (0, -15), name
        events = [line["event"] for line in log_lines(tmp_path, name)]
        assert "service_stopping" in events
        assert events[-2:] == [
            "Application shutdown complete.",
            f"Finished server process [{server.process.pid}]",
        ]


CITIZEN = bearer(Role.CITIZEN, "e2e-citizen")
ADMIN = bearer(Role.NATIONAL_ADMIN, "e2e-admin")
DINKES = bearer(Role.AGENCY_ADMIN, "e2e-dinkes", agency="dinkes-kota-ambon")
PROVINCE = bearer(Role.AGENCY_ADMIN, "e2e-prov", agency="dinkes-prov-maluku")
UNIT = bearer(Role.UNIT_OFFICER, "e2e-unit", agency="dinkes-prov-maluku", unit="bidang-yankes")


async def until_status(client: httpx.AsyncClient, cid: str, status: str) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"/v1/complaints/{cid}", headers=ADMIN)).json()
        return body if body["status"] == status else None

    result: dict[str, Any] = await eventually(reached, timeout=60)
    return result


async def step(
    client: httpx.AsyncClient, cid: str, who: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await client.post(f"/v1/complaints/{cid}/actions", json=body, headers=who)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_every_lifecycle_path_with_the_services_running(
    platform: Platform, bootstrap: str
) -> None:
    async with httpx.AsyncClient(base_url=platform.url("intake"), timeout=10) as intake:
        # Routed automatically to the city health office, which says it is not its authority.
        health = {**COMPLAINT, "category": "kesehatan.puskesmas", "title": "Puskesmas tutup"}
        cid = (await intake.post("/v1/complaints", json=health, headers=CITIZEN)).json()[
            "tracking_id"
        ]
        routed = await until_status(intake, cid, "forwarded_to_agency")
        assert routed["agency"]["id"] == "dinkes-kota-ambon"
        await step(intake, cid, DINKES, action="bounce", reason="Kewenangan dinas provinsi")
        # Routing decides again without the city office: the provincial health office.
        rerouted = await until_status(intake, cid, "forwarded_to_agency")
        assert rerouted["agency"]["id"] == "dinkes-prov-maluku"
        await step(intake, cid, PROVINCE, action="forward_to_unit", unit_id="bidang-yankes")
        await step(intake, cid, UNIT, action="follow_up", text="Petugas dikirim")
        await step(intake, cid, UNIT, action="answer", text="Puskesmas buka kembali")
        await step(intake, cid, CITIZEN, action="reply", text="Masih tutup hari Sabtu")
        await step(intake, cid, UNIT, action="answer", text="Jadwal Sabtu dipulihkan")
        closed = await step(intake, cid, PROVINCE, action="close", reason="Jawaban final")
        rated = await intake.put(f"/v1/complaints/{cid}/rating", json={"score": 5}, headers=CITIZEN)
        assert rated.status_code == 200
        assert [h["action"] for h in closed["history"]] == [
            "submit",
            "forward",
            "bounce",
            "reroute",
            "forward_to_unit",
            "follow_up",
            "answer",
            "reply",
            "answer",
            "close",
        ]
        assert closed["history"][3]["actor_role"] == "system"  # routing re-routed it

        # Escalated when the agency is late. (Defer, complete and reject happen before
        # routing; with automatic routing running they are covered by the integration tests.)
        other = (await intake.post("/v1/complaints", json=COMPLAINT, headers=CITIZEN)).json()
        await until_status(intake, other["tracking_id"], "forwarded_to_agency")
        escalated = await step(
            intake, other["tracking_id"], ADMIN, action="escalate", reason="Batas waktu lewat"
        )
        assert escalated["status"] == "escalated"

        # SMS and Open311 reach the same flow.
        sms = await intake.post(
            "/v1/channels/sms",
            json={
                "message_id": "e2e-1",
                "sender": "+6281200000001",
                "text": "LAPOR#JALAN#8171#Jalan amblas di Jalan Sultan Hairun",
            },
            headers={"X-Gateway-Token": SMS_TOKEN},
        )
        assert sms.status_code == 200
        sms_routed = await until_status(intake, sms.json()["tracking_id"], "forwarded_to_agency")
        assert sms_routed["agency"]["id"] == "dinas-pupr-kota-ambon"
        # The escalated web report and the SMS report are the same road: merge them.
        merged = await step(
            intake,
            other["tracking_id"],
            ADMIN,
            action="merge",
            merge_into=sms_routed["tracking_id"],
        )
        assert merged["status"] == "merged"
        open311 = await intake.post(
            "/open311/v2/requests.json",
            data={
                "api_key": OPEN311_KEY,
                "service_code": "infrastruktur.jalan",
                "address_string": "Jl. Pattimura 1",
                "attribute[region_code]": "13.71",
                "description": "Jalan berlubang dekat Pasar Raya Padang",
                "phone": "+6281200000002",
            },
        )
        assert open311.status_code == 201
        request_id = open311.json()[0]["service_request_id"]
        await until_status(intake, request_id, "forwarded_to_agency")
        via_open311 = (await intake.get(f"/open311/v2/requests/{request_id}.json")).json()[0]
        assert via_open311["agency_responsible"] == "Dinas PUPR Kota Padang"

    records = await read_topic(
        bootstrap,
        PUBLIC_COMPLAINTS.name,
        until=lambda rs: any(
            r.key == cid.encode() and b'"status":"closed"' in (r.value or b"") for r in rs
        ),
        timeout=60,
    )
    assert records
    for record in records:
        text = (record.value or b"").decode()
        for secret in ("Siti Rahma", "siti@example.id", "+6281200000001", "+6281200000002"):
            assert secret not in text


async def test_a_published_standard_reaches_routing_sla_and_open311(platform: Platform) -> None:
    standard = full_standard(
        agency_id="dinkes-kota-ambon",
        agency_name="Dinas Kesehatan Kota Ambon",
        unit_id="puskesmas-rijali",
        region_code="81.71",
        service_name="Layanan Imunisasi Anak",
    )
    standard["delivery"]["completion_time"] = {"amount": 1, "unit": "days"}
    async with httpx.AsyncClient(timeout=10) as http:
        saved = await http.post(
            f"{platform.url('standards')}/v1/standards", json=standard, headers=DINKES
        )
        assert saved.status_code == 201, saved.text
        sid = saved.json()["standard_id"]

        # Open311 lists it as a service (intake derives its list from the standard stream).
        async def listed() -> bool:
            services = (await http.get(f"{platform.url('intake')}/open311/v2/services.json")).json()
            return sid in {s["service_code"] for s in services}

        await eventually(listed, timeout=60)

        # Routing and SLA read the standard stream beside the complaint stream, with no order
        # between the two: file the complaint once both have learnt the standard (who publishes
        # it; what it promises).
        async def both_know_the_standard() -> bool:
            for service in ("routing", "sla"):
                metrics = (await http.get(f"{platform.url(service)}/metrics")).text
                if not any(
                    line.startswith("lapor_messages_consumed_total")
                    and 'event_type="id.go.lapor.standard.published.v1"' in line
                    and 'outcome="processed"' in line
                    and not line.endswith(" 0.0")
                    for line in metrics.splitlines()
                ):
                    return False
            return True

        await eventually(both_know_the_standard, timeout=60)

        # A complaint about it, filed under a general category that would otherwise go to the
        # city government, goes to the agency and unit that publish the standard; the SLA
        # service checks it against the version in force (waited 4 days for a 1-day promise).
        complaint = {
            **COMPLAINT,
            "category": "umum",
            "service_standard_id": sid,
            "experience": {"waited_days": 4, "paid_idr": 0},
        }
        posted = await http.post(
            f"{platform.url('intake')}/v1/complaints", json=complaint, headers=CITIZEN
        )
        cid = posted.json()["tracking_id"]

        async def checked() -> dict[str, Any] | None:
            body: dict[str, Any] = (
                await http.get(f"{platform.url('intake')}/v1/complaints/{cid}", headers=ADMIN)
            ).json()
            return body if body["status"] == "forwarded_to_unit" and body["standard"] else None

        body = await eventually(checked, timeout=60)
    assert (body["agency"]["id"], body["unit_id"]) == ("dinkes-kota-ambon", "puskesmas-rijali")
    assert body["standard"]["standard_version"] == 1
    assert body["standard"]["violations"] == ["completion_time"]


async def test_a_real_prometheus_scrapes_every_service_and_finds_every_metric_in_use(
    platform: Platform, tmp_path: Path
) -> None:
    port = free_port()
    targets = [f"127.0.0.1:{server.port}" for server in platform.services.values()]
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in sorted((ROOT / "ops/prometheus/rules").glob("*.yml"))],
        "scrape_configs": [{"job_name": "lapor", "static_configs": [{"targets": targets}]}],
    }
    (tmp_path / "prometheus.yml").write_text(json.dumps(config))
    prometheus = subprocess.Popen(  # noqa: ASYNC220  (started once; the test awaits its API)
        [
            "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        async with httpx.AsyncClient(timeout=10) as http:

            async def all_up() -> bool:
                try:
                    found = (await http.get(f"{api}/targets")).json()["data"]["activeTargets"]
                except (httpx.HTTPError, ValueError):  # not listening, or not ready (no JSON)
                    return False
                return len(found) == len(targets) and all(t["health"] == "up" for t in found)

            await eventually(all_up, timeout=60)
            metadata = (await http.get(f"{api}/metadata")).json()["data"]
            series = set((await http.get(f"{api}/label/__name__/values")).json()["data"])
            rules = (await http.get(f"{api}/rules")).json()["data"]["groups"]
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=30)

    # Series seen, plus every family announced with # TYPE even before its first sample (a
    # labelled counter nothing has incremented yet).
    scraped = set(series) | {"up"} | set(metadata)
    for name, entries in metadata.items():
        if entries[0]["type"] == "counter":
            scraped.add(name if name.endswith("_total") else f"{name}_total")
        if entries[0]["type"] == "histogram":
            scraped |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    missing = used_metrics() - scraped
    assert missing == set(), f"alerts or dashboards read metrics no service exports: {missing}"
    loaded = {rule["name"] for group in rules for rule in group["rules"]}
    recorded = {rule["record"] for rule in alert_rules("record")}
    assert loaded == {rule["alert"] for rule in alert_rules()} | recorded


# The reporter whose data the erasure test erases (the rebuild after it must not bring it back).
ERASED = ("Wulan Sasmita", "wulan.dihapus@example.id", "6281355557777")
# Every reporter's contact details this module files.
CONTACTS = ("Siti Rahma", "siti@example.id", "6281200000001", "6281200000002", *ERASED)


def traces_in(raw: bytes | str, secrets: Sequence[str]) -> list[str]:
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    return [s for s in secrets if s in text]


async def test_an_erased_reporter_is_gone_from_every_services_database_and_the_report_stays(
    platform: Platform, mongo_url: str, mail: MailSink, bootstrap: str, log_dir: Path
) -> None:
    """UU 27/2022 (PDP), Pasal 8: at the reporter's request their name and contact details
    leave every service's records (read raw, not through an API), and the copies on the topics
    (sealed under the report's key from the start) no longer open; nothing logs them, no new
    mail carries them; the report stays, anonim, with its agency and deadlines."""
    name, email, phone = ERASED
    report = {**COMPLAINT, "anonymous": False}
    report["reporter"] = {"name": name, "email": email, "phone": "+" + phone}
    me, admin = bearer(Role.CITIZEN, "warga-hapus"), bearer(Role.NATIONAL_ADMIN, "admin")
    async with httpx.AsyncClient(base_url=platform.url("intake"), timeout=10) as intake:
        cid = (await intake.post("/v1/complaints", json=report, headers=me)).json()["tracking_id"]

        async def routed_and_told() -> bool:
            body = (await intake.get(f"/v1/complaints/{cid}", headers=admin)).json()
            told = any(email in r.to for r in mail.received)
            # The agency's liaison is told who filed it (the report is not anonim).
            told = told and any(cid in r.subject and name in r.body for r in mail.received)
            return bool(body["agency"] and body["deadlines"]) and told

        await eventually(routed_and_told, timeout=60)
        mailed_before = len(mail.received)
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
        try:

            async def traces() -> dict[str, list[str]]:
                found: dict[str, list[str]] = {}
                for service in SERVICES:
                    db = client[f"lapor_{service}"]
                    for collection in await db.list_collection_names():
                        raw = json.dumps(await db[collection].find().to_list(None), default=str)
                        hits = [s for s in (name, email, phone) if s in raw]
                        if hits:
                            found[f"lapor_{service}.{collection}"] = hits
                return found

            # Before the erasure already: what the services store of the reporter, their
            # contact and the liaison's notice that named them, is sealed under the report's
            # key; erasure destroys it, and nothing is left to scrub.
            assert await traces() == {}
            unauthenticated = await intake.post(f"/v1/complaints/{cid}/reporter-erasure")
            assert unauthenticated.status_code == 401
            stranger = bearer(Role.CITIZEN, "orang-lain")
            refused = await intake.post(f"/v1/complaints/{cid}/reporter-erasure", headers=stranger)
            assert refused.status_code == 403
            erased = await intake.post(f"/v1/complaints/{cid}/reporter-erasure", headers=me)
            assert erased.status_code == 200
            again = await intake.post(f"/v1/complaints/{cid}/reporter-erasure", headers=admin)
            assert again.json()["erased_at"] == erased.json()["erased_at"]
            assert await traces() == {}
        finally:
            await client.close()

        async def nothing_opens() -> list[dict[str, Any]] | None:
            async with httpx.AsyncClient(base_url=platform.url("notify")) as notify:
                log: list[dict[str, Any]] = (
                    await notify.get(f"/v1/messages/{cid}", headers=admin)
                ).json()
            to_reporter = [m for m in log if m["channel"] in ("email", "sms")]
            reporter_gone = all(
                m["address"] is None for m in to_reporter if m["recipient_role"] == "complainant"
            )
            notices = [m for m in log if m["template"] == "agency_new_assignment"]
            struck = notices and all(name not in m["body"] for m in notices)
            return log if reporter_gone and struck else None

        # Through notify's own API too (the national admin's view): no address, no name.
        await eventually(nothing_opens, timeout=30)
        shown = (await intake.get(f"/v1/complaints/{cid}", headers=admin)).json()
    assert shown["reporter"] is None
    assert shown["agency"]["id"] == "dinas-pupr-kota-ambon" and shown["deadlines"]
    assert shown["status"] == "forwarded_to_agency"
    topics = await read_every_topic(bootstrap, [t.name for t in all_topics()])
    assert traces_in(topics, ERASED) == []
    assert ComplaintReporterErased.event_type().encode() in topics  # for other systems to follow
    new_mail = [f"{m.to} {m.subject} {m.body}" for m in mail.received[mailed_before:]]
    assert traces_in("\n".join(new_mail), ERASED) == []
    logs = "\n".join((log_dir / f"{service}.log").read_text() for service in SERVICES)
    assert traces_in(logs, ERASED) == []


async def test_no_topic_or_dead_letter_topic_carries_a_reporters_contact_in_clear(
    platform: Platform, bootstrap: str
) -> None:
    """What every subscriber, dead-letter reader, broker disk and backup holds: the topics read
    raw with a plain Kafka client after every journey above hold none of the contact details
    the reporters gave."""
    names = [t.name for t in all_topics()]
    raw = await read_every_topic(bootstrap, names)
    assert ComplaintSubmitted.event_type().encode() in raw  # the journeys' reports are there
    assert traces_in(raw, CONTACTS) == []


@pytest.mark.parametrize("service", SERVICES)
async def test_each_read_model_rebuilt_from_the_stream_equals_the_live_one(
    platform: Platform, bootstrap: str, mongo_url: str, service: str
) -> None:
    """After the journeys above: ``lapor-admin rebuild`` replays the stream through the
    service's own handlers into another database and finds the same read model."""
    module = importlib.import_module(f"services.{service}.app")
    wiring = {"notify_intake_url": platform.url("intake")} if service == "notify" else {}
    live = module.Settings(kafka_bootstrap_servers=bootstrap, mongo_url=mongo_url, **wiring)

    reports: list[RebuildReport] = []

    async def rebuilt_equal() -> RebuildReport | None:
        reports.append(await rebuild(service, into=f"rebuilt_{service}", live=live))
        return reports[-1] if reports[-1].equal else None

    try:  # live consumers may still be catching up
        report = await eventually(rebuilt_equal, timeout=60)
    except AssertionError:
        raise AssertionError(f"rebuilt differs from live: {reports[-1].collections}") from None
    assert report.applied > 0
    assert all(c.live == c.rebuilt for c in report.collections.values())
    assert any(c.live > 0 for c in report.collections.values()), "nothing was compared"


async def test_a_rebuild_after_the_erasure_brings_no_reporter_back(mongo_url: str) -> None:
    """After the rebuilds above, from the same log that still holds the erased reporter's
    submission: the key is destroyed, so no rebuilt read model holds their details."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        found = {}
        for service in SERVICES:
            db = client[f"rebuilt_{service}"]
            for collection in await db.list_collection_names():
                raw = json.dumps(await db[collection].find().to_list(None), default=str)
                if hits := traces_in(raw, ERASED):
                    found[f"rebuilt_{service}.{collection}"] = hits
        assert "rebuilt_notify" in await client.list_database_names(), "no rebuild ran"
    finally:
        await client.close()
    assert found == {}
