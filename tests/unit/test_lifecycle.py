"""The complaint lifecycle: every path, who may take it, and what is refused."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from schemas.complaint import Actor, RejectionReason, ReportType, Role
from schemas.complaint import ComplaintStatus as S
from schemas.complaint import LifecycleAction as A
from services.intake.lifecycle import (
    RULES,
    Command,
    ComplaintState,
    IllegalTransition,
    Transition,
    apply,
)

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
WINDOW = timedelta(days=10)
CITIZEN = Actor(Role.CITIZEN, "citizen-1")
OTHER_CITIZEN = Actor(Role.CITIZEN, "citizen-2")
ADMIN = Actor(Role.NATIONAL_ADMIN, "admin-1")
SYSTEM = Actor(Role.SYSTEM, "routing")
AGENCY = Actor(Role.AGENCY_ADMIN, "agency-admin-1", agency_id="pemkot-ambon")
OTHER_AGENCY = Actor(Role.AGENCY_ADMIN, "agency-admin-2", agency_id="pemkot-padang")
UNIT = Actor(Role.UNIT_OFFICER, "officer-1", agency_id="pemkot-ambon", unit_id="dinas-pu")
AUDITOR = Actor(Role.AUDITOR, "auditor-1")

FRESH = ComplaintState(
    status=S.SUBMITTED, reporter_id="citizen-1", report_type=ReportType.PENGADUAN
)
FORWARD = Command(A.FORWARD, agency_id="pemkot-ambon", needs_examination=False)


def step(
    state: ComplaintState, command: Command, actor: Actor, now: datetime = NOW
) -> ComplaintState:
    return apply(state, command, actor, now=now, reply_window=WINDOW).state


def refused(state: ComplaintState, command: Command, actor: Actor, now: datetime = NOW) -> str:
    with pytest.raises(IllegalTransition) as caught:
        apply(state, command, actor, now=now, reply_window=WINDOW)
    return caught.value.code


def test_the_typical_journey_from_submission_to_closure() -> None:
    state = step(FRESH, FORWARD, ADMIN)
    assert (state.status, state.agency_id, state.needs_examination) == (
        S.FORWARDED_TO_AGENCY,
        "pemkot-ambon",
        False,
    )
    state = step(state, Command(A.FORWARD_TO_UNIT, unit_id="dinas-pu"), AGENCY)
    assert (state.status, state.unit_id) == (S.FORWARDED_TO_UNIT, "dinas-pu")
    state = step(state, Command(A.FOLLOW_UP, text="Tim sudah ke lokasi"), UNIT)
    assert state.status is S.IN_FOLLOW_UP
    state = step(state, Command(A.ANSWER, text="Jalan sudah diperbaiki"), UNIT)
    assert (state.status, state.answered_at) == (S.ANSWERED, NOW)
    state = step(state, Command(A.AUTO_CLOSE), SYSTEM, NOW + timedelta(days=14))
    assert (state.status, state.closed_by) == (S.CLOSED, Role.SYSTEM)


def test_deferred_until_the_citizen_completes_it() -> None:
    deferred = step(FRESH, Command(A.DEFER, reason="lokasi kurang jelas"), ADMIN)
    assert deferred.status is S.DEFERRED
    assert refused(deferred, FORWARD, ADMIN) == "illegal_transition"
    completed = step(deferred, Command(A.COMPLETE, text="Di depan Pasar Mardika"), CITIZEN)
    assert completed.status is S.SUBMITTED


def test_rejection_is_archived_with_its_reason_and_is_final() -> None:
    transition = apply(
        FRESH,
        Command(A.REJECT, reason="perkara pengadilan", rejection=RejectionReason.OUT_OF_SCOPE),
        ADMIN,
        now=NOW,
        reply_window=WINDOW,
    )
    assert transition.to_status is S.REJECTED
    assert transition.reason == "perkara pengadilan"
    for action in A:
        for actor in (ADMIN, SYSTEM, CITIZEN, AGENCY):
            with pytest.raises(IllegalTransition):
                apply(transition.state, Command(action), actor, now=NOW, reply_window=WINDOW)


def test_bounce_returns_to_the_national_admin_and_excludes_the_agency() -> None:
    forwarded = step(FRESH, FORWARD, SYSTEM)
    bounced = step(forwarded, Command(A.BOUNCE, reason="Bukan wewenang kami"), AGENCY)
    assert bounced.status is S.BOUNCED
    assert bounced.bounced_agencies == ("pemkot-ambon",)
    assert refused(bounced, Command(A.REROUTE, agency_id="pemkot-ambon"), ADMIN) == (
        "agency_already_bounced"
    )
    rerouted = step(bounced, Command(A.REROUTE, agency_id="pemprov-maluku"), ADMIN)
    assert (rerouted.status, rerouted.agency_id) == (S.FORWARDED_TO_AGENCY, "pemprov-maluku")
    # The agency that bounced it no longer has authority over it.
    assert refused(rerouted, Command(A.FOLLOW_UP, text="x"), AGENCY) == "not_your_complaint"


def test_a_reply_within_the_window_reopens_and_after_it_is_refused() -> None:
    answered = step(
        step(step(FRESH, FORWARD, SYSTEM), Command(A.ANSWER, text="Sudah"), AGENCY),
        Command(A.CLOSE, reason="jawaban final"),
        AGENCY,
    )
    assert answered.status is S.CLOSED
    reopened = step(answered, Command(A.REPLY, text="Belum diperbaiki"), CITIZEN, NOW + WINDOW)
    assert reopened.status is S.REOPENED
    assert (
        refused(
            answered,
            Command(A.REPLY, text="terlambat"),
            CITIZEN,
            NOW + WINDOW + timedelta(seconds=1),
        )
        == "reply_window_closed"
    )
    # The agency follows up again on the re-opened complaint.
    assert step(reopened, Command(A.FOLLOW_UP, text="Dicek ulang"), AGENCY).status is S.IN_FOLLOW_UP


def test_a_complaint_closed_by_the_admin_cannot_be_reopened() -> None:
    answered = step(step(FRESH, FORWARD, SYSTEM), Command(A.ANSWER, text="Sudah"), AGENCY)
    closed = step(answered, Command(A.CLOSE, reason="selesai"), ADMIN)
    assert refused(closed, Command(A.REPLY, text="?"), CITIZEN) == "closed_by_admin"


def test_escalation_and_handling_after_it() -> None:
    forwarded = step(FRESH, FORWARD, SYSTEM)
    escalated = step(forwarded, Command(A.ESCALATE, reason="melewati batas waktu"), SYSTEM)
    assert escalated.status is S.ESCALATED
    assert step(escalated, Command(A.ANSWER, text="Sudah"), AGENCY).status is S.ANSWERED


@pytest.mark.parametrize(
    ("actor", "command", "code"),
    [
        (CITIZEN, FORWARD, "role_not_allowed"),
        (AUDITOR, FORWARD, "role_not_allowed"),
        (AGENCY, Command(A.DEFER, reason="x"), "role_not_allowed"),
        (UNIT, Command(A.BOUNCE, reason="x"), "role_not_allowed"),
        (SYSTEM, Command(A.REPLY, text="x"), "role_not_allowed"),
    ],
)
def test_roles_outside_an_action_are_refused(actor: Actor, command: Command, code: str) -> None:
    assert refused(FRESH, command, actor) == code


def test_only_the_assigned_agency_unit_and_reporter_may_act() -> None:
    forwarded = step(FRESH, FORWARD, SYSTEM)
    assert refused(forwarded, Command(A.FOLLOW_UP, text="x"), OTHER_AGENCY) == "not_your_complaint"
    assert refused(forwarded, Command(A.FOLLOW_UP, text="x"), UNIT) == "not_your_complaint"
    answered = step(forwarded, Command(A.ANSWER, text="Sudah"), AGENCY)
    assert refused(answered, Command(A.REPLY, text="x"), OTHER_CITIZEN) == "not_your_complaint"
    anonymous_submission = replace(answered, reporter_id=None)
    assert refused(anonymous_submission, Command(A.REPLY, text="x"), CITIZEN) == (
        "not_your_complaint"
    )


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (Command(A.FORWARD), "agency_id_required"),
        (Command(A.FORWARD, agency_id="pemkot-ambon"), "needs_examination_required"),
        (Command(A.DEFER), "reason_required"),
        (Command(A.REJECT, reason="x"), "rejection_required"),
    ],
)
def test_missing_fields_are_named(command: Command, code: str) -> None:
    assert refused(FRESH, command, ADMIN) == code


def test_automatic_routing_forwards_without_an_examination_class() -> None:
    state = step(FRESH, Command(A.FORWARD, agency_id="pemkot-ambon"), SYSTEM)
    assert (state.status, state.needs_examination) == (S.FORWARDED_TO_AGENCY, None)


def test_aspirasi_needs_no_examination_class_and_type_can_be_corrected() -> None:
    aspirasi = replace(FRESH, report_type=ReportType.ASPIRASI)
    assert step(aspirasi, Command(A.FORWARD, agency_id="pemkot-ambon"), ADMIN).status is (
        S.FORWARDED_TO_AGENCY
    )
    corrected = step(
        aspirasi,
        Command(
            A.FORWARD,
            agency_id="pemkot-ambon",
            report_type=ReportType.PENGADUAN,
            needs_examination=True,
        ),
        ADMIN,
    )
    assert (corrected.report_type, corrected.needs_examination) == (ReportType.PENGADUAN, True)


def test_every_status_is_reachable() -> None:
    targets = {rule.target for rules in RULES.values() for rule in rules}
    assert targets == set(S)  # SUBMITTED again after a deferred report is completed
    assert isinstance(apply(FRESH, FORWARD, ADMIN, now=NOW, reply_window=WINDOW), Transition)


def test_merge_closes_a_duplicate_for_good() -> None:
    forwarded = step(FRESH, FORWARD, SYSTEM)
    assert refused(forwarded, Command(A.MERGE), ADMIN) == "merge_into_required"
    assert refused(forwarded, Command(A.MERGE, merge_into="LPR-X"), AGENCY) == "role_not_allowed"
    merged = apply(
        forwarded,
        Command(A.MERGE, merge_into="LPR-AAAAA-AAAAA"),
        ADMIN,
        now=NOW,
        reply_window=WINDOW,
    )
    assert merged.to_status is S.MERGED
    assert merged.reason == "merged into LPR-AAAAA-AAAAA"
    assert refused(merged.state, Command(A.REPLY, text="x"), CITIZEN) == "illegal_transition"


SIBLING = Actor(Role.UNIT_OFFICER, "officer-2", agency_id="pemkot-ambon", unit_id="dishub")


def test_a_unit_hands_a_complaint_to_a_sibling_unit_of_its_agency() -> None:
    routed = replace(step(FRESH, FORWARD, ADMIN), agency_units=("dinas-pu", "dishub"))
    at_unit = step(routed, Command(A.FORWARD_TO_UNIT, unit_id="dinas-pu"), AGENCY)
    working = step(at_unit, Command(A.FOLLOW_UP, text="Kami cek dulu"), UNIT)
    handed = step(
        working, Command(A.FORWARD_TO_UNIT, unit_id="dishub", reason="urusan dishub"), UNIT
    )
    assert (handed.status, handed.unit_id, handed.agency_id) == (
        S.FORWARDED_TO_UNIT,
        "dishub",
        "pemkot-ambon",
    )
    # Now the sibling holds it, and the first unit no longer may act.
    assert step(handed, Command(A.FOLLOW_UP, text="Diterima"), SIBLING).status is S.IN_FOLLOW_UP
    assert refused(handed, Command(A.FOLLOW_UP, text="x"), UNIT) == "not_your_complaint"
    # The agency admin may move it between units too; a unit of another agency cannot be named.
    assert (
        step(handed, Command(A.FORWARD_TO_UNIT, unit_id="dinas-pu"), AGENCY).unit_id == "dinas-pu"
    )
    assert (
        refused(handed, Command(A.FORWARD_TO_UNIT, unit_id="bidang-x"), SIBLING) == "unknown_unit"
    )
    assert refused(handed, Command(A.FORWARD_TO_UNIT, unit_id="dishub"), SIBLING) == "same_unit"


def test_a_unit_cannot_hand_over_what_it_does_not_hold_or_after_the_answer() -> None:
    routed = replace(step(FRESH, FORWARD, ADMIN), agency_units=("dinas-pu", "dishub"))
    # Still at the agency level: only the agency admin disposes it.
    assert (
        refused(routed, Command(A.FORWARD_TO_UNIT, unit_id="dishub"), UNIT) == "not_your_complaint"
    )
    at_unit = step(routed, Command(A.FORWARD_TO_UNIT, unit_id="dinas-pu"), AGENCY)
    answered = step(at_unit, Command(A.ANSWER, text="Selesai"), UNIT)
    assert refused(answered, Command(A.FORWARD_TO_UNIT, unit_id="dishub"), UNIT) == (
        "illegal_transition"
    )


def test_forwarding_to_another_agency_forgets_the_old_agency_units() -> None:
    routed = replace(step(FRESH, FORWARD, ADMIN), agency_units=("dinas-pu",))
    bounced = step(routed, Command(A.BOUNCE, reason="bukan wewenang"), AGENCY)
    rerouted = step(bounced, Command(A.REROUTE, agency_id="pemkot-padang"), ADMIN)
    assert rerouted.agency_units == ()


def test_a_forward_carries_the_directory_name_and_units_of_its_agency() -> None:
    named = Command(
        A.FORWARD,
        agency_id="pemkot-ambon",
        agency_name="Pemerintah Kota Ambon",
        agency_units=("dinas-pu",),
        needs_examination=False,
    )
    state = step(FRESH, named, ADMIN)
    assert (state.agency_name, state.agency_units) == ("Pemerintah Kota Ambon", ("dinas-pu",))
    assert refused(state, Command(A.FORWARD_TO_UNIT, unit_id="dishub"), AGENCY) == "unknown_unit"


def test_the_national_admin_moves_a_report_still_waiting_with_an_agency() -> None:
    waiting = step(FRESH, FORWARD, SYSTEM)
    moved = step(waiting, Command(A.REROUTE, agency_id="pemkot-padang", reason="x"), ADMIN)
    assert (moved.status, moved.agency_id) == (S.FORWARDED_TO_AGENCY, "pemkot-padang")
    nowhere = Command(A.REROUTE, agency_id="pemkot-padang")
    assert refused(moved, nowhere, ADMIN) == "same_agency"
    # Routing re-routes only what was bounced; an agency at work keeps the complaint.
    assert refused(waiting, Command(A.REROUTE, agency_id="pemkot-padang"), SYSTEM) == (
        "illegal_transition"
    )
    working = step(moved, Command(A.FOLLOW_UP, text="Kami periksa"), OTHER_AGENCY)
    assert refused(working, Command(A.REROUTE, agency_id="pemkot-ambon"), ADMIN) == (
        "illegal_transition"
    )
