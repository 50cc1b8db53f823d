"""Routing rules: the agency with authority, explained, and never a wrong door."""

import pytest
from pydantic import ValidationError

from services.routing.domain import (
    FALLBACK_RULE_ID,
    Agency,
    Directory,
    NoAgencyLeft,
    Rule,
    decide,
    honour_choice,
)
from services.routing.service import load_directory

AGENCIES = [
    Agency(agency_id="admin-nasional", name="Admin Nasional", region_code="31"),
    Agency(agency_id="bpjs", name="BPJS Kesehatan", region_code="31"),
    Agency(agency_id="dinkes-maluku", name="Dinkes Maluku", region_code="81"),
    Agency(agency_id="dinkes-ambon", name="Dinkes Ambon", region_code="81.71"),
    Agency(agency_id="pemkot-ambon", name="Pemkot Ambon", region_code="81.71"),
]


def directory(*rules: Rule) -> Directory:
    return Directory(agencies=AGENCIES, rules=list(rules), fallback_agency_id="admin-nasional")


def rule(rule_id: str, category: str, region: str, agency: str, priority: int = 0) -> Rule:
    return Rule(
        rule_id=rule_id,
        category=category,
        region_prefix=region,
        agency_id=agency,
        priority=priority,
    )


def test_most_specific_region_wins() -> None:
    d = directory(
        rule("prov", "kesehatan", "81", "dinkes-maluku"),
        rule("kota", "kesehatan", "81.71", "dinkes-ambon"),
    )
    decision = decide(d, category="kesehatan", region_code="81.71.01.1001")
    assert decision.agency.agency_id == "dinkes-ambon"
    assert decision.rule_id == "kota"
    assert decision.alternatives == ("prov",)
    assert "81.71.01.1001" in decision.reason and "kota" in decision.reason


def test_category_hierarchy_matches_subcategories_only() -> None:
    d = directory(rule("kes", "kesehatan", "81", "dinkes-maluku"))
    assert decide(d, category="kesehatan.puskesmas", region_code="81").rule_id == "kes"
    # "kesehatanx" is not a subcategory of "kesehatan".
    assert decide(d, category="kesehatanx", region_code="81").rule_id == FALLBACK_RULE_ID


def test_region_prefix_matches_whole_segments_only() -> None:
    d = directory(rule("kota", "*", "81.71", "pemkot-ambon"))
    assert decide(d, category="jalan", region_code="81.71").rule_id == "kota"
    assert decide(d, category="jalan", region_code="81.7").rule_id == FALLBACK_RULE_ID


def test_priority_beats_specificity() -> None:
    d = directory(
        rule("kota", "kesehatan", "81.71", "dinkes-ambon"),
        rule("bpjs", "kesehatan.bpjs", "*", "bpjs", priority=100),
    )
    assert decide(d, category="kesehatan.bpjs", region_code="81.71").agency.agency_id == "bpjs"


def test_more_specific_category_beats_wildcard_at_same_region() -> None:
    d = directory(
        rule("umum", "*", "81.71", "pemkot-ambon"),
        rule("kes", "kesehatan", "81.71", "dinkes-ambon"),
    )
    assert decide(d, category="kesehatan.rs", region_code="81.71").rule_id == "kes"


def test_ties_are_broken_by_rule_id_not_storage_order() -> None:
    a = rule("a-rule", "*", "81", "dinkes-maluku")
    b = rule("b-rule", "*", "81", "pemkot-ambon")
    assert decide(directory(a, b), category="x", region_code="81").rule_id == "a-rule"
    assert decide(directory(b, a), category="x", region_code="81").rule_id == "a-rule"


def test_no_rule_sends_the_complaint_to_the_national_admin_queue() -> None:
    decision = decide(directory(), category="pendidikan", region_code="13.71")
    assert decision.agency.agency_id == "admin-nasional"
    assert decision.rule_id == FALLBACK_RULE_ID
    assert "national admin queue" in decision.reason


def test_agency_time_zone_comes_from_its_province() -> None:
    assert AGENCIES[3].time_zone == "Asia/Jayapura"  # Ambon is WIT
    assert AGENCIES[0].time_zone == "Asia/Jakarta"


def test_directory_refuses_rules_naming_unknown_agencies() -> None:
    with pytest.raises(ValidationError, match="unknown agencies: nowhere"):
        directory(rule("xx", "*", "81", "nowhere"))


def test_shipped_seed_directory_is_valid_and_routes_the_seed_regions() -> None:
    seed = load_directory("")
    assert decide(
        seed, category="kesehatan.puskesmas", region_code="81.71.02"
    ).agency.agency_id == ("dinkes-kota-ambon")
    assert decide(seed, category="infrastruktur.jalan", region_code="13.71").agency.agency_id == (
        "dinas-pupr-kota-padang"
    )
    assert decide(seed, category="kesehatan.bpjs", region_code="13").agency.agency_id == (
        "bpjs-kesehatan"
    )


def test_a_bounced_agency_is_skipped_for_the_next_candidate() -> None:
    d = directory(
        rule("prov", "kesehatan", "81", "dinkes-maluku"),
        rule("kota", "kesehatan", "81.71", "dinkes-ambon"),
    )
    again = decide(
        d, category="kesehatan", region_code="81.71", exclude=frozenset({"dinkes-ambon"})
    )
    assert again.agency.agency_id == "dinkes-maluku"
    assert "excluded after Bukan Wewenang: dinkes-ambon" in again.reason
    everyone = frozenset({"dinkes-ambon", "dinkes-maluku"})
    assert decide(d, category="kesehatan", region_code="81.71", exclude=everyone).rule_id == (
        FALLBACK_RULE_ID
    )
    with pytest.raises(NoAgencyLeft):
        decide(d, category="kesehatan", region_code="81.71", exclude=everyone | {"admin-nasional"})


def test_a_reporter_choice_is_honoured_only_where_that_agency_handles_it() -> None:
    d = directory(
        rule("kota", "kesehatan", "81.71", "dinkes-ambon"),
        rule("umum", "*", "81.71", "pemkot-ambon"),
        rule("bpjs", "kesehatan.bpjs", "*", "bpjs"),
    )
    chosen = honour_choice(d, "pemkot-ambon", category="kesehatan.rs", region_code="81.71.02")
    assert chosen is not None
    assert (chosen.agency.agency_id, chosen.rule_id) == ("pemkot-ambon", "umum")
    assert "chosen by the reporter" in chosen.reason
    assert honour_choice(d, "bpjs", category="jalan", region_code="81.71") is None
    assert honour_choice(d, "nobody", category="kesehatan", region_code="81.71") is None
