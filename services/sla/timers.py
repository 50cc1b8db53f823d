"""What a clock does when its moment comes: warn, breach, escalate, or expire. No I/O.

A running clock has one ``next_fire_at``: the warning time until it has warned, then the due
time, then (for obligations) each escalation step. Obligations (the agency's or the verifier's
deadlines) breach and climb the escalation chain; windows (the complainant's reply window)
expire, which closes the complaint. Each firing moves the clock to its next phase, so firing is
idempotent: a clock that already moved is not fired again.
"""

from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum

from schemas.events import SlaStage
from services.sla.calendar import WorkingCalendar

WINDOW_STAGES = frozenset({SlaStage.REPLY_WINDOW})


class Phase(StrEnum):
    """Where a running clock is."""

    BEFORE_WARNING = "before_warning"
    WARNED = "warned"
    BREACHED = "breached"
    DONE = "done"


class Firing(StrEnum):
    """What happens at ``next_fire_at``."""

    WARN = "warn"
    BREACH = "breach"
    ESCALATE = "escalate"
    EXPIRE = "expire"


@dataclass(frozen=True)
class Policy:
    """Deployment choices: warning lead, escalation chain and pace."""

    warn_working_days: int
    escalation_chain: tuple[str, ...]
    escalation_working_days: int
    day_end: time


@dataclass(frozen=True)
class ClockState:
    """The part of a stored clock the timer rules read."""

    stage: SlaStage
    holder: str  # "verifier", "agency" or "unit": who must act
    due_at: datetime
    warn_at: datetime | None
    phase: Phase
    level: int  # escalation steps taken
    time_zone: str


@dataclass(frozen=True)
class Outcome:
    """A firing and the clock's next phase and moment (None: nothing more will fire)."""

    firing: Firing
    phase: Phase
    level: int
    escalate_to: str | None
    next_fire_at: datetime | None


def first_target(holder: str, chain: tuple[str, ...]) -> int:
    """Index in the chain of whom a breach goes to: the level above whoever must act."""
    above = {"unit": "agency_admin", "agency": "national_admin", "verifier": "national_admin"}
    wanted = above.get(holder, "national_admin")
    return chain.index(wanted) if wanted in chain else 0


def next_fire(state: ClockState) -> datetime | None:
    """The moment the clock fires next, from its phase."""
    if state.phase is Phase.BEFORE_WARNING and state.warn_at is not None:
        return state.warn_at
    if state.phase in (Phase.BEFORE_WARNING, Phase.WARNED):
        return state.due_at
    return None


def fire(
    state: ClockState, *, now: datetime, policy: Policy, calendar: WorkingCalendar
) -> Outcome | None:
    """What the clock does at ``now``; None when nothing is due."""
    if state.phase is Phase.DONE:
        return None
    window = state.stage in WINDOW_STAGES
    if now >= state.due_at and state.phase in (Phase.BEFORE_WARNING, Phase.WARNED):
        if window:
            return Outcome(Firing.EXPIRE, Phase.DONE, state.level, None, None)
        target = first_target(state.holder, policy.escalation_chain)
        return Outcome(
            Firing.BREACH,
            Phase.BREACHED,
            1,
            policy.escalation_chain[target],
            _next_escalation(state, target + 1, now, policy, calendar),
        )
    if state.phase is Phase.BEFORE_WARNING and state.warn_at is not None and now >= state.warn_at:
        return Outcome(Firing.WARN, Phase.WARNED, state.level, None, state.due_at)
    if state.phase is Phase.BREACHED:
        index = first_target(state.holder, policy.escalation_chain) + state.level
        if index >= len(policy.escalation_chain):
            return None
        return Outcome(
            Firing.ESCALATE,
            Phase.BREACHED,
            state.level + 1,
            policy.escalation_chain[index],
            _next_escalation(state, index + 1, now, policy, calendar),
        )
    return None


def _next_escalation(
    state: ClockState, next_index: int, now: datetime, policy: Policy, calendar: WorkingCalendar
) -> datetime | None:
    if next_index >= len(policy.escalation_chain):
        return None
    return calendar.deadline(
        now, policy.escalation_working_days, time_zone=state.time_zone, day_end=policy.day_end
    )


def warning_time(
    due_at: datetime,
    *,
    time_zone: str,
    policy: Policy,
    calendar: WorkingCalendar,
    started_at: datetime,
) -> datetime | None:
    """When to warn, or None when the warning would come before the clock even started."""
    if policy.warn_working_days <= 0:
        return None
    warn_at = calendar.warning_time(
        due_at, policy.warn_working_days, time_zone=time_zone, day_end=policy.day_end
    )
    return warn_at if warn_at > started_at else None
