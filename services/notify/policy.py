"""Delivery policy: which messages are urgent, mandatory or digestible, when a message may be
sent (quiet hours), and how long to wait before the next attempt. No I/O."""

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


@dataclass(frozen=True)
class Kind:
    """How a template's messages are treated.

    ``mandatory``: the law (or the complainant's own safety of knowing) requires it; no opt-out.
    ``urgent``: sent at once, through quiet hours and rate limits.
    ``digestible``: several for one recipient within the digest window go out as one digest.
    """

    mandatory: bool = False
    urgent: bool = False
    digestible: bool = False


KINDS: dict[str, Kind] = {
    "complaint_submitted": Kind(mandatory=True, urgent=True),
    "complaint_deferred": Kind(mandatory=True, urgent=True),
    "complaint_rejected": Kind(mandatory=True),
    "complaint_forwarded": Kind(),
    "complaint_follow_up": Kind(),
    "complaint_answered": Kind(mandatory=True),
    "complaint_reply_window_closing": Kind(),
    "complaint_closed": Kind(mandatory=True),
    "complaint_reopened": Kind(),
    "complaint_merged": Kind(mandatory=True),
    "supporter_update": Kind(),
    "agency_new_assignment": Kind(mandatory=True),
    "agency_reopened": Kind(mandatory=True),
    "unit_new_assignment": Kind(mandatory=True),
    "officer_deadline_warning": Kind(mandatory=True, digestible=True),
    "officer_deadline_breached": Kind(mandatory=True, digestible=True),
    "supervisor_escalation": Kind(mandatory=True, digestible=True),
    "agency_deadline_set": Kind(digestible=True),
}


class QuietHours(BaseModel):
    """A daily span (local time) in which non-urgent messages wait; may cross midnight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time = Field(examples=["21:00"], description="Local time, no offset.")
    end: time = Field(examples=["07:00"], description="Local time, no offset.")
    time_zone: str = Field(
        default="Asia/Jakarta",
        pattern=r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$",
        max_length=64,
        examples=["Asia/Jayapura"],
    )

    @field_validator("start", "end")
    @classmethod
    def _local(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("give a local time without an offset (the zone is time_zone)")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value} is not a known time zone") from exc
        return value

    @model_validator(mode="after")
    def _valid(self) -> "QuietHours":
        if self.start == self.end:
            raise ValueError("quiet hours need a start and an end that differ")
        return self

    def release(self, moment: datetime) -> datetime:
        """``moment`` itself when outside the quiet hours, else when they end."""
        zone = ZoneInfo(self.time_zone)
        local = moment.astimezone(zone)
        now = local.time()
        crosses_midnight = self.start > self.end
        inside = (
            (now >= self.start or now < self.end)
            if crosses_midnight
            else (self.start <= now < self.end)
        )
        if not inside:
            return moment
        end_day = local.date()
        if crosses_midnight and now >= self.start:
            end_day += timedelta(days=1)
        return datetime.combine(end_day, self.end, tzinfo=zone).astimezone(moment.tzinfo)


def backoff(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> timedelta:
    """Wait before attempt ``attempt + 1``: exponential from ``base`` seconds, capped at ``cap``,
    with "equal jitter" (half fixed, half random) so that many failed messages do not all come
    back at the same instant, yet none comes back at once."""
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    draw = (rng or random).random()
    return timedelta(seconds=ceiling / 2 + draw * ceiling / 2)


def first_send_at(
    now: datetime, kind: Kind, quiet: QuietHours | None, *, digest_window: timedelta
) -> datetime:
    """When a freshly planned message is first due."""
    due = now + digest_window if kind.digestible and not kind.urgent else now
    if quiet is not None and not kind.urgent:
        due = quiet.release(due)
    return due
