"""What the rendered manifests do once applied, worked out the way Kubernetes does it: which
pods a selector picks, what traffic the NetworkPolicies let through, which label sets the
Prometheus Operator gives a ServiceMonitor's targets. No cluster runs here, so the tests ask
these questions of the rendered overlays instead.
"""

import re
from dataclasses import dataclass, field
from typing import Any

Doc = dict[str, Any]
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


@dataclass(frozen=True)
class Pod:
    """A pod as its workload's template makes it."""

    workload: str
    namespace: str
    labels: dict[str, str]
    spec: Doc


@dataclass(frozen=True)
class Peer:
    """Something a pod talks to: a pod in a namespace (with the namespace's labels), or an
    address outside the cluster (``namespace`` None)."""

    namespace: str | None
    labels: dict[str, str] = field(default_factory=dict)
    namespace_labels: dict[str, str] = field(default_factory=dict)


def selects(selector: Doc | None, labels: dict[str, str]) -> bool:
    """Whether a label selector picks an object with ``labels`` (an empty selector picks all)."""
    if selector is None:
        return False
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def pods(rendered: list[Doc]) -> list[Pod]:
    """Every pod template of the rendered workloads."""
    found = []
    for doc in rendered:
        if doc["kind"] not in WORKLOADS:
            continue
        template = doc["spec"]["template"]
        found.append(
            Pod(
                workload=doc["metadata"]["name"],
                namespace=doc["metadata"].get("namespace", "default"),
                labels=template.get("metadata", {}).get("labels", {}),
                spec=template["spec"],
            )
        )
    return found


def policies(rendered: list[Doc]) -> list[Doc]:
    return [doc for doc in rendered if doc["kind"] == "NetworkPolicy"]


def selected_by(policy: Doc, pod: Pod) -> bool:
    namespace = policy["metadata"].get("namespace", "default")
    return namespace == pod.namespace and selects(policy["spec"]["podSelector"], pod.labels)


def _namespace_labels(peer: Peer) -> dict[str, str]:
    assert peer.namespace is not None
    return {"kubernetes.io/metadata.name": peer.namespace, **peer.namespace_labels}


def _peer_matches(rule_peer: Doc, peer: Peer, policy_namespace: str) -> bool:
    if "ipBlock" in rule_peer:
        return peer.namespace is None  # an address range: taken to mean outside the cluster
    if peer.namespace is None:
        return False  # pod and namespace selectors pick only pods of the cluster
    pod_selector = rule_peer.get("podSelector")
    namespace_selector = rule_peer.get("namespaceSelector")
    if namespace_selector is None:
        in_namespace = peer.namespace == policy_namespace
    else:
        in_namespace = selects(namespace_selector, _namespace_labels(peer))
    return in_namespace and (pod_selector is None or selects(pod_selector, peer.labels))


def _port_matches(rule_ports: list[Doc] | None, port: int, protocol: str, named: Doc) -> bool:
    if not rule_ports:
        return True
    for rule_port in rule_ports:
        if rule_port.get("protocol", "TCP") != protocol:
            continue
        wanted = rule_port.get("port")
        if wanted is None or wanted == port or named.get(wanted) == port:
            return True
    return False


def egress_allowed(rendered: list[Doc], pod: Pod, to: Peer, port: int, protocol: str) -> bool:
    """Whether the pod may open a connection to ``to`` on ``port``."""
    return _allowed(rendered, pod, "Egress", to, port, protocol, named={})


def ingress_allowed(rendered: list[Doc], pod: Pod, source: Peer, port: int) -> bool:
    """Whether ``source`` may connect to the pod's ``port`` (TCP); named ports resolve against
    the pod's containers."""
    named = {
        p["name"]: p["containerPort"]
        for c in pod.spec["containers"]
        for p in c.get("ports", [])
        if "name" in p
    }
    return _allowed(rendered, pod, "Ingress", source, port, "TCP", named=named)


def _allowed(
    rendered: list[Doc],
    pod: Pod,
    direction: str,
    peer: Peer,
    port: int,
    protocol: str,
    *,
    named: dict[str, int],
) -> bool:
    """The policies that select the pod for ``direction`` add up; a pod none of them selects
    is open that way. (A policy without policyTypes covers Ingress only.)"""
    governing = [
        p
        for p in policies(rendered)
        if selected_by(p, pod) and direction in p["spec"].get("policyTypes", ["Ingress"])
    ]
    if not governing:
        return True
    rules_key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    for policy in governing:
        namespace = policy["metadata"].get("namespace", "default")
        for rule in policy["spec"].get(rules_key, []):
            peers = rule.get(peers_key)
            reaches = not peers or any(_peer_matches(p, peer, namespace) for p in peers)
            if reaches and _port_matches(rule.get("ports"), port, protocol, named):
                return True
    return False


def scrape_label_sets(rendered: list[Doc], monitor: Doc) -> list[dict[str, str]]:
    """The target labels the Prometheus Operator gives each endpoint a ServiceMonitor finds:
    ``job`` (the Service's ``jobLabel`` label, else its name), ``namespace``, ``service``,
    ``pod``, ``container``, ``endpoint``, ``instance``, then the endpoint's relabelings (the
    ``replace`` kind from pod labels, which is all this repository uses)."""
    namespace = monitor["metadata"].get("namespace", "default")
    label_sets = []
    services = [
        doc
        for doc in rendered
        if doc["kind"] == "Service"
        and doc["metadata"].get("namespace", "default") == namespace
        and selects(monitor["spec"]["selector"], doc["metadata"].get("labels", {}))
    ]
    for service in services:
        service_labels = service["metadata"].get("labels", {})
        for pod in pods(rendered):
            if pod.namespace != namespace or not _service_selects(service, pod):
                continue
            for endpoint in monitor["spec"]["endpoints"]:
                job_label = monitor["spec"].get("jobLabel")
                meta = {
                    f"__meta_kubernetes_pod_label_{_sanitize(k)}": v for k, v in pod.labels.items()
                }
                labels = {
                    "job": service_labels.get(job_label, service["metadata"]["name"])
                    if job_label
                    else service["metadata"]["name"],
                    "namespace": namespace,
                    "service": service["metadata"]["name"],
                    "pod": f"{pod.workload}-<hash>",
                    "container": pod.spec["containers"][0]["name"],
                    "endpoint": endpoint["port"],
                    "instance": "<pod-ip>:<port>",
                }
                for relabel in endpoint.get("relabelings", []):
                    assert relabel.get("action", "replace") == "replace", relabel
                    sources = [meta.get(s, labels.get(s, "")) for s in relabel["sourceLabels"]]
                    value = relabel.get("separator", ";").join(sources)
                    labels[relabel["targetLabel"]] = value
                label_sets.append(labels)
    return label_sets


def _service_selects(service: Doc, pod: Pod) -> bool:
    return selects({"matchLabels": service["spec"].get("selector", {})}, pod.labels)


def _sanitize(label: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", label)
