"""Every kustomize overlay renders, validates against the Kubernetes schemas, and agrees with
the code: topics, alert rules, probes, security and what each overlay promises."""

import importlib.util
import subprocess
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml

from kernel.settings import ServiceSettings
from schemas.topics import all_topics

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ("dev", "prod")
KUBERNETES = "1.33.0"
SERVICES = ("intake", "routing", "sla", "notify", "standards")
# Custom resources the Kubernetes schemas do not know; checked field by field below.
CUSTOM = {"KafkaTopic", "ServiceMonitor", "PrometheusRule"}


@cache
def rendered(overlay: str) -> list[dict[str, Any]]:
    output = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "k8s" / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


def of_kind(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in rendered(overlay) if d["kind"] == kind}


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "k8s_generate", ROOT / "k8s" / "make_resources.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_validates_against_the_kubernetes_schemas(overlay: str) -> None:
    core = [d for d in rendered(overlay) if d["kind"] not in CUSTOM]
    assert len(core) >= 28  # deployments, services, PDBs, HPAs, policies, jobs, config
    for doc in core:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)  # raises on any error


def test_a_broken_manifest_is_caught() -> None:
    deployment = dict(of_kind("prod", "Deployment")["lapor-intake"])
    deployment["spec"] = {**deployment["spec"], "replicas": "three"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_probes_limits_pdb_hpa_and_monitor(overlay: str) -> None:
    deployments = of_kind(overlay, "Deployment")
    for name in SERVICES:
        pod = deployments[f"lapor-{name}"]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert {"livenessProbe", "readinessProbe", "startupProbe"} <= set(container)
        assert container["resources"]["limits"] and container["resources"]["requests"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert f"lapor-{name}" in of_kind(overlay, "PodDisruptionBudget")
        hpa = of_kind(overlay, "HorizontalPodAutoscaler")[f"lapor-{name}"]
        assert hpa["spec"]["scaleTargetRef"]["name"] == f"lapor-{name}"
        assert hpa["spec"]["maxReplicas"] <= 12  # the complaint topic's partitions
        monitor = of_kind(overlay, "ServiceMonitor")[f"lapor-{name}"]
        assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def test_overlays_differ_where_they_promise_to() -> None:
    dev, prod = of_kind("dev", "Deployment"), of_kind("prod", "Deployment")
    assert {d["spec"]["replicas"] for d in dev.values()} == {1}
    assert {d["spec"]["replicas"] for d in prod.values()} == {3}
    assert of_kind("dev", "ConfigMap") and of_kind("prod", "ConfigMap")
    [prod_config] = of_kind("prod", "ConfigMap").values()
    assert prod_config["data"]["ENVIRONMENT"] == "production"
    env = prod["lapor-intake"]["spec"]["template"]["spec"]["containers"][0]["env"]
    jwt = next(e for e in env if e["name"] == "AUTH_JWT_SECRET")
    assert jwt["valueFrom"]["secretKeyRef"]["name"] == "lapor-auth"
    keys = next(e for e in env if e["name"] == "PII_KEYS")
    assert keys["valueFrom"]["secretKeyRef"]["name"] == "lapor-pii"
    # Every Deployment points at the config map the overlay generated (hashed name).
    config_name = prod_config["metadata"]["name"]
    refs = {
        ref["configMapRef"]["name"]
        for d in prod.values()
        for ref in d["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    }
    assert refs == {config_name}
    assert {d["metadata"]["namespace"] for d in rendered("prod")} == {"lapor"}


def test_network_policies_deny_by_default_and_open_only_what_is_needed() -> None:
    policies = of_kind("prod", "NetworkPolicy")
    deny = policies["lapor-default-deny"]["spec"]
    assert deny["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny
    ports = {rule["ports"][0]["port"] for rule in policies["lapor-platform-out"]["spec"]["egress"]}
    assert ports == {53, 9092, 27017}
    notify_out = {p["port"] for p in policies["lapor-notify-out"]["spec"]["egress"][0]["ports"]}
    assert notify_out == {25, 465, 587, 443}
    assert policies["lapor-notify-out"]["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/component": "notify"
    }


def test_kafka_topics_are_the_platforms_topics() -> None:
    declared = {t["spec"]["topicName"]: t["spec"] for t in of_kind("prod", "KafkaTopic").values()}
    assert set(declared) == {topic.name for topic in all_topics()}
    for topic in all_topics():
        spec = declared[topic.name]
        assert spec["partitions"] == topic.partitions
        assert spec["config"]["cleanup.policy"] == topic.config()["cleanup.policy"]
    dev = {
        t["spec"]["topicName"]: t["spec"]["replicas"] for t in of_kind("dev", "KafkaTopic").values()
    }
    assert set(dev.values()) == {1}


def test_generated_files_are_current() -> None:
    module = generator()
    topics = list(yaml.safe_load_all((ROOT / "k8s/base/kafka-topics.yaml").read_text()))
    assert topics == module.kafka_topics(), "regenerate with: python k8s/make_resources.py"
    rule = yaml.safe_load((ROOT / "k8s/base/prometheus-rule.yaml").read_text())
    assert rule == module.prometheus_rule(), "regenerate with: python k8s/make_resources.py"


def test_the_migrate_job_runs_the_platform_command() -> None:
    job = of_kind("prod", "Job")["lapor-migrate"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["lapor-admin", "migrate"]


def test_production_talks_to_kafka_over_tls_with_scram_from_the_strimzi_user_secret() -> None:
    [config] = of_kind("prod", "ConfigMap").values()
    talking_to_kafka = {
        **of_kind("prod", "Deployment"),
        "lapor-create-topics": of_kind("prod", "Job")["lapor-create-topics"],
    }
    for name, workload in talking_to_kafka.items():
        pod = workload["spec"]["template"]["spec"]
        env = {e["name"]: e for e in pod["containers"][0]["env"]}
        password = env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert password == {"name": "lapor", "key": "password"}, name
        mount = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        assert config["data"]["KAFKA_SSL_CAFILE"].startswith(mount["kafka-ca"] + "/"), name
    # The rendered configuration is one the services accept (as production).
    data = {
        k.lower(): v for k, v in config["data"].items() if k.lower() in ServiceSettings.model_fields
    }
    settings = ServiceSettings(
        **data,
        kafka_sasl_password="from-the-secret",
        auth_jwt_secret="x" * 40,
        pii_keys=["bGFwb3ItdGVzdC1rZXktbm90LWZvci1wcm9kdWN0aW9uIQ=="],
    )
    assert (settings.kafka_security_protocol, settings.kafka_sasl_mechanism) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
    )
