"""Which clocks a forwarded complaint gets, and how many working days each. No I/O.

The limits are data (Permen PANRB 62/2018, replaced by 5/2025): first follow-up within 5
working days of forwarding; completion within 5 (aspirasi, information request), 14
(pengaduan needing no examination) or 60 (pengaduan needing examination). A pengaduan not yet
classed (forwarded automatically) runs on the no-examination limit until a verifier classes it.
Over all of it runs the ceiling of Perpres 76/2013: 60 calendar days from a complete file.
"""

from dataclasses import dataclass

from schemas.complaint import ComplaintStatus, LifecycleAction, ReportType
from schemas.events import SlaStage

STARTS_CLOCKS = frozenset({LifecycleAction.FORWARD, LifecycleAction.REROUTE})
MEETS_FIRST_FOLLOW_UP = frozenset({LifecycleAction.FOLLOW_UP, LifecycleAction.ANSWER})
# The agency's answer completes its work: the completion clock is met there, not at closing
# (closing waits on the complainant's reply window, which is not the agency's time).
MEETS_COMPLETION = frozenset({LifecycleAction.ANSWER})
# A reply from the complainant re-opens the report: the completion clock runs again.
RESUMES_COMPLETION = frozenset({LifecycleAction.REPLY})
ENDED = frozenset({ComplaintStatus.CLOSED, ComplaintStatus.REJECTED, ComplaintStatus.MERGED})


def ended_state(status: ComplaintStatus) -> str:
    """How a complaint's running clocks end when it leaves the lifecycle.

    A merged report was not resolved by anyone: its clocks end as "merged" and stay out of the
    agency's figures (the report it merged into carries the resolution). Closing and rejecting
    stop them.
    """
    return "merged" if status is ComplaintStatus.MERGED else "stopped"


@dataclass(frozen=True)
class Limits:
    """Working days per clock."""

    verification: int
    first_follow_up: int
    auto_close: int
    ceiling_days: int
    aspirasi: int
    information: int
    complaint: int
    examination: int


def completion_days(limits: Limits, report_type: ReportType, needs_examination: bool | None) -> int:
    """Working days to complete a report of this type and class."""
    match report_type:
        case ReportType.ASPIRASI:
            return limits.aspirasi
        case ReportType.PERMINTAAN_INFORMASI:
            return limits.information
    return limits.examination if needs_examination else limits.complaint


def clocks_on_forward(
    limits: Limits, report_type: ReportType, needs_examination: bool | None
) -> list[tuple[SlaStage, int]]:
    """The clocks a complaint gets when it reaches an agency (again, after a re-route)."""
    return [
        (SlaStage.FIRST_FOLLOW_UP, limits.first_follow_up),
        (SlaStage.COMPLETION, completion_days(limits, report_type, needs_examination)),
    ]
