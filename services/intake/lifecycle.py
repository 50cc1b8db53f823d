"""The SP4N-LAPOR! complaint lifecycle as a state machine. No I/O; ``now`` is passed in.

Each action lists, per role, the statuses it may start from and the status it leads to.
``apply`` checks the role, the actor's authority over this complaint (its agency, its unit,
its reporter), the source status, the fields the action needs and the reply window, and returns
the transition to record, or raises ``IllegalTransition`` with a machine-readable code.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from schemas.complaint import Actor, RejectionReason, ReportType, Role
from schemas.complaint import ComplaintStatus as S
from schemas.complaint import LifecycleAction as A

OPEN_STATUSES = frozenset(S) - {S.REJECTED, S.CLOSED, S.MERGED}
# A report in one of these is over: its retention period runs from when it got there.
ENDED_STATUSES = frozenset(S) - OPEN_STATUSES
HANDLING = frozenset({S.FORWARDED_TO_AGENCY, S.FORWARDED_TO_UNIT, S.IN_FOLLOW_UP, S.REOPENED})
AGENCY_SIDE = frozenset({Role.AGENCY_ADMIN, Role.UNIT_OFFICER})


@dataclass(frozen=True)
class Rule:
    """One way an action may be taken: by these roles, from these statuses, to that status."""

    roles: frozenset[Role]
    sources: frozenset[S]
    target: S


def _rule(roles: set[Role], sources: set[S] | frozenset[S], target: S) -> Rule:
    return Rule(frozenset(roles), frozenset(sources), target)


RULES: dict[A, tuple[Rule, ...]] = {
    A.DEFER: (_rule({Role.NATIONAL_ADMIN}, {S.SUBMITTED}, S.DEFERRED),),
    A.COMPLETE: (_rule({Role.CITIZEN}, {S.DEFERRED}, S.SUBMITTED),),
    A.REJECT: (_rule({Role.NATIONAL_ADMIN}, {S.SUBMITTED, S.DEFERRED}, S.REJECTED),),
    A.FORWARD: (_rule({Role.NATIONAL_ADMIN, Role.SYSTEM}, {S.SUBMITTED}, S.FORWARDED_TO_AGENCY),),
    A.FORWARD_TO_UNIT: (
        # The agency admin (or a routing rule naming a unit) disposes to a unit, and may move it
        # between units; a unit officer may hand it to a sibling unit of the same agency.
        _rule(
            {Role.AGENCY_ADMIN, Role.SYSTEM},
            {S.FORWARDED_TO_AGENCY, S.ESCALATED, S.FORWARDED_TO_UNIT, S.IN_FOLLOW_UP},
            S.FORWARDED_TO_UNIT,
        ),
        _rule({Role.UNIT_OFFICER}, {S.FORWARDED_TO_UNIT, S.IN_FOLLOW_UP}, S.FORWARDED_TO_UNIT),
    ),
    A.BOUNCE: (
        _rule({Role.AGENCY_ADMIN}, {S.FORWARDED_TO_AGENCY, S.FORWARDED_TO_UNIT}, S.BOUNCED),
    ),
    A.REROUTE: (
        _rule({Role.SYSTEM}, {S.BOUNCED}, S.FORWARDED_TO_AGENCY),
        # The national admin disposes of a bounced report, and of one that waits with an agency
        # (its own fallback queue included) before anyone there has followed it up.
        _rule(
            {Role.NATIONAL_ADMIN},
            {S.BOUNCED, S.FORWARDED_TO_AGENCY, S.FORWARDED_TO_UNIT, S.ESCALATED},
            S.FORWARDED_TO_AGENCY,
        ),
    ),
    A.FOLLOW_UP: (_rule(set(AGENCY_SIDE), HANDLING | {S.ESCALATED}, S.IN_FOLLOW_UP),),
    A.ANSWER: (_rule(set(AGENCY_SIDE), HANDLING | {S.ESCALATED}, S.ANSWERED),),
    A.REPLY: (_rule({Role.CITIZEN}, {S.ANSWERED, S.CLOSED}, S.REOPENED),),
    A.CLOSE: (
        _rule({Role.AGENCY_ADMIN}, {S.ANSWERED}, S.CLOSED),
        _rule({Role.NATIONAL_ADMIN}, OPEN_STATUSES, S.CLOSED),
    ),
    A.AUTO_CLOSE: (_rule({Role.SYSTEM}, {S.ANSWERED}, S.CLOSED),),
    A.ESCALATE: (_rule({Role.NATIONAL_ADMIN, Role.SYSTEM}, HANDLING | {S.BOUNCED}, S.ESCALATED),),
    A.MERGE: (_rule({Role.NATIONAL_ADMIN}, OPEN_STATUSES, S.MERGED),),
}

NEEDS_REASON = frozenset({A.DEFER, A.REJECT, A.BOUNCE, A.CLOSE, A.ESCALATE})
NEEDS_TEXT = frozenset({A.FOLLOW_UP, A.ANSWER, A.REPLY, A.COMPLETE})


@dataclass(frozen=True)
class ComplaintState:
    """What the lifecycle needs to know about a complaint."""

    status: S
    reporter_id: str | None
    report_type: ReportType
    agency_id: str | None = None
    unit_id: str | None = None
    agency_units: tuple[str, ...] = ()
    bounced_agencies: tuple[str, ...] = ()
    agency_name: str | None = None
    answered_at: datetime | None = None
    closed_by: Role | None = None
    needs_examination: bool | None = None


@dataclass(frozen=True)
class Command:
    """An action with what it carries."""

    action: A
    reason: str | None = None
    text: str | None = None
    agency_id: str | None = None
    unit_id: str | None = None
    rejection: RejectionReason | None = None
    report_type: ReportType | None = None
    needs_examination: bool | None = None
    merge_into: str | None = None
    # Forward and re-route: what the directory says of the agency named by ``agency_id``.
    agency_name: str | None = None
    agency_units: tuple[str, ...] = ()


@dataclass(frozen=True)
class Transition:
    """A recorded change: the history entry and the state after it."""

    action: A
    from_status: S
    to_status: S
    actor: Actor
    at: datetime
    reason: str | None
    text: str | None
    state: ComplaintState = field(repr=False)


class IllegalTransition(Exception):
    """The action is not allowed here; ``code`` is stable for clients, ``status`` is HTTP."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def may_take(role: Role, action: A) -> bool:
    """Whether the role may take the action at all, whatever the complaint."""
    return any(role in rule.roles for rule in RULES[action])


