"""docker-compose, Kubernetes and Prometheus files agree with the code they deploy.

No container engine runs here, so these files are checked for what the services need: every
service present with its port, only real settings in its environment, probes on the real
endpoints, non-root read-only containers, and topics created by the platform's own command.
"""

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from asyncapi3 import AsyncAPI3

from devstack.platform import DEFAULT_PORTS
from kernel.runner import SERVICES
from schemas.events import ComplaintSubmitted
from schemas.topics import CONSUMER_GROUPS, all_topics, dead_letter_topic
from services.asyncapi import asyncapi_document
from tests.unit.test_configuration_docs import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
KNOWN_VARIABLES = {name.upper() for cls in SETTINGS for name in cls.model_fields}


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_compose_runs_every_service_on_its_port(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in SERVICES:
        service = services[name]
        port = str(DEFAULT_PORTS[name])
        assert service["command"] == [name]
        assert service["environment"]["HTTP_PORT"] == port
        assert service["ports"] == [f"{port}:{port}"]
        assert service["read_only"] is True
        assert service["depends_on"]["mongo"]["condition"] == "service_healthy"
        assert service["depends_on"]["kafka-init"]["condition"] == (
            "service_completed_successfully"
        )


def test_compose_sets_only_settings_the_services_read(compose: dict[str, Any]) -> None:
    for name in [*SERVICES, "kafka-init"]:
        unknown = set(compose["services"][name]["environment"]) - KNOWN_VARIABLES
        assert unknown == set(), name


def test_compose_creates_topics_with_the_platform_command(compose: dict[str, Any]) -> None:
    assert compose["services"]["kafka-init"]["entrypoint"] == ["lapor-admin", "create-topics"]
    assert "--replSet" in compose["services"]["mongo"]["command"]
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:")


def test_prometheus_scrapes_every_service() -> None:
    config = yaml.safe_load((ROOT / "ops/prometheus/prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    }
    assert targets == {f"{name}:{port}" for name, port in DEFAULT_PORTS.items()}


def test_kustomization_lists_every_manifest() -> None:
    base = ROOT / "k8s/base"
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    on_disk = {p.name for p in base.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk


@pytest.mark.parametrize("name", SERVICES)
def test_each_deployment_is_probed_non_root_and_read_only(name: str) -> None:
    docs = load_all(ROOT / "k8s/base/workloads.yaml")
    named = [d for d in docs if d["metadata"]["name"] == f"lapor-{name}"]
    deployment = next(d for d in named if d["kind"] == "Deployment")
    service = next(d for d in named if d["kind"] == "Service")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    port = DEFAULT_PORTS[name]

    assert container["args"] == [name]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert {"name": "HTTP_PORT", "value": str(port)} in container["env"]
    assert {e["name"] for e in container["env"]} <= KNOWN_VARIABLES
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["limits"]["memory"]
    assert service["spec"]["ports"][0]["port"] == port


@pytest.mark.parametrize(
    "path",
    [
        "k8s/base/kustomization.yaml",
        "k8s/overlays/dev/kustomization.yaml",
        "k8s/overlays/prod/kustomization.yaml",
        "k8s/components/without-topic-operator/kustomization.yaml",
    ],
)
def test_config_maps_hold_only_real_settings(path: str) -> None:
    kustomization = yaml.safe_load((ROOT / path).read_text())
    for generated in kustomization["configMapGenerator"]:
        names = {literal.split("=", 1)[0] for literal in generated["literals"]}
        assert names <= KNOWN_VARIABLES, names - KNOWN_VARIABLES


def test_published_asyncapi_document_is_current() -> None:
    committed = json.loads((ROOT / "docs/asyncapi.json").read_text())
    assert committed == json.loads(json.dumps(asyncapi_document())), (
        "regenerate with: .venv/bin/lapor-admin asyncapi > docs/asyncapi.json"
    )


def test_asyncapi_describes_every_event_with_resolvable_payloads() -> None:
    document = asyncapi_document()
    names = {m["name"] for m in document["components"]["messages"].values()}
    assert names == {
        "id.go.lapor.complaint.submitted.v2",
        "id.go.lapor.complaint.submitted.v1",  # deprecated, still taken while it is on the topic
        "id.go.lapor.complaint.routed.v1",
        "id.go.lapor.complaint.status_changed.v1",
        "id.go.lapor.complaint.merged.v1",
        "id.go.lapor.sla.deadline_set.v1",
        "id.go.lapor.sla.warning_issued.v1",
        "id.go.lapor.sla.breached.v1",
        "id.go.lapor.sla.escalated.v1",
        "id.go.lapor.sla.window_expired.v1",
        "id.go.lapor.sla.standard_checked.v1",
        # Version 2 on the notification topic, version 1 (deprecated) where it was.
        "id.go.lapor.notification.sent.v2",
        "id.go.lapor.notification.failed.v2",
        "id.go.lapor.notification.sent.v1",
        "id.go.lapor.notification.failed.v1",
        "id.go.lapor.notification.undeliverable.v1",
        "id.go.lapor.complaint.supported.v1",
        "id.go.lapor.complaint.reporter_erased.v1",
        "id.go.lapor.standard.superseded.v1",
        "id.go.lapor.standard.published.v1",
        "id.go.lapor.public.complaint_snapshot.v1",
        "id.go.lapor.agency.published.v1",
        "id.go.lapor.agency.withdrawn.v1",
        "dead-letter",
    }


def test_asyncapi_passes_an_independent_asyncapi_3_parser_and_every_ref_resolves() -> None:
    document = asyncapi_document()
    parsed = AsyncAPI3.model_validate(document)  # raises on anything AsyncAPI 3.0 forbids
    assert set(parsed.channels or {}) == set(document["channels"])

    def resolve(pointer: str) -> Any:
        node: Any = document
        for part in pointer.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    refs = re.findall(r'"\$ref": "(#/[^"]+)"', json.dumps(document))
    assert refs
    for ref in refs:
        assert resolve(ref) is not None, ref


def test_asyncapi_says_who_sends_and_receives_what_including_dead_letters_and_security() -> None:
    document = asyncapi_document()
    channels = {c["address"]: c for c in document["channels"].values()}
    assert {t.name for t in all_topics()} <= set(channels)
    operations = document["operations"]
    # Every consumer group reads what its handlers take, from the topics its handlers.py names.
    receives = operations["routingReceivesLaporComplaintEventsV1"]
    assert receives["action"] == "receive"
    taken = {ref["$ref"].rsplit("/", 1)[1] for ref in receives["messages"]}
    assert taken == {"ComplaintSubmitted", "ComplaintSubmittedV1", "ComplaintStatusChanged"}
    # The outbox relay publishes through declared publishers, e.g. the public stream.
    sends = operations["intakePublishesLaporPublicComplaintsV1"]
    assert sends["action"] == "send"
    assert [ref["$ref"].rsplit("/", 1)[1] for ref in sends["messages"]] == [
        "PublicComplaintSnapshot"
    ]
    # Each group's dead-letter topic, with the provenance headers replay-dlq relies on.
    for group in CONSUMER_GROUPS:
        dlq = channels[dead_letter_topic(group).name]
        assert set(dlq["messages"]) == {"DeadLetter"}
        assert operations[f"{group}DeadLetters"]["action"] == "send"
    dead = document["components"]["messages"]["DeadLetter"]["headers"]
    assert {"x-dlq-reason", "x-dlq-original-topic", "x-dlq-original-offset"} <= set(
        dead["required"]
    )
    submitted = document["components"]["messages"]["ComplaintSubmitted"]
    assert submitted["headers"]["properties"]["ce_type"] == {
        "const": ComplaintSubmitted.event_type()
    }
    # Production's brokers over TLS with SCRAM, as the services' brokers are configured there.
    production = document["servers"]["production"]
    assert production["protocol"] == "kafka-secure"
    [scheme] = production["security"]
    resolved = document["components"]["securitySchemes"][scheme["$ref"].rsplit("/", 1)[1]]
    assert resolved["type"] == "scramSha512"


def test_topics_an_admin_creates_keep_acknowledged_writes_through_a_broker_failure() -> None:
    """``lapor-admin create-topics`` (and services creating their own topics) ask for all
    replicas but one in sync: with three, a write acknowledged survives one broker's loss."""
    for topic in all_topics():
        assert topic.config(replication_factor=3)["min.insync.replicas"] == "2"
        assert topic.config(replication_factor=1)["min.insync.replicas"] == "1"


def _docker_compose(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "GRAFANA_ADMIN_PASSWORD"}
    return subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", *args],
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
    )


def test_debians_docker_compose_reads_the_file_as_deployed() -> None:
    """Debian's docker-compose (1.29, the one a ministry's Debian server has) renders the file;
    what it renders keeps Kafka's data on its volume, waits for a writable MongoDB primary
    and for the mail server, runs pinned releases, and has no default Grafana password."""
    ran = _docker_compose("config", GRAFANA_ADMIN_PASSWORD="from-the-operator")
    assert ran.returncode == 0, ran.stderr
    config = yaml.safe_load(ran.stdout)
    services = config["services"]
    kafka = services["kafka"]
    [volume] = kafka["volumes"]  # "name:target:mode"
    assert volume.split(":")[1] == kafka["environment"]["KAFKA_LOG_DIRS"]
    assert "isWritablePrimary" in " ".join(services["mongo"]["healthcheck"]["test"])
    assert services["notify"]["depends_on"]["mailpit"]["condition"] == "service_healthy"
    assert "healthcheck" in services["mailpit"]
    for name, service in services.items():
        image = service["image"]
        if image != "lapor-platform:local":
            assert re.search(r":v?\d+\.\d+\.\d+$", image), f"{name} runs a floating tag: {image}"
    assert services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == "from-the-operator"
    refused = _docker_compose("config")
    assert refused.returncode != 0 and "GRAFANA_ADMIN_PASSWORD" in refused.stderr
