"""Alerts, dashboards and docker-compose: the rules pass promtool's checks and unit tests,
every metric they use is one the services define, every alert has a runbook, the dashboards
are generated from their description, and the compose file is valid Compose."""

import importlib.util
import json
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import compose_spec
import pytest
import yaml
from prometheus_client import REGISTRY

import kernel.metrics  # noqa: F401  (registers every platform metric)
from ops.prometheus.slos import RUNBOOK_BASE
from tests.kubernetes_model import scrape_label_sets
from tests.unit.test_k8s import rendered as k8s_rendered

ROOT = Path(__file__).resolve().parents[2]
RULES = sorted((ROOT / "ops/prometheus/rules").glob("*.yml"))
PROMQL_FUNCTIONS = {
    "sum",
    "rate",
    "increase",
    "deriv",
    "max",
    "min",
    "avg",
    "by",
    "and",
    "or",
    "unless",
    "histogram_quantile",
    "label_values",
    "on",
    "without",
    "count",
    "le",
}


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "grafana_generate", ROOT / "ops/grafana/make_dashboards.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exported_names() -> set[str]:
    """Every series name the platform's metrics produce (with _total, _bucket, ... suffixes)."""
    names = {"up"}
    for collector in list(REGISTRY._collector_to_names):
        for metric in collector.collect():
            names |= {sample.name for sample in metric.samples}
            if metric.type == "gauge":
                names.add(metric.name)
            if metric.type == "histogram":
                names |= {f"{metric.name}_bucket", f"{metric.name}_sum", f"{metric.name}_count"}
            if metric.type == "counter":
                names.add(f"{metric.name}_total")
    return names


def metric_names(expr: str) -> set[str]:
    """Series names a PromQL expression reads (identifiers followed by { or [, or bare)."""
    stripped = re.sub(r'"[^"]*"', '""', expr)
    stripped = re.sub(r"\{[^}]*\}", "{}", stripped)
    stripped = re.sub(r"\[[^\]]*\]", "[]", stripped)
    candidates = set(re.findall(r"\b([a-z_][a-z0-9_]*)\b", stripped))
    return {c for c in candidates if c.startswith("lapor_") or c == "up"}


def alert_rules(kind: str = "alert") -> list[dict[str, Any]]:
    """The rules of every rules file: alerts, or with ``kind="record"`` recording rules."""
    return [
        rule
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if kind in rule
    ]