def role_refusal(role: Role, action: A) -> IllegalTransition:
    """The 403 for a role that may never take the action."""
    return IllegalTransition(
        "role_not_allowed",
        f"{role.described} may not {action.value.replace('_', ' ')}",
        status=403,
    )


def is_authorised(actor: Actor, state: ComplaintState) -> bool:
    """Whether the actor has authority over this complaint at all (before any action rule)."""
    match actor.role:
        case Role.NATIONAL_ADMIN | Role.SYSTEM | Role.AUDITOR:
            return True
        case Role.AGENCY_ADMIN:
            return actor.agency_id is not None and actor.agency_id == state.agency_id
        case Role.UNIT_OFFICER:
            return (
                actor.unit_id is not None
                and actor.unit_id == state.unit_id
                and actor.agency_id == state.agency_id
            )
        case Role.CITIZEN:
            return state.reporter_id is not None and actor.subject == state.reporter_id
    return False


def apply(
    state: ComplaintState,
    command: Command,
    actor: Actor,
    *,
    now: datetime,
    reply_window: timedelta,
) -> Transition:
    """Check and perform one action."""
    rules = RULES[command.action]
    if not may_take(actor.role, command.action):
        raise role_refusal(actor.role, command.action)
    if not is_authorised(actor, state):
        raise IllegalTransition(
            "not_your_complaint", "this complaint is not assigned to you", status=403
        )
    rule = next((r for r in rules if actor.role in r.roles and state.status in r.sources), None)
    if rule is None:
        raise IllegalTransition(
            "illegal_transition",
            f"cannot {command.action} a complaint that is {state.status}",
        )
    _check_fields(state, command, actor)
    new_state = _next_state(state, command, actor, rule.target, now=now, reply_window=reply_window)
    return Transition(
        action=command.action,
        from_status=state.status,
        to_status=rule.target,
        actor=actor,
        at=now,
        reason=_reason(command),
        text=command.text,
        state=new_state,
    )


def _reason(command: Command) -> str | None:
    if command.reason:
        return command.reason
    if command.rejection is not None:
        return command.rejection.value
    if command.merge_into is not None:
        return f"merged into {command.merge_into}"
    return None


