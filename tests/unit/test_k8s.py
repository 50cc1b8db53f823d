"""Every kustomize overlay renders, validates against the Kubernetes schemas, agrees with the
code (topics, Kafka users, alert rules, ingress paths) and does what it says once applied: every
NetworkPolicy selects pods, every pod can reach DNS, Kafka and MongoDB and nothing else it does
not need, every selector finds what it is meant to (``tests/kubernetes_model.py`` works out
what Kubernetes would)."""

import importlib.util
import json
import re
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml

from kernel.settings import ServiceSettings
from schemas.internal import REPORTER_KEYS_PATH
from schemas.topics import all_topics
from tests.kubernetes_model import (
    Peer,
    egress_allowed,
    ingress_allowed,
    pods,
    policies,
    scrape_label_sets,
    selected_by,
    selects,
)

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ("dev", "prod")
COMMON_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
)
KUBERNETES = "1.33.0"
SERVICES = ("intake", "routing", "sla", "notify", "standards")
FRONT_ENDS = ("portal",)
# Custom resources the Kubernetes schemas do not know; checked field by field below.
CUSTOM = {"KafkaTopic", "KafkaUser", "ServiceMonitor", "PrometheusRule", "ExternalSecret"}
# Custom resources the vendored operator schemas cover (tests/crd).
OPERATED = {"KafkaTopic", "KafkaUser", "ServiceMonitor", "PrometheusRule"}


