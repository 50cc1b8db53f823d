"""Standard violations: longer than promised, or dearer."""

import pytest

from schemas.complaint import ServiceExperience
from services.sla.standard_check import violations

KTP = {"completion_time_days": 1, "fee_idr": 0}


@pytest.mark.parametrize(
    ("experience", "expected"),
    [
        (None, []),
        (ServiceExperience(waited_days=1, paid_idr=0), []),
        (ServiceExperience(waited_days=90), ["completion_time"]),
        (ServiceExperience(paid_idr=50_000), ["fee"]),
        (ServiceExperience(waited_days=30, paid_idr=100_000), ["completion_time", "fee"]),
    ],
)
def test_experience_against_the_promise(
    experience: ServiceExperience | None, expected: list[str]
) -> None:
    assert violations(KTP, experience) == expected


def test_a_standard_that_promises_nothing_cannot_be_broken() -> None:
    assert violations({}, ServiceExperience(waited_days=500, paid_idr=5)) == []