def _require(condition: bool, field_name: str, message: str) -> None:
    if not condition:
        raise IllegalTransition(f"{field_name}_required", message, status=422)


def _check_fields(state: ComplaintState, command: Command, actor: Actor) -> None:
    action = command.action
    if action in NEEDS_REASON:
        _require(bool(command.reason), "reason", f"{action} needs a reason")
    if action in NEEDS_TEXT:
        _require(bool(command.text), "text", f"{action} needs a text")
    if action is A.REJECT:
        _require(command.rejection is not None, "rejection", "reject needs a rejection reason")
    if action in (A.FORWARD, A.REROUTE):
        _require(bool(command.agency_id), "agency_id", f"{action} needs the agency")
        report_type = command.report_type or state.report_type
        # A human verifier classes a pengaduan; automatic routing leaves it to the default class.
        verified_by_hand = actor.role is Role.NATIONAL_ADMIN
        if report_type is ReportType.PENGADUAN and action is A.FORWARD and verified_by_hand:
            _require(
                command.needs_examination is not None,
                "needs_examination",
                "verifying a pengaduan decides whether it needs examination",
            )
    moved_nowhere = command.agency_id == state.agency_id and state.status is not S.BOUNCED
    if action is A.REROUTE and moved_nowhere:
        raise IllegalTransition(
            "same_agency", f"the complaint is already with {command.agency_id}", status=422
        )
    if action is A.REROUTE and command.agency_id in (*state.bounced_agencies, state.agency_id):
        raise IllegalTransition(
            "agency_already_bounced",
            f"{command.agency_id} already said the complaint is not its authority",
            status=422,
        )
    if action is A.FORWARD_TO_UNIT:
        _require(bool(command.unit_id), "unit_id", "forward_to_unit needs the unit")
        if command.unit_id == state.unit_id:
            raise IllegalTransition(
                "same_unit", f"the complaint is already with {state.unit_id}", status=422
            )
        if state.agency_units and command.unit_id not in state.agency_units:
            raise IllegalTransition(
                "unknown_unit",
                f"{state.agency_id} has no unit {command.unit_id}; "
                f"its units: {', '.join(state.agency_units)}",
                status=422,
            )
    if action is A.MERGE:
        _require(bool(command.merge_into), "merge_into", "merge needs the complaint to merge into")


def _next_state(
    state: ComplaintState,
    command: Command,
    actor: Actor,
    target: S,
    *,
    now: datetime,
    reply_window: timedelta,
) -> ComplaintState:
    action = command.action
    if action is A.REPLY:
        if state.status is S.CLOSED and state.closed_by is Role.NATIONAL_ADMIN:
            raise IllegalTransition(
                "closed_by_admin", "a complaint closed by the admin cannot be re-opened"
            )
        if state.answered_at is None or now > state.answered_at + reply_window:
            raise IllegalTransition(
                "reply_window_closed",
                f"replies are accepted for {reply_window.days} days after the answer",
            )
    match action:
        case A.FORWARD | A.REROUTE:
            moved = replace(
                state,
                status=target,
                agency_id=command.agency_id,
                agency_name=command.agency_name,
                unit_id=None,
                agency_units=command.agency_units,
            )
            if action is A.REROUTE:
                return moved
            # Verification (the first forward) settles the type and the examination class.
            return replace(
                moved,
                report_type=command.report_type or state.report_type,
                needs_examination=command.needs_examination,
            )
        case A.BOUNCE:
            bounced = state.bounced_agencies
            if state.agency_id is not None:
                bounced = (*bounced, state.agency_id)
            return replace(state, status=target, bounced_agencies=bounced, unit_id=None)
        case A.FORWARD_TO_UNIT:
            return replace(state, status=target, unit_id=command.unit_id)
        case A.ANSWER:
            return replace(state, status=target, answered_at=now)
        case A.CLOSE | A.AUTO_CLOSE:
            return replace(state, status=target, closed_by=actor.role)
        case A.REPLY:
            return replace(state, status=target, closed_by=None)
    return replace(state, status=target)


def retention_cutoff(now: datetime, retention: timedelta) -> datetime:
    """Reports that ended (``ENDED_STATUSES``) before this moment, and were not re-opened since,
    keep their reporter's contact details no longer (UU 27/2022 Pasal 43-44: kept no longer
    than the purpose needs). Ending, not filing, starts the count: an open report still needs
    to reach its reporter, however old."""
    return now - retention
