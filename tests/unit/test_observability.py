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


def alert_rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
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
        assert rule["annotations"]["runbook_url"] == f"docs/operations.md#{name.lower()}"


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
