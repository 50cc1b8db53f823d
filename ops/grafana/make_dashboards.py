"""Writes the Grafana dashboards (``ops/grafana/dashboards/*.json``) from one description, so
that every panel's query is reviewed as code and checked against the metrics the services
export (tests/unit/test_observability.py, and a real Prometheus in tests/e2e).

    python ops/grafana/make_dashboards.py        # rewrite the JSON files
"""

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
Panel = tuple[str, str, list[str], str]  # title, kind, queries, unit


def _panel(index: int, title: str, kind: str, queries: list[str], unit: str) -> dict[str, Any]:
    width = 12 if kind == "timeseries" else 6
    per_row = 24 // width
    return {
        "id": index + 1,
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {
            "h": 8,
            "w": width,
            "x": (index % per_row) * width,
            "y": (index // per_row) * 8,
        },
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [
            {"refId": chr(ord("A") + n), "datasource": DATASOURCE, "expr": expr, "legendFormat": ""}
            for n, expr in enumerate(queries)
        ],
    }


def _dashboard(
    uid: str, title: str, panels: list[Panel], variables: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["lapor"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "panels": [_panel(i, *panel) for i, panel in enumerate(panels)],
    }


def _variable(name: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": name},
        "definition": query,
        "includeAll": True,
        "multi": True,
        "refresh": 2,
        "current": {"text": "All", "value": "$__all"},
    }


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard."""
    service = 'service=~"$service"'
    overview: list[Panel] = [
        (
            "Requests per second",
            "timeseries",
            [f"sum by (service) (rate(lapor_http_requests_total{{{service}}}[5m]))"],
            "reqps",
        ),
        (
            "5xx error ratio",
            "timeseries",
            [
                f"sum by (service) "
                f'(rate(lapor_http_requests_total{{{service}, status=~"5.."}}[5m])) '
                f"/ sum by (service) (rate(lapor_http_requests_total{{{service}}}[5m]))"
            ],
            "percentunit",
        ),
        (
            "Request latency p95",
            "timeseries",
            [
                f"histogram_quantile(0.95, sum by (service, le) "
                f"(rate(lapor_http_request_duration_seconds_bucket{{{service}}}[5m])))"
            ],
            "s",
        ),
        ("Targets up", "stat", ['sum(up{job="lapor"})'], "none"),
        (
            "Events handled per second",
            "timeseries",
            [f"sum by (service, outcome) (rate(lapor_messages_consumed_total{{{service}}}[5m]))"],
            "ops",
        ),
        (
            "Event handling p95",
            "timeseries",
            [
                f"histogram_quantile(0.95, sum by (service, le) "
                f"(rate(lapor_message_handling_seconds_bucket{{{service}}}[5m])))"
            ],
            "s",
        ),
        (
            "Consumer lag by group and partition",
            "timeseries",
            [f"sum by (service, topic, partition) (lapor_consumer_lag_messages{{{service}}})"],
            "none",
        ),
        (
            "Handler failures",
            "timeseries",
            [
                f"sum by (service, kind) "
                f"(rate(lapor_message_handler_failures_total{{{service}}}[5m]))"
            ],
            "ops",
        ),
        (
            "Outbox backlog",
            "timeseries",
            [f"sum by (service) (lapor_outbox_backlog_messages{{{service}}})"],
            "none",
        ),
        (
            "Outbox oldest event age",
            "timeseries",
            [f"max by (service) (lapor_outbox_oldest_age_seconds{{{service}}})"],
            "s",
        ),
        (
            "Database commands per second",
            "timeseries",
            [f"sum by (service, command) (rate(lapor_database_commands_total{{{service}}}[5m]))"],
            "ops",
        ),
        (
            "Database command p95",
            "timeseries",
            [
                f"histogram_quantile(0.95, sum by (service, command, le) "
                f"(rate(lapor_database_command_duration_seconds_bucket{{{service}}}[5m])))"
            ],
            "s",
        ),
        (
            "Dead letters (1h)",
            "stat",
            [f"sum by (service, topic) (increase(lapor_dead_letters_total{{{service}}}[1h]))"],
            "none",
        ),
        (
            "Complaints received per hour by channel",
            "timeseries",
            ["sum by (channel) (increase(lapor_complaints_received_total[1h]))"],
            "none",
        ),
        (
            "Complaints received per hour by province",
            "timeseries",
            ["sum by (province) (increase(lapor_complaints_received_total[1h]))"],
            "none",
        ),
        (
            "Open complaints by status",
            "timeseries",
            ["sum by (status) (lapor_complaints_open)"],
            "none",
        ),
        (
            "Routed per hour by agency",
            "timeseries",
            ["sum by (agency, decided_by) (increase(lapor_complaints_routed_total[1h]))"],
            "none",
        ),
        (
            "Standards in force by zone",
            "stat",
            ["sum by (zone) (lapor_standards_in_force)"],
            "none",
        ),
    ]
    agency = 'agency=~"$agency"'
    sla: list[Panel] = [
        (
            "On-time rate by agency",
            "timeseries",
            [f"lapor_sla_on_time_ratio{{{agency}}}"],
            "percentunit",
        ),
        (
            "Open and overdue by agency",
            "timeseries",
            [f"lapor_sla_open_overdue_complaints{{{agency}}}"],
            "none",
        ),
        (
            "Warnings, breaches, escalations per hour",
            "timeseries",
            [f"sum by (agency, firing) (increase(lapor_sla_firings_total{{{agency}}}[1h]))"],
            "none",
        ),
        (
            "Median time to first follow-up",
            "timeseries",
            [f"lapor_sla_first_follow_up_median_seconds{{{agency}}}"],
            "s",
        ),
        (
            "Deadlines set per hour by stage",
            "timeseries",
            ["sum by (stage) (increase(lapor_sla_deadlines_set_total[1h]))"],
            "none",
        ),
        (
            "Standard violations per hour",
            "timeseries",
            ["sum by (kind) (increase(lapor_standard_violations_total[1h]))"],
            "none",
        ),
        (
            "Standards score by agency",
            "timeseries",
            [f"lapor_standards_agency_score_ratio{{{agency}}}"],
            "percentunit",
        ),
        (
            "Re-routes left to the admin (1d)",
            "stat",
            ["sum by (reason) (increase(lapor_reroutes_left_to_admin_total[1d]))"],
            "none",
        ),
    ]
    channel = 'channel=~"$channel"'
    notify: list[Panel] = [
        (
            "Recorded per minute by recipient and channel",
            "timeseries",
            [
                f"sum by (recipient_role, channel) "
                f"(rate(lapor_notifications_recorded_total{{{channel}}}[5m])) * 60"
            ],
            "none",
        ),
        (
            "Delivery attempts by outcome",
            "timeseries",
            [
                f"sum by (channel, outcome) "
                f"(rate(lapor_notification_attempts_total{{{channel}}}[5m]))"
            ],
            "ops",
        ),
        (
            "Send time p95 by channel",
            "timeseries",
            [
                f"histogram_quantile(0.95, sum by (channel, le) "
                f"(rate(lapor_notification_send_seconds_bucket{{{channel}}}[5m])))"
            ],
            "s",
        ),
        (
            "Queue by status",
            "timeseries",
            [f"sum by (channel, status) (lapor_notification_queue_messages{{{channel}}})"],
            "none",
        ),
        (
            "Dead-lettered (1d)",
            "stat",
            [
                f"sum by (channel) (increase(lapor_notification_attempts_total{{{channel}, "
                f'outcome="failed"}}[1d]))'
            ],
            "none",
        ),
    ]
    return {
        "platform-overview.json": _dashboard(
            "lapor-overview",
            "LAPOR — platform overview",
            overview,
            [_variable("service", "label_values(lapor_http_requests_total, service)")],
        ),
        "sla-by-agency.json": _dashboard(
            "lapor-sla",
            "LAPOR — SLA by agency",
            sla,
            [_variable("agency", "label_values(lapor_sla_on_time_ratio, agency)")],
        ),
        "notifications.json": _dashboard(
            "lapor-notify",
            "LAPOR — notifications",
            notify,
            [_variable("channel", "label_values(lapor_notification_attempts_total, channel)")],
        ),
    }


def main() -> None:
    """Rewrite the dashboard files."""
    target = HERE / "dashboards"
    target.mkdir(exist_ok=True)
    for name, dashboard in dashboards().items():
        (target / name).write_text(json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
