"""Clock firings with a controllable clock: warn, breach, climb the chain, expire."""

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from schemas.events import SlaStage
from services.sla.calendar import WorkingCalendar
from services.sla.timers import ClockState, Firing, Phase, Policy, fire, next_fire

CAL = WorkingCalendar()
POLICY = Policy(
    warn_working_days=1,
    escalation_chain=("agency_admin", "national_admin", "ombudsman"),
    escalation_working_days=2,
    day_end=time(23, 59, 59),
)
DUE = datetime(2026, 12, 1, 14, 59, 59, tzinfo=UTC)  # Tuesday, end of day WIT
WARN = datetime(2026, 11, 30, 14, 59, 59, tzinfo=UTC)


def clock(**changes: object) -> ClockState:
    base = ClockState(
        stage=SlaStage.FIRST_FOLLOW_UP,
        holder="unit",
        due_at=DUE,
        warn_at=WARN,
        phase=Phase.BEFORE_WARNING,
        level=0,
        time_zone="Asia/Jayapura",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def run(state: ClockState, now: datetime) -> ClockState:
    outcome = fire(state, now=now, policy=POLICY, calendar=CAL)
    assert outcome is not None
    return replace(state, phase=outcome.phase, level=outcome.level)


def test_nothing_fires_early_and_the_warning_comes_first() -> None:
    assert fire(clock(), now=WARN - timedelta(seconds=1), policy=POLICY, calendar=CAL) is None
    outcome = fire(clock(), now=WARN, policy=POLICY, calendar=CAL)
    assert outcome is not None
    assert (outcome.firing, outcome.phase, outcome.next_fire_at) == (Firing.WARN, Phase.WARNED, DUE)


def test_a_breach_goes_to_the_level_above_whoever_must_act() -> None:
    warned = clock(phase=Phase.WARNED)
    by_unit = fire(warned, now=DUE, policy=POLICY, calendar=CAL)
    by_agency = fire(
        clock(phase=Phase.WARNED, holder="agency"), now=DUE, policy=POLICY, calendar=CAL
    )
    assert by_unit is not None
    assert by_agency is not None
    assert (by_unit.firing, by_unit.escalate_to, by_unit.level) == (
        Firing.BREACH,
        "agency_admin",
        1,
    )
    assert by_agency.escalate_to == "national_admin"
    # Two working days later (Thursday 3 December, end of day WIT) it climbs again.
    assert by_unit.next_fire_at == datetime(2026, 12, 3, 14, 59, 59, tzinfo=UTC)


def test_a_missed_warning_still_breaches_once_at_the_deadline() -> None:
    outcome = fire(clock(), now=DUE + timedelta(hours=3), policy=POLICY, calendar=CAL)
    assert outcome is not None
    assert outcome.firing is Firing.BREACH


def test_the_chain_ends_at_its_last_level() -> None:
    state = run(clock(phase=Phase.WARNED), DUE)
    state = run(state, DUE + timedelta(days=3))
    assert state.level == 2
    last = fire(state, now=DUE + timedelta(days=6), policy=POLICY, calendar=CAL)
    assert last is not None
    assert (last.escalate_to, last.next_fire_at) == ("ombudsman", None)
    top = run(state, DUE + timedelta(days=6))
    assert fire(top, now=DUE + timedelta(days=30), policy=POLICY, calendar=CAL) is None


def test_a_reply_window_expires_instead_of_breaching() -> None:
    window = clock(stage=SlaStage.REPLY_WINDOW, holder="complainant", phase=Phase.WARNED)
    outcome = fire(window, now=DUE, policy=POLICY, calendar=CAL)
    assert outcome is not None
    assert (outcome.firing, outcome.phase, outcome.next_fire_at) == (
        Firing.EXPIRE,
        Phase.DONE,
        None,
    )


def test_next_fire_follows_the_phase() -> None:
    assert next_fire(clock()) == WARN
    assert next_fire(clock(warn_at=None)) == DUE
    assert next_fire(clock(phase=Phase.WARNED)) == DUE
    assert next_fire(clock(phase=Phase.DONE)) is None