def render(directory: Path) -> list[dict[str, Any]]:
    output = subprocess.run(
        ["kubectl", "kustomize", str(directory)], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


@cache
def rendered(overlay: str) -> list[dict[str, Any]]:
    return render(ROOT / "k8s" / "overlays" / overlay)


def of_kind(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in rendered(overlay) if d["kind"] == kind}


def platform_config(overlay: str) -> dict[str, Any]:
    """The services' settings (the generated ConfigMap; the others hold dashboards)."""
    [config] = [
        c for n, c in of_kind(overlay, "ConfigMap").items() if n.startswith("lapor-config-")
    ]
    return config


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
def test_each_service_has_probes_limits_pdb_hpa_and_is_scraped(overlay: str) -> None:
    deployments = of_kind(overlay, "Deployment")
    [monitor] = of_kind(overlay, "ServiceMonitor").values()
    scraped = {labels["component"] for labels in scrape_label_sets(rendered(overlay), monitor)}
    for name in SERVICES:
        pod = deployments[f"lapor-{name}"]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert {"livenessProbe", "readinessProbe", "startupProbe"} <= set(container)
        assert container["resources"]["limits"] and container["resources"]["requests"]
        assert container["lifecycle"]["preStop"]["sleep"]["seconds"] > 0
        assert (
            pod["terminationGracePeriodSeconds"]
            > container["lifecycle"]["preStop"]["sleep"]["seconds"] + 15
        )  # the pre-stop pause, then the consumers' graceful stop
        assert f"lapor-{name}" in of_kind(overlay, "PodDisruptionBudget")
        hpa = of_kind(overlay, "HorizontalPodAutoscaler")[f"lapor-{name}"]
        assert hpa["spec"]["scaleTargetRef"]["name"] == f"lapor-{name}"
        assert name in scraped
    for name, workload in deployments.items():
        pod = workload["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        consumes = env.get("PROCESS_ROLES", "api,workers") != "api"
        hpa = of_kind(overlay, "HorizontalPodAutoscaler")[name]
        if consumes:  # more members than the complaint topic's partitions would sit idle
            assert hpa["spec"]["maxReplicas"] <= 12, name
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_meets_the_restricted_pod_security_standard(overlay: str) -> None:
    """The namespace enforces Pod Security Admission's ``restricted`` profile, which would
    refuse any pod (init containers included) that does not meet it."""
    [namespace] = of_kind(overlay, "Namespace").values()
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    allowed_volumes = {"configMap", "secret", "emptyDir", "projected", "downwardAPI"}
    for pod in pods(rendered(overlay)):
        spec = pod.spec
        assert not {"hostNetwork", "hostPID", "hostIPC"} & set(spec), pod.workload
        for volume in spec.get("volumes", []):
            assert set(volume) - {"name"} <= allowed_volumes, pod.workload
        for container in spec["containers"] + spec.get("initContainers", []):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, pod.workload
            assert security["capabilities"]["drop"] == ["ALL"], pod.workload
            assert not security.get("privileged"), pod.workload
            non_root = security.get("runAsNonRoot", spec["securityContext"].get("runAsNonRoot"))
            assert non_root is True, pod.workload
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_and_pod_carries_the_common_labels(overlay: str) -> None:
    for pod in pods(rendered(overlay)):
        missing = [label for label in COMMON_LABELS if label not in pod.labels]
        assert missing == [], f"{pod.workload}'s pods lack {missing}"
        assert pod.labels["app.kubernetes.io/part-of"] == "lapor"
    for doc in rendered(overlay):
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "lapor", doc["kind"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_selector_finds_what_it_is_meant_to(overlay: str) -> None:
    """A NetworkPolicy, a PodDisruptionBudget, a Service or a spread constraint that selects no
    pod does nothing, silently."""
    everything = rendered(overlay)
    found = pods(everything)
    for policy in policies(everything):
        chosen = [pod.workload for pod in found if selected_by(policy, pod)]
        assert chosen, f"NetworkPolicy {policy['metadata']['name']} selects no pod"
    for budget in of_kind(overlay, "PodDisruptionBudget").values():
        chosen = [p.workload for p in found if selects(budget["spec"]["selector"], p.labels)]
        assert chosen == [budget["metadata"]["name"]]
    for service in of_kind(overlay, "Service").values():
        selector = {"matchLabels": service["spec"]["selector"]}
        chosen = [p.workload for p in found if selects(selector, p.labels)]
        assert chosen == [service["metadata"]["name"]]
    for pod in found:
        for spread in pod.spec.get("topologySpreadConstraints", []):
            assert selects(spread["labelSelector"], pod.labels), pod.workload
            keys = set(spread.get("matchLabelKeys", [])) - {"pod-template-hash"}
            assert keys <= set(pod.labels), pod.workload  # the controller adds the hash


def _kafka_port(overlay: str) -> int:
    config = platform_config(overlay)
    return int(config["data"]["KAFKA_BOOTSTRAP_SERVERS"].rsplit(":", 1)[1])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_reaches_dns_kafka_and_mongodb_and_only_notify_and_the_portal_the_outside(
    overlay: str,
) -> None:
    """Simulated from the rendered NetworkPolicies: Strimzi's brokers run beside the platform
    (its KafkaTopics and KafkaUsers must live in the cluster's namespace), MongoDB anywhere."""
    everything = rendered(overlay)
    namespace = of_kind(overlay, "Namespace")
    [ns] = namespace
    dns = Peer("kube-system", {"k8s-app": "kube-dns"})
    broker = Peer(ns, {"strimzi.io/cluster": "lapor", "strimzi.io/kind": "Kafka"})
    mongodb = Peer(None)  # a replica set outside the cluster, or a pod elsewhere
    internet = Peer(None)
    other_pod = Peer("elsewhere", {"app": "anything"})
    for pod in pods(everything):
        assert egress_allowed(everything, pod, dns, 53, "UDP"), pod.workload
        assert egress_allowed(everything, pod, dns, 53, "TCP"), pod.workload
        assert egress_allowed(everything, pod, broker, _kafka_port(overlay), "TCP"), pod.workload
        assert egress_allowed(everything, pod, mongodb, 27017, "TCP"), pod.workload
        assert not egress_allowed(everything, pod, other_pod, 8080, "TCP"), pod.workload
        component = pod.labels["app.kubernetes.io/component"]
        sends_mail = component == "notify"
        # HTTPS: notify's gateways and webhooks, the portal's identity provider.
        https = sends_mail or component == "portal"
        assert egress_allowed(everything, pod, internet, 443, "TCP") is https, pod.workload
        assert egress_allowed(everything, pod, internet, 587, "TCP") is sends_mail, pod.workload


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_ingress_controller_and_prometheus_reach_the_pods(overlay: str) -> None:
    everything = rendered(overlay)
    controller = Peer("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
    prometheus = Peer("monitoring", {"app.kubernetes.io/name": "prometheus"})
    neighbour = Peer(next(iter(of_kind(overlay, "Namespace"))), {"app": "someone-else"})
    for pod in pods(everything):
        if pod.labels["app.kubernetes.io/component"] not in SERVICES:
            continue
        port = pod.spec["containers"][0]["ports"][0]["containerPort"]
        assert ingress_allowed(everything, pod, controller, port), pod.workload
        assert ingress_allowed(everything, pod, prometheus, port), pod.workload
        assert not ingress_allowed(everything, pod, neighbour, port), pod.workload


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_notify_and_the_portal_reach_intakes_api(overlay: str) -> None:
    """The calls to intake outside Kafka: notify's pods (for the reporter keys) and the
    portal's (like any client) to intake's API pods on the port NOTIFY_INTAKE_URL names, in
    both directions; no other pod, and not intake's workers (which answer only probes and
    /metrics)."""
    everything = rendered(overlay)
    [ns] = of_kind(overlay, "Namespace")
    port = int(platform_config(overlay)["data"]["NOTIFY_INTAKE_URL"].rsplit(":", 1)[1])
    by_workload = {pod.workload: pod for pod in pods(everything)}
    intake_api, intake_workers = by_workload["lapor-intake"], by_workload["lapor-intake-workers"]
    for pod in pods(everything):
        calls = pod.labels["app.kubernetes.io/component"] in ("notify", "portal")
        as_peer = Peer(ns, pod.labels)
        api = Peer(ns, intake_api.labels)
        assert egress_allowed(everything, pod, api, port, "TCP") is calls, pod.workload
        assert ingress_allowed(everything, intake_api, as_peer, port) is calls, pod.workload
        assert not ingress_allowed(everything, intake_workers, as_peer, port), pod.workload


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_portal_reaches_the_apis_it_calls_and_no_service_reaches_the_portal(
    overlay: str,
) -> None:
    everything = rendered(overlay)
    [ns] = of_kind(overlay, "Namespace")
    config = platform_config(overlay)["data"]
    by_workload = {pod.workload: pod for pod in pods(everything)}
    portal = by_workload["lapor-portal"]
    for service in ("intake", "routing", "sla", "standards"):
        port = int(config[f"PORTAL_{service.upper()}_URL"].rsplit(":", 1)[1])
        api = by_workload[f"lapor-{service}"]
        assert egress_allowed(everything, portal, Peer(ns, api.labels), port, "TCP"), service
        assert ingress_allowed(everything, api, Peer(ns, portal.labels), port), service
    for pod in pods(everything):
        if pod.workload != "lapor-portal":
            assert not ingress_allowed(everything, portal, Peer(ns, pod.labels), 8000)


def test_the_ingress_sends_every_api_path_to_its_service_and_hides_operations() -> None:
    """Each path of each service's OpenAPI document, with its parameters filled in, reaches
    that service through the Ingress (exact match first, then the longest prefix, as the
    Ingress API specifies); /metrics and the probes reach nothing."""
    [ingress] = of_kind("prod", "Ingress").values()
    rules: list[tuple[str, str, str]] = [
        (p["path"], p["pathType"], p["backend"]["service"]["name"])
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    ]

    def route(path: str) -> str | None:
        exact = [svc for rule, kind, svc in rules if kind == "Exact" and rule == path]
        if exact:
            return exact[0]
        segments = path.strip("/").split("/")
        prefixes = [
            (len(rule.strip("/").split("/")), svc)
            for rule, kind, svc in rules
            if kind == "Prefix"
            and segments[: len(rule.strip("/").split("/"))] == rule.strip("/").split("/")
        ]
        return max(prefixes)[1] if prefixes else None

    for service, listed in generator()._api_paths().items():
        for path in listed:
            concrete = re.sub(r"\{[^}]+\}", "x", path)
            assert route(concrete) == f"lapor-{service}", path
    for hidden in ("/metrics", "/healthz", "/readyz", REPORTER_KEYS_PATH):
        assert route(hidden) is None


def test_overlays_differ_where_they_promise_to() -> None:
    for overlay in OVERLAYS:
        # The autoscaler owns the replica count: a Deployment that names one fights it.
        assert all("replicas" not in d["spec"] for d in of_kind(overlay, "Deployment").values())
    dev = of_kind("dev", "HorizontalPodAutoscaler")
    assert {(h["spec"]["minReplicas"], h["spec"]["maxReplicas"]) for h in dev.values()} == {(1, 1)}
    prod = {
        n: h["spec"]["minReplicas"] for n, h in of_kind("prod", "HorizontalPodAutoscaler").items()
    }
    assert prod == {
        "lapor-intake": 3,
        "lapor-intake-workers": 3,
        "lapor-routing": 3,
        "lapor-notify": 3,
        "lapor-sla": 2,
        "lapor-standards": 2,
        "lapor-portal": 3,
    }
    prod_config = platform_config("prod")
    assert prod_config["data"]["ENVIRONMENT"] == "production"
    deployments = of_kind("prod", "Deployment")
    env = deployments["lapor-intake"]["spec"]["template"]["spec"]["containers"][0]["env"]
    jwt = next(e for e in env if e["name"] == "AUTH_JWT_SECRET")
    assert jwt["valueFrom"]["secretKeyRef"]["name"] == "lapor-auth"
    keys = next(e for e in env if e["name"] == "PII_KEYS")
    assert keys["valueFrom"]["secretKeyRef"]["name"] == "lapor-pii"
    assert {d["metadata"]["namespace"] for d in rendered("prod") if d["kind"] != "Namespace"} == {
        "lapor"
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_change_of_configuration_rolls_every_pod(overlay: str) -> None:
    """The ConfigMap's name carries a hash of its content, and every container (init
    containers included) refers to it by that name: new settings, new pod templates."""
    config = platform_config(overlay)
    assert re.fullmatch(r"lapor-config-[a-z0-9]{10}", config["metadata"]["name"])
    for pod in pods(rendered(overlay)):
        for container in pod.spec["containers"] + pod.spec.get("initContainers", []):
            refs = {ref["configMapRef"]["name"] for ref in container.get("envFrom", [])}
            assert refs == {config["metadata"]["name"]}, pod.workload


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_pod_builds_its_own_indexes_before_it_serves(overlay: str) -> None:
    """No Job to order against the Deployments or to re-create on a new image: the migration
    is each pod's init container, for its own service's database."""
    assert of_kind(overlay, "Job") == {}
    for deployment in of_kind(overlay, "Deployment").values():
        service = deployment["spec"]["template"]["metadata"]["labels"][
            "app.kubernetes.io/component"
        ]
        if service in FRONT_ENDS:  # no database of its own
            assert "initContainers" not in deployment["spec"]["template"]["spec"]
            continue
        [init] = deployment["spec"]["template"]["spec"]["initContainers"]
        assert init["command"] == ["lapor-admin", "migrate", "--service", service]
        assert init["image"] == deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def test_images_name_a_registry() -> None:
    for pod in pods(rendered("prod")):
        for container in pod.spec["containers"] + pod.spec.get("initContainers", []):
            registry = container["image"].split("/", 1)[0]
            assert "." in registry, container["image"]  # a host, not a Docker Hub default


def test_network_policies_deny_by_default_and_open_only_what_is_needed() -> None:
    policies_by_name = of_kind("prod", "NetworkPolicy")
    deny = policies_by_name["lapor-default-deny"]["spec"]
    assert deny["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny


def test_kafka_topics_are_the_platforms_topics() -> None:
    declared = {t["spec"]["topicName"]: t for t in of_kind("prod", "KafkaTopic").values()}
    assert set(declared) == {topic.name for topic in all_topics()}
    for topic in all_topics():
        resource = declared[topic.name]
        assert resource["apiVersion"] == "kafka.strimzi.io/v1"  # v1beta2 is gone in Strimzi 1.0
        spec = resource["spec"]
        assert spec["partitions"] == topic.partitions
        assert spec["config"]["cleanup.policy"] == topic.config()["cleanup.policy"]
        assert spec["config"]["min.insync.replicas"] == "2"
    dev = {
        t["spec"]["topicName"]: (t["spec"]["replicas"], t["spec"]["config"]["min.insync.replicas"])
        for t in of_kind("dev", "KafkaTopic").values()
    }
    assert set(dev.values()) == {(1, "1")}


def test_without_the_topic_operator_the_services_create_their_topics() -> None:
    with tempfile.TemporaryDirectory(dir=ROOT / "k8s") as overlay:
        (Path(overlay) / "kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "resources": ["../overlays/prod"],
                    "components": ["../components/without-topic-operator"],
                }
            )
        )
        docs = render(Path(overlay))
    assert not [d for d in docs if d["kind"] == "KafkaTopic"]
    [config] = [d for d in docs if d["metadata"]["name"].startswith("lapor-config-")]
    assert config["data"]["KAFKA_CREATE_TOPICS"] == "true"


def test_generated_files_are_current() -> None:
    module = generator()
    expected = {
        "k8s/base/workloads.yaml": module.workloads(),
        "k8s/base/kafka-topics.yaml": module.kafka_topics(),
        "k8s/base/prometheus-rule.yaml": [module.prometheus_rule()],
        "k8s/base/ingress.yaml": [module.ingress()],
        "k8s/base/grafana-dashboards.yaml": module.grafana_dashboards(),
        "k8s/overlays/prod/kafka-users.yaml": module.kafka_users(),
        "k8s/overlays/prod/kafka-credentials.yaml": module.kafka_credentials(),
    }
    for path, docs in expected.items():
        committed = [d for d in yaml.safe_load_all((ROOT / path).read_text()) if d]
        assert committed == docs, f"{path}: regenerate with python k8s/make_resources.py"


def test_runbook_links_move_with_the_base_url() -> None:
    rule = generator().prometheus_rule("https://wiki.kementerian.go.id/lapor/ops")
    links = [
        r["annotations"]["runbook_url"]
        for group in rule["spec"]["groups"]
        for r in group["rules"]
        if "alert" in r
    ]
    assert links and all(
        link.startswith("https://wiki.kementerian.go.id/lapor/ops#") for link in links
    )


def test_each_service_is_a_kafka_user_allowed_only_its_own_topics_and_groups() -> None:
    users = of_kind("prod", "KafkaUser")
    assert set(users) == {f"lapor-{s}" for s in SERVICES}
    intake = users["lapor-intake"]["spec"]
    assert intake["authentication"] == {"type": "scram-sha-512"}
    acls = {
        (a["resource"]["type"], a["resource"]["name"], op)
        for a in intake["authorization"]["acls"]
        for op in a["operations"]
    }
    assert ("group", "intake", "Read") in acls
    assert ("group", "routing", "Read") not in acls
    assert ("topic", "lapor.complaint-events.v1", "Write") in acls
    assert ("topic", "lapor.dlq.intake", "Write") in acls
    assert ("topic", "lapor.dlq.routing", "Write") not in acls
    assert all(a["resource"]["patternType"] == "literal" for a in intake["authorization"]["acls"])
    routing = {
        (a["resource"]["name"], op)
        for a in users["lapor-routing"]["spec"]["authorization"]["acls"]
        for op in a["operations"]
    }
    assert ("lapor.agencies.v1", "Write") in routing  # the directory it publishes


def test_production_talks_to_kafka_over_tls_as_each_services_own_user() -> None:
    config = platform_config("prod")
    for name, workload in of_kind("prod", "Deployment").items():
        pod = workload["spec"]["template"]["spec"]
        env = {e["name"]: e for e in pod["containers"][0]["env"]}
        component = workload["spec"]["template"]["metadata"]["labels"][
            "app.kubernetes.io/component"
        ]
        if component in FRONT_ENDS:  # no broker: no Kafka user, no password
            assert not {"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"} & env.keys(), name
            continue
        user = "lapor-" + component  # the service's, whichever of its Deployments
        assert env["KAFKA_SASL_USERNAME"]["value"] == user
        password = env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert password == {"name": user, "key": "password"}, name  # the User Operator's
        mount = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        assert config["data"]["KAFKA_SSL_CAFILE"].startswith(mount["kafka-ca"] + "/"), name
    # The rendered configuration is one the services accept (as production).
    data = {
        k.lower(): v for k, v in config["data"].items() if k.lower() in ServiceSettings.model_fields
    }
    settings = ServiceSettings(
        **data,
        kafka_sasl_username="lapor-intake",
        kafka_sasl_password="from-the-secret",
        auth_jwt_secret="x" * 40,
        pii_keys=["bGFwb3ItdGVzdC1rZXktbm90LWZvci1wcm9kdWN0aW9uIQ=="],
    )
    assert (settings.kafka_security_protocol, settings.kafka_sasl_mechanism) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
    )


def test_secrets_come_from_the_secret_store() -> None:
    """Every Secret a prod pod reads is either made by an ExternalSecret or by Strimzi (the
    users' passwords, the cluster CA): none has to be created by hand."""
    made = {e["spec"]["target"]["name"] for e in of_kind("prod", "ExternalSecret").values()}
    made |= set(of_kind("prod", "KafkaUser")) | {"lapor-cluster-ca-cert"}
    for pod in pods(rendered("prod")):
        for container in pod.spec["containers"] + pod.spec.get("initContainers", []):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in made, (pod.workload, ref)
        for volume in pod.spec.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in made


def test_grafana_on_kubernetes_gets_the_dashboards() -> None:
    """The same dashboards as compose's Grafana, as ConfigMaps the Grafana sidecar loads."""
    maps = [
        m
        for m in of_kind("prod", "ConfigMap").values()
        if "grafana_dashboard" in m["metadata"]["labels"]
    ]
    loaded = {json.loads(text)["title"] for m in maps for text in m["data"].values()}
    shipped = {
        json.loads(p.read_text())["title"] for p in (ROOT / "ops/grafana/dashboards").glob("*.json")
    }
    assert loaded == shipped and len(shipped) == 3


def operator_schema_errors(resources: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each custom resource checked against the operators' schemas (tests/crd: Strimzi 1.0.0's
    CRDs, prometheus-operator's monitoring.coreos.com/v1, pinned by its package-lock)."""
    ran = subprocess.run(
        ["node", str(ROOT / "tests/crd/validate.mjs")],
        input=json.dumps(resources),
        capture_output=True,
        text=True,
        check=True,
    )
    return {f"{r['kind']}/{r['name']}": r["errors"] for r in json.loads(ran.stdout)}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_operator_resource_passes_the_operators_schemas(overlay: str) -> None:
    operated = [d for d in rendered(overlay) if d["kind"] in OPERATED]
    assert {d["kind"] for d in operated} >= {"KafkaTopic", "ServiceMonitor", "PrometheusRule"}
    errors = operator_schema_errors(operated)
    assert len(errors) == len(operated)
    assert {name: e for name, e in errors.items() if e} == {}


def test_the_operator_schemas_refuse_what_the_operators_would() -> None:
    [topic] = [t for t in of_kind("prod", "KafkaTopic").values()][:1]
    user = of_kind("prod", "KafkaUser")["lapor-intake"]
    old_api = {  # gone in Strimzi 1.0
        **topic,
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "metadata": {"name": "old-api"},
    }
    wrong_type = {**topic, "spec": {**topic["spec"], "partitions": "twelve"}}
    acl = {**user["spec"]["authorization"]["acls"][0]}
    acl["operation"] = acl.pop("operations")[0]  # the form Strimzi's v1 API dropped
    old_acl = {
        **user,
        "spec": {**user["spec"], "authorization": {"type": "simple", "acls": [acl]}},
    }
    found = operator_schema_errors([old_api, wrong_type, old_acl])
    assert len(found) == 3 and all(found.values())
    messages = " ".join(m for errors in found.values() for m in errors)
    assert "not served" in messages and "operations" in messages


def test_intakes_api_and_workers_scale_in_deployments_of_their_own() -> None:
    """Citizens' requests grow intake's API past what its consumer group could use: the API
    Deployment serves the Ingress and consumes nothing, the workers' consume and serve none."""
    deployments = of_kind("prod", "Deployment")

    def roles(name: str) -> str | None:
        env = deployments[name]["spec"]["template"]["spec"]["containers"][0]["env"]
        return next((e["value"] for e in env if e["name"] == "PROCESS_ROLES"), None)

    assert (roles("lapor-intake"), roles("lapor-intake-workers")) == ("api", "workers")
    assert roles("lapor-routing") is None  # both roles in one process
    [ingress] = of_kind("prod", "Ingress").values()
    backends = {
        p["backend"]["service"]["name"]
        for r in ingress["spec"]["rules"]
        for p in r["http"]["paths"]
    }
    assert "lapor-intake" in backends and "lapor-intake-workers" not in backends
    hpas = of_kind("prod", "HorizontalPodAutoscaler")
    assert hpas["lapor-intake"]["spec"]["maxReplicas"] > 12


def test_the_operations_guide_gives_the_replica_ranges_the_manifests_have() -> None:
    guide = (ROOT / "docs/operations.md").read_text()
    rows = re.findall(r"^\| `(lapor-[a-z-]+)`[^|]*\| (\d+) \| (\d+)-(\d+) \|$", guide, re.M)
    documented = {name: (int(dev), int(low), int(high)) for name, dev, low, high in rows}
    dev, prod = (
        of_kind("dev", "HorizontalPodAutoscaler"),
        of_kind("prod", "HorizontalPodAutoscaler"),
    )
    manifests = {
        name: (
            dev[name]["spec"]["maxReplicas"],
            hpa["spec"]["minReplicas"],
            hpa["spec"]["maxReplicas"],
        )
        for name, hpa in prod.items()
    }
    assert documented == manifests
