"""Routing rules: the agency with authority, explained, and never a wrong door."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from schemas.complaint import ReportType
from schemas.events import AgencyPublished
from services.routing.domain import (
    FALLBACK_RULE_ID,
    Agency,
    Directory,
    NoAgencyLeft,
    Rule,
    Subject,
    Unit,
    agency_changes,
    decide,
    honour_choice,
    owner_rule,
    put_agency,
    put_rule,
    remove_rule,
)
from services.routing.service import load_directory

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
AGENCIES = (
    Agency(agency_id="admin-nasional", name="Admin Nasional", region_code="31"),
    Agency(agency_id="bpjs", name="BPJS Kesehatan", region_code="31"),
    Agency(agency_id="dinkes-maluku", name="Dinkes Maluku", region_code="81"),
    Agency(agency_id="dinkes-ambon", name="Dinkes Ambon", region_code="81.71"),
    Agency(
        agency_id="pemkot-ambon",
        name="Pemkot Ambon",
        region_code="81.71",
        units=(
            Unit(unit_id="disdukcapil", name="Disdukcapil"),
            Unit(unit_id="dishub", name="Dishub"),
        ),
    ),
)


def directory(*rules: Rule) -> Directory:
    return Directory(agencies=AGENCIES, rules=rules, fallback_agency_id="admin-nasional")


def subject(
    category: str,
    region: str,
    report_type: ReportType = ReportType.PENGADUAN,
    service: str | None = None,
    at: datetime = NOW,
) -> Subject:
    return Subject(
        category=category,
        region_code=region,
        report_type=report_type,
        service_standard_id=service,
        at=at,
    )


def rule(
    rule_id: str, category: str, region: str, agency: str, priority: int = 0, **more: object
) -> Rule:
    return Rule.model_validate(
        {
            "rule_id": rule_id,
            "category": category,
            "region_prefix": region,
            "agency_id": agency,
            "priority": priority,
            **more,
        }
    )


def test_most_specific_region_wins() -> None:
    d = directory(
        rule("prov", "kesehatan", "81", "dinkes-maluku"),
        rule("kota", "kesehatan", "81.71", "dinkes-ambon"),
    )
    decision = decide(d, subject("kesehatan", "81.71.01.1001"))
    assert decision.agency.agency_id == "dinkes-ambon"
    assert decision.rule_id == "kota"
    assert decision.alternatives == ("prov",)
    assert "81.71.01.1001" in decision.reason and "kota" in decision.reason


def test_category_hierarchy_matches_subcategories_only() -> None:
    d = directory(rule("kes", "kesehatan", "81", "dinkes-maluku"))
    assert decide(d, subject("kesehatan.puskesmas", "81")).rule_id == "kes"
    # "kesehatanx" is not a subcategory of "kesehatan".
    assert decide(d, subject("kesehatanx", "81")).rule_id == FALLBACK_RULE_ID


def test_region_prefix_matches_whole_segments_only() -> None:
    d = directory(rule("kota", "*", "81.71", "pemkot-ambon"))
    assert decide(d, subject("jalan", "81.71")).rule_id == "kota"
    assert decide(d, subject("jalan", "81.7")).rule_id == FALLBACK_RULE_ID


def test_priority_beats_specificity() -> None:
    d = directory(
        rule("kota", "kesehatan", "81.71", "dinkes-ambon"),
        rule("bpjs", "kesehatan.bpjs", "*", "bpjs", priority=100),
    )
    assert decide(d, subject("kesehatan.bpjs", "81.71")).agency.agency_id == "bpjs"


def test_more_specific_category_beats_wildcard_at_same_region() -> None:
    d = directory(
        rule("umum", "*", "81.71", "pemkot-ambon"),
        rule("kes", "kesehatan", "81.71", "dinkes-ambon"),
    )
    assert decide(d, subject("kesehatan.rs", "81.71")).rule_id == "kes"


def test_ties_are_broken_by_rule_id_not_storage_order() -> None:
    a = rule("a-rule", "*", "81", "dinkes-maluku")
    b = rule("b-rule", "*", "81", "pemkot-ambon")
    assert decide(directory(a, b), subject("x", "81")).rule_id == "a-rule"
    assert decide(directory(b, a), subject("x", "81")).rule_id == "a-rule"


def test_no_rule_sends_the_complaint_to_the_national_admin_queue() -> None:
    decision = decide(directory(), subject("pendidikan", "13.71"))
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
    assert decide(seed, subject("kesehatan.puskesmas", "81.71.02")).agency.agency_id == (
        "dinkes-kota-ambon"
    )
    assert decide(seed, subject("infrastruktur.jalan", "13.71")).agency.agency_id == (
        "dinas-pupr-kota-padang"
    )
    assert decide(seed, subject("kesehatan.bpjs", "13")).agency.agency_id == ("bpjs-kesehatan")


def test_a_bounced_agency_is_skipped_for_the_next_candidate() -> None:
    d = directory(
        rule("prov", "kesehatan", "81", "dinkes-maluku"),
        rule("kota", "kesehatan", "81.71", "dinkes-ambon"),
    )
    again = decide(d, subject("kesehatan", "81.71"), exclude=frozenset({"dinkes-ambon"}))
    assert again.agency.agency_id == "dinkes-maluku"
    assert "excluded after Bukan Wewenang: dinkes-ambon" in again.reason
    everyone = frozenset({"dinkes-ambon", "dinkes-maluku"})
    assert decide(d, subject("kesehatan", "81.71"), exclude=everyone).rule_id == (FALLBACK_RULE_ID)
    with pytest.raises(NoAgencyLeft):
        decide(d, subject("kesehatan", "81.71"), exclude=everyone | {"admin-nasional"})


def test_a_reporter_choice_is_honoured_only_where_that_agency_handles_it() -> None:
    d = directory(
        rule("kota", "kesehatan", "81.71", "dinkes-ambon"),
        rule("umum", "*", "81.71", "pemkot-ambon"),
        rule("bpjs", "kesehatan.bpjs", "*", "bpjs"),
    )
    chosen = honour_choice(d, "pemkot-ambon", subject("kesehatan.rs", "81.71.02"))
    assert chosen is not None
    assert (chosen.agency.agency_id, chosen.rule_id) == ("pemkot-ambon", "umum")
    assert "chosen by the reporter" in chosen.reason
    assert honour_choice(d, "bpjs", subject("jalan", "81.71")) is None
    assert honour_choice(d, "nobody", subject("kesehatan", "81.71")) is None


def test_a_rule_for_one_report_type_wins_for_that_type_only() -> None:
    d = directory(
        rule("kota", "kesehatan", "81.71", "dinkes-ambon"),
        rule("aspirasi", "kesehatan", "81.71", "pemkot-ambon", report_type="aspirasi"),
    )
    assert decide(d, subject("kesehatan", "81.71", ReportType.ASPIRASI)).rule_id == "aspirasi"
    assert decide(d, subject("kesehatan", "81.71", ReportType.PENGADUAN)).rule_id == "kota"


def test_a_rule_for_a_sipp_service_beats_the_category_rule() -> None:
    service = "pemkot-ambon.penerbitan-ktp-el"
    d = directory(
        rule("kota", "*", "81", "dinkes-maluku"),
        rule(
            "ktp", "*", "81.71", "pemkot-ambon", service_standard_id=service, unit_id="disdukcapil"
        ),
    )
    decision = decide(d, subject("kependudukan.ktp", "81.71", service=service))
    assert (decision.rule_id, decision.unit_id) == ("ktp", "disdukcapil")
    assert f"service {service}" in decision.reason
    assert decide(d, subject("kependudukan.ktp", "81.71")).rule_id == "kota"


def test_effective_dates_bound_a_rule() -> None:
    start = NOW + timedelta(days=7)
    d = directory(
        rule("old", "kesehatan", "81.71", "dinkes-maluku", effective_until=start.isoformat()),
        rule("new", "kesehatan", "81.71", "dinkes-ambon", effective_from=start.isoformat()),
    )
    assert decide(d, subject("kesehatan", "81.71", at=NOW)).rule_id == "old"
    assert decide(d, subject("kesehatan", "81.71", at=start)).rule_id == "new"
    with pytest.raises(ValidationError, match="effective_until must be after"):
        rule("bad", "*", "81", "dinkes-ambon", effective_from=start, effective_until=NOW)


def test_confidence_says_how_clearly_the_winner_won() -> None:
    clear = directory(
        rule("bpjs", "kesehatan.bpjs", "*", "bpjs", priority=100),
        rule("kota", "kesehatan", "81.71", "dinkes-ambon"),
    )
    assert decide(clear, subject("kesehatan.bpjs", "81.71")).confidence == "high"
    specific = directory(
        rule("prov", "kesehatan", "81", "dinkes-maluku"),
        rule("kota", "kesehatan", "81.71", "dinkes-ambon"),
    )
    assert decide(specific, subject("kesehatan", "81.71")).confidence == "medium"
    tie = directory(rule("aa", "*", "81", "dinkes-maluku"), rule("bb", "*", "81", "pemkot-ambon"))
    assert decide(tie, subject("x", "81")).confidence == "low"
    assert decide(directory(), subject("x", "81")).confidence == "low"  # the fallback
    assert (
        decide(directory(rule("aa", "*", "81", "dinkes-maluku")), subject("x", "81")).confidence
        == "high"
    )


def test_rules_and_agencies_are_checked_against_the_region_data() -> None:
    with pytest.raises(ValidationError, match="not a known region"):
        rule("xx", "*", "81.99", "pemkot-ambon")  # Maluku has no regency 81.99
    with pytest.raises(ValidationError, match="not a known region"):
        Agency(agency_id="nowhere", name="Nowhere", region_code="99")
    assert rule("xx", "*", "32.73", "pemkot-ambon").region_prefix == "32.73"  # not shipped: allowed


def test_a_rule_may_only_name_a_unit_its_agency_has() -> None:
    with pytest.raises(ValidationError, match="names unit bidang-x, which pemkot-ambon does not"):
        directory(rule("xx", "*", "81.71", "pemkot-ambon", unit_id="bidang-x"))
    with pytest.raises(ValidationError, match="unit is listed twice"):
        Agency(
            agency_id="a-b",
            name="Dup",
            region_code="81",
            units=(Unit(unit_id="u1", name="U one"), Unit(unit_id="u1", name="U two")),
        )


def test_edits_make_a_new_version_validated_as_a_whole() -> None:
    d = directory(rule("kota", "kesehatan", "81.71", "dinkes-ambon"))
    replaced = put_rule(d, rule("kota", "kesehatan", "81.71", "pemkot-ambon"))
    assert (replaced.version, replaced.find_rule("kota").agency_id) == (2, "pemkot-ambon")  # type: ignore[union-attr]
    added = put_rule(replaced, rule("prov", "*", "81", "dinkes-maluku"))
    assert (added.version, len(added.rules)) == (3, 2)
    assert remove_rule(added, "kota").find_rule("kota") is None
    with pytest.raises(ValidationError, match="unknown agencies: ghost"):
        put_rule(d, rule("gg", "*", "81", "ghost"))
    # Dropping a unit a rule still sends complaints to is refused.
    with_unit = put_rule(d, rule("ktp", "kependudukan", "81.71", "pemkot-ambon", unit_id="dishub"))
    without = Agency(agency_id="pemkot-ambon", name="Pemkot Ambon", region_code="81.71")
    with pytest.raises(ValidationError, match="names unit dishub"):
        put_agency(with_unit, without)
    manual = put_agency(d, AGENCIES[3].model_copy(update={"routing_mode": "manual"}))
    assert decide(manual, subject("kesehatan", "81.71")).proposal is True
    assert decide(manual, subject("pendidikan", "81.71")).proposal is False  # the fallback


def test_decisions_carry_the_directory_version() -> None:
    d = put_rule(directory(), rule("kota", "kesehatan", "81.71", "dinkes-ambon"))
    assert decide(d, subject("kesehatan", "81.71")).directory_version == 2


def test_a_complaint_about_a_published_standard_goes_to_its_publisher() -> None:
    service = "pemkot-ambon.penerbitan-ktp-el"
    d = directory(rule("umum", "*", "81.71", "dinkes-ambon"))
    owner = owner_rule(d, service, "pemkot-ambon", "disdukcapil")
    assert owner is not None
    decision = decide(d, subject("umum", "81.71", service=service), extra=[owner])
    assert (decision.agency.agency_id, decision.unit_id) == ("pemkot-ambon", "disdukcapil")
    # Not about that standard: the table decides as before.
    assert decide(d, subject("umum", "81.71"), extra=[owner]).rule_id == "umum"
    # A publisher routing does not know, or a unit it does not have, is not invented.
    assert owner_rule(d, service, "unknown-agency", None) is None
    assert owner_rule(d, service, "pemkot-ambon", "no-such-unit").unit_id is None  # type: ignore[union-attr]
    # An explicit rule of a higher priority still wins.
    override = directory(
        rule("ktp", "*", "81", "dinkes-maluku", priority=100, service_standard_id=service)
    )
    assert (
        decide(override, subject("umum", "81.71", service=service), extra=[owner]).rule_id == "ktp"
    )


def test_an_edit_announces_the_agencies_it_adds_changes_or_removes() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    before = load_directory("")
    every = agency_changes(None, before, at)
    assert len(every) == len(before.agencies)
    desks = [c.agency_id for c in every if isinstance(c, AgencyPublished) and c.national_desk]
    assert desks == [before.fallback_agency_id]
    renamed = before.agency("pemkot-padang").model_copy(update={"name": "Pemkot Padang"})
    kept = [a for a in before.agencies if a.agency_id not in ("pemkot-padang", "bpjs-kesehatan")]
    rules = tuple(r for r in before.rules if r.agency_id not in ("pemkot-padang", "bpjs-kesehatan"))
    after = before.model_copy(update={"version": 2, "agencies": (*kept, renamed), "rules": rules})
    changes = agency_changes(before, after, at)
    assert [(type(c).__name__, c.agency_id, c.directory_version) for c in changes] == [
        ("AgencyPublished", "pemkot-padang", 2),
        ("AgencyWithdrawn", "bpjs-kesehatan", 2),
    ]