def dashboard_queries() -> list[str]:
    queries = []
    for path in sorted((ROOT / "ops/grafana/dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        queries += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        queries += [v["definition"] for v in dashboard["templating"]["list"]]
    return queries


def used_metrics() -> set[str]:
    """Every series name an alert or a dashboard reads (the e2e scrape checks them too)."""
    names: set[str] = set()
    for expr in [r["expr"] for r in alert_rules()] + dashboard_queries():
        names |= metric_names(expr)
    return names


def test_promtool_checks_the_rules_and_passes_their_unit_tests() -> None:
    checked = subprocess.run(
        ["promtool", "check", "rules", *map(str, RULES)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tests = sorted((ROOT / "ops/prometheus/tests").glob("*.yml"))
    ran = subprocess.run(
        ["promtool", "test", "rules", *map(str, tests)], capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_every_alert_has_a_unit_test_and_a_runbook() -> None:
    tested = "".join(p.read_text() for p in (ROOT / "ops/prometheus/tests").glob("*.yml"))
    guide = (ROOT / "docs/operations.md").read_text()
    for rule in alert_rules():
        name = rule["alert"]
        assert f"alertname: {name}" in tested, name
        assert f"### {name}\n" in guide, name
        # Absolute, so that it opens from Alertmanager and chat (k8s/make_resources.py moves
        # the base to where the platform team publishes the guide).
        assert rule["annotations"]["runbook_url"] == f"{RUNBOOK_BASE}#{name.lower()}"


def test_alerts_and_dashboards_use_only_metrics_the_services_define() -> None:
    used = used_metrics()
    assert len(used) > 20
    assert used - exported_names() == set()


def test_the_metric_check_would_notice_a_typo() -> None:
    assert metric_names(
        'sum(rate(lapor_http_requets_total{status=~"5.."}[5m]))'
    ) - exported_names() == {"lapor_http_requets_total"}


def test_dashboards_are_generated_from_their_description() -> None:
    for name, dashboard in generator().dashboards().items():
        committed = json.loads((ROOT / "ops/grafana/dashboards" / name).read_text())
        assert committed == dashboard, "regenerate with: python ops/grafana/make_dashboards.py"
    titles = {d["title"] for d in generator().dashboards().values()}
    assert titles == {
        "LAPOR — platform overview",
        "LAPOR — SLA by agency",
        "LAPOR — notifications",
    }


def test_compose_is_valid_compose_with_every_mounted_file_present() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    compose_spec.PyOptions(apply_merge=True).from_yaml(text).validate()
    loaded = yaml.safe_load(text)
    for name, service in loaded["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
        for dependency in service.get("depends_on", []):
            assert dependency in loaded["services"], f"{name} depends on unknown {dependency}"
    with pytest.raises(ValueError, match="unknown variant"):
        compose_spec.PyOptions(apply_merge=True).from_yaml(
            text.replace("restart: unless-stopped", "restart: sometimes")
        ).validate()


# Labels Prometheus gives a target (the scrape's), as opposed to those a metric sets itself.
TARGET_LABELS = {"job", "instance", "component", "namespace", "pod", "container", "endpoint"}
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^{}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')


def own_labels() -> dict[str, set[str]]:
    """Each series name the platform exports, with the labels the metric itself sets."""
    labels: dict[str, set[str]] = {}
    for collector in list(REGISTRY._collector_to_names):
        names = getattr(collector, "_labelnames", None)
        if names is None:
            continue
        for metric in collector.collect():
            base = set(names)
            for suffix in ("", "_total", "_count", "_sum", "_created"):
                labels[metric.name + suffix] = base
            labels[metric.name + "_bucket"] = base | {"le"}
    return labels


def target_label_sets() -> dict[str, list[dict[str, str]]]:
    """What each environment's scrape gives the platform's targets: the compose file's static
    configs, and the Prometheus Operator's reading of the prod overlay's ServiceMonitor."""
    compose = [
        {"job": job["job_name"], "instance": target, **group.get("labels", {})}
        for job in yaml.safe_load((ROOT / "ops/prometheus/prometheus.yml").read_text())[
            "scrape_configs"
        ]
        for group in job["static_configs"]
        for target in group["targets"]
    ]
    rendered = k8s_rendered("prod")
    [monitor] = [d for d in rendered if d["kind"] == "ServiceMonitor"]
    return {"compose": compose, "kubernetes": scrape_label_sets(rendered, monitor)}


def matchers(expr: str) -> list[tuple[str | None, str, str, str]]:
    """(series name or None, label, operator, value) for every label matcher of a query."""
    found = []
    for name, body in SELECTOR.findall(expr):
        for label, operator, value in MATCHER.findall(body):
            found.append((name or None, label, operator, value))
    return found


def impossible_matchers(expr: str) -> list[str]:
    """The matchers of ``expr`` that no series of the platform can satisfy in compose or on
    Kubernetes: a target label value a scrape cannot give, or a label the metric lacks."""
    own = own_labels()
    environments = target_label_sets()
    services = {"intake", "routing", "sla", "notify", "standards"}
    slos = {r["labels"]["slo"] for r in alert_rules("record")}
    wrong = []
    for name, label, operator, value in matchers(expr):
        if operator not in ("=", "=~") or "$" in value:
            continue  # a negative matcher or a dashboard variable: any value may be meant
        if name is not None and ":" in name:  # a recorded series: its rule says its labels
            if label == "slo" and value not in slos:
                wrong.append(f"{name}: no SLO named {value!r}")
            continue
        if label in TARGET_LABELS:
            for environment, label_sets in environments.items():
                if not any(_matches(operator, value, s.get(label, "")) for s in label_sets):
                    wrong.append(f"{label}{operator}{value!r}: no {environment} target has it")
        elif name is not None and label not in own.get(name, set()):
            wrong.append(f"{name} has no label {label!r}")
        elif label == "service" and not any(_matches(operator, value, s) for s in services):
            wrong.append(f"service{operator}{value!r}: no such service")
    return wrong


def _matches(operator: str, pattern: str, value: str) -> bool:
    return value == pattern if operator == "=" else re.fullmatch(pattern, value) is not None


def test_every_alert_and_panel_selects_labels_the_scrapes_produce() -> None:
    """An alert on ``job="lapor"`` that only compose's scrape produces never fires on
    Kubernetes: every label a query names must exist there and in compose."""
    queries = [r["expr"] for r in alert_rules() + alert_rules("record")] + dashboard_queries()
    assert sum(len(matchers(q)) for q in queries) > 20
    wrong = {q: impossible_matchers(q) for q in queries}
    assert {q: w for q, w in wrong.items() if w} == {}


def test_the_label_check_notices_what_a_scrape_cannot_produce() -> None:
    assert impossible_matchers('up{job="lapor", component="intake"}') == []
    assert impossible_matchers('up{job="lapor-intake"}') == [
        "job='lapor-intake': no compose target has it",
        "job='lapor-intake': no kubernetes target has it",
    ]
    assert impossible_matchers('lapor_sla_firings_total{firng="breach"}') == [
        "lapor_sla_firings_total has no label 'firng'"
    ]
    assert impossible_matchers('lapor_http_requests_total{service="intkae"}') == [
        "service='intkae': no such service"
    ]


def test_the_slo_rules_are_generated_from_their_declaration() -> None:
    spec = importlib.util.spec_from_file_location("slos", ROOT / "ops/prometheus/slos.py")
    assert spec is not None and spec.loader is not None
    slos = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(slos)
    committed = yaml.safe_load((ROOT / "ops/prometheus/rules/lapor-slos.yml").read_text())
    assert committed == slos.rule_groups(), "regenerate with: python ops/prometheus/slos.py"
    alerts = {r["alert"] for g in committed["groups"] for r in g["rules"] if "alert" in r}
    assert len(alerts) == 2 * len(slos.SLOS)


async def test_the_lag_of_a_partition_moved_to_another_member_is_no_longer_reported() -> None:
    """Each member reports the lag of the partitions it holds; a revoked partition's series
    would otherwise freeze at its last value and keep a lag alert firing for nobody."""
    from aiokafka import TopicPartition

    from kernel.consuming import _OnRevoke
    from kernel.metrics import CONSUMER_LAG

    topic = "lapor.complaint-events.v1"
    CONSUMER_LAG.labels("lag-test", topic, "3").set(1500)
    CONSUMER_LAG.labels("lag-test", topic, "4").set(7)
    await _OnRevoke("lag-test", []).on_partitions_revoked([TopicPartition(topic, 3)])
    reported = {
        s.labels["partition"]: s.value
        for m in CONSUMER_LAG.collect()
        for s in m.samples
        if s.labels["service"] == "lag-test"
    }
    assert reported == {"4": 7}
