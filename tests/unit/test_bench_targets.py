"""The benchmark's target table: the six figures under their stable keys, each judged against
its bound in the right direction (a result file other runs are compared with)."""

from typing import Any

from bench import targets


def result(*, commands: float, p99: float, rss: float) -> dict[str, Any]:
    return {
        "ceilings": {"mongo": {"insert_one_per_s": 600.0}, "asgi_per_s": 3000.0},
        "intake_alone": {"per_s": 900.0},
        "platform": {
            "end_to_end_per_s": 60.0,
            "rss_mib": {"intake": 120.0, "notify": rss},
            "levels": [
                {"share_of_saturation": 0.5, "latency_ms": {"routed": {"p99": 9000.0}}},
                {
                    "share_of_end_to_end": 0.5,
                    "latency_ms": {"routed": {"p99": p99}},
                    "database_commands_per_complaint": commands,
                },
            ],
        },
    }


def test_the_six_figures_are_kept_under_stable_keys_and_judged_each_way() -> None:
    sla = {"ratio_firing_rate_to_bulk_insert_rate": 0.4}
    reported = targets.report(targets.figures(result(commands=19.5, p99=80.0, rss=140.0), sla))
    assert list(reported) == [
        "db_commands_per_complaint",
        "e2e_per_insert_one",
        "p99_post_to_routed_ms_at_half_e2e",
        "intake_alone_per_bare_asgi",
        "sla_firing_per_bulk_insert",
        "max_service_rss_mib",
    ]
    met = {key: entry["met"] for key, entry in reported.items()}
    assert met == {
        "db_commands_per_complaint": True,  # 19.5 ≤ 20
        "e2e_per_insert_one": False,  # 60/600 = 0.1 < 1/6
        "p99_post_to_routed_ms_at_half_e2e": True,  # taken at half the end-to-end rate
        "intake_alone_per_bare_asgi": True,  # 900/3000 = 0.3 ≥ 0.25
        "sla_firing_per_bulk_insert": False,  # 0.4 < 0.5
        "max_service_rss_mib": True,  # the largest, 140 ≤ 150
    }
    worse = targets.report(targets.figures(result(commands=70.5, p99=120.0, rss=151.0), None))
    for key in ("db_commands_per_complaint", "p99_post_to_routed_ms_at_half_e2e"):
        assert not worse[key]["met"]
    assert worse["max_service_rss_mib"]["value"] == 151.0
    assert not worse["max_service_rss_mib"]["met"]
    assert worse["sla_firing_per_bulk_insert"] == {
        "value": None,
        "target": "at least 0.5",
        "met": False,
        "what": worse["sla_firing_per_bulk_insert"]["what"],
    }
    assert "| no |" in targets.markdown(worse)
