"""Settings of the SLA service: the legal time limits are data, set per deployment."""

from datetime import date, time

from pydantic import Field

from kernel.settings import ServiceSettings
from services.sla.limits import Limits
from services.sla.timers import Policy


class SlaSettings(ServiceSettings):
    """SLA: deadlines in working days in the agency's time zone."""

    service_name: str = Field(default="sla", description="Name in logs, metrics and events.")
    http_port: int = Field(default=8003, ge=0, le=65535, description="Port of the HTTP server.")
    sla_first_follow_up_working_days: int = Field(
        default=5,
        ge=0,
        le=365,
        description="Working days an agency has for its first follow-up after forwarding "
        "(Permen PANRB 62/2018: 5).",
    )
    sla_verification_working_days: int = Field(
        default=3, ge=1, le=365, description="Working days to verify and forward a new report."
    )
    sla_auto_close_working_days: int = Field(
        default=10,
        ge=1,
        le=365,
        description="Working days after an answer with no reply before the complaint closes.",
    )
    sla_ceiling_days: int = Field(
        default=60,
        ge=1,
        le=365,
        description="Calendar days from a complete file to completion (Perpres 76/2013: 60).",
    )
    sla_warning_working_days: int = Field(
        default=1,
        ge=0,
        le=30,
        description="Warn this many working days before a deadline (0: off).",
    )
    sla_escalation_chain: list[str] = Field(
        default_factory=lambda: ["agency_admin", "national_admin"],
        description='Who a breach climbs to, in order, JSON list; add "ombudsman" for the '
        "external step.",
    )
    sla_escalation_working_days: int = Field(
        default=2, ge=1, le=60, description="Working days between escalation steps."
    )
    sla_sweep_enabled: bool = Field(
        default=True,
        description="Run the timer sweep in this process (one replica holds it at a time).",
    )
    sla_sweep_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often the timer sweep looks for due clocks."
    )
    sla_compliance_refresh_seconds: float = Field(
        default=300, gt=0, description="How often compliance gauges are recomputed."
    )
    sla_completion_days_aspirasi: int = Field(
        default=5, ge=1, le=365, description="Working days to complete an aspirasi."
    )
    sla_completion_days_information: int = Field(
        default=5, ge=1, le=365, description="Working days to complete an information request."
    )
    sla_completion_days_complaint: int = Field(
        default=14,
        ge=1,
        le=365,
        description="Working days to complete a pengaduan that needs no examination.",
    )
    sla_completion_days_examination: int = Field(
        default=60,
        ge=1,
        le=365,
        description="Working days to complete a pengaduan that needs examination.",
    )
    sla_workday_end: time = Field(
        default=time(23, 59, 59),
        description="Local time at which a deadline's last working day ends (HH:MM:SS).",
    )
    sla_collective_leave: bool = Field(
        default=True,
        description="Treat the government's collective leave days (cuti bersama) as holidays.",
    )
    sla_extra_holidays: list[date] = Field(
        default_factory=list,
        description='Further non-working days, JSON list of dates, e.g. ["2026-12-31"].',
    )
    sla_extra_working_days: list[date] = Field(
        default_factory=list,
        description="Days worked although they would be weekends or holidays, JSON list.",
    )

    def policy(self) -> Policy:
        """The timer policy as the domain reads it."""
        return Policy(
            warn_working_days=self.sla_warning_working_days,
            escalation_chain=tuple(self.sla_escalation_chain),
            escalation_working_days=self.sla_escalation_working_days,
            day_end=self.sla_workday_end,
        )

    def limits(self) -> Limits:
        """The configured limits as the domain reads them."""
        return Limits(
            verification=self.sla_verification_working_days,
            first_follow_up=self.sla_first_follow_up_working_days,
            auto_close=self.sla_auto_close_working_days,
            ceiling_days=self.sla_ceiling_days,
            aspirasi=self.sla_completion_days_aspirasi,
            information=self.sla_completion_days_information,
            complaint=self.sla_completion_days_complaint,
            examination=self.sla_completion_days_examination,
        )
