"""Does a complaint's reported experience break the promises of the standard it names? No I/O.

A service standard promises a completion time (in days) and a fee (0 when free). A complaint
that names the standard and reports waiting longer, or paying more, is a standard violation:
how agencies learn which standards are not kept.
"""

from collections.abc import Mapping
from typing import Any, Literal

from schemas.complaint import ServiceExperience

Violation = Literal["completion_time", "fee"]


def violations(
    standard: Mapping[str, Any], experience: ServiceExperience | None
) -> list[Violation]:
    """The promises the experience breaks (none without an experience)."""
    if experience is None:
        return []
    found: list[Violation] = []
    promised_days = standard.get("completion_time_days")
    if (
        promised_days is not None
        and experience.waited_days is not None
        and experience.waited_days > promised_days
    ):
        found.append("completion_time")
    promised_fee = standard.get("fee_idr")
    if (
        promised_fee is not None
        and experience.paid_idr is not None
        and experience.paid_idr > promised_fee
    ):
        found.append("fee")
    return found
