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
ENDED = frozenset({ComplaintStatus.CLOSED, ComplaintStatus.REJECTED, ComplaintStatus.MERGED})


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
