"""Routing rules: which agency (and unit) has authority over a complaint, and why. No I/O.

A rule matches a complaint when, at the moment of the decision, it is in force (between its
optional effective dates) and: its category is the complaint's category or an ancestor of it
(``kesehatan`` matches ``kesehatan.puskesmas``; ``*`` matches all); its region prefix is the
complaint's region or contains it (``81`` contains ``81.71.01``; ``*`` is the whole country);
its report type, if it names one, is the complaint's; its SIPP service standard, if it names
one, is the one the complaint concerns. Among matches the highest priority wins, then a rule
naming the service, then the most specific region, then the most specific category, then one
naming the report type, then the rule ID (so the choice never depends on storage order). No
match sends the complaint to the national admin queue.
"""

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.complaint import STANDARD_ID_PATTERN, ReportType
from schemas.events import AgencyPublished, AgencyUnit, AgencyWithdrawn
from schemas.regions import REGION_CODE_PATTERN, is_known, time_zone_of

ANY = "*"
FALLBACK_RULE_ID = "fallback"
ID_PATTERN = r"^[a-z0-9-]{2,80}$"

RoutingMode = Literal["automatic", "manual"]
Confidence = Literal["high", "medium", "low"]


class Unit(BaseModel):
    """A unit of an agency (a service point, a department) that handles complaints."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=2, max_length=200)


class AgencyBody(BaseModel):
    """What an agency is, without its ID (the body of ``PUT /v1/agencies/{agency_id}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=2, max_length=200)
    region_code: str = Field(pattern=REGION_CODE_PATTERN, description="Seat of the agency.")
    routing_mode: RoutingMode = Field(
        default="automatic",
        description="'manual': a decision for this agency is only proposed, and the national "
        "admin confirms it by hand.",
    )
    units: tuple[Unit, ...] = Field(default=(), max_length=500)

    @field_validator("region_code")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if not is_known(value):
            raise ValueError(f"{value} is not a known region")
        return value

    @model_validator(mode="after")
    def _units_unique(self) -> "AgencyBody":
        ids = [unit.unit_id for unit in self.units]
        if len(ids) != len(set(ids)):
            raise ValueError("a unit is listed twice")
        return self


class Agency(AgencyBody):
    """A public-service provider that receives complaints."""

    agency_id: str = Field(pattern=ID_PATTERN)

    @property
    def time_zone(self) -> str:
        """Where its working days end."""
        zone = time_zone_of(self.region_code)
        if zone is None:
            raise ValueError(f"agency {self.agency_id} lies in no known province")
        return zone

    @property
    def unit_ids(self) -> tuple[str, ...]:
        """Its units, by ID."""
        return tuple(unit.unit_id for unit in self.units)


@dataclass(frozen=True)
class Subject:
    """What routing looks at in a complaint, and when it decides."""

    category: str
    region_code: str
    report_type: ReportType
    at: datetime
    service_standard_id: str | None = None

    def describe(self) -> str:
        """The subject in an admin's words."""
        service = f", service {self.service_standard_id}" if self.service_standard_id else ""
        return (
            f"category {self.category!r} in region {self.region_code} "
            f"({self.report_type.value}{service})"
        )


class RuleBody(BaseModel):
    """What a rule says, without its ID (the body of ``PUT /v1/rules/{rule_id}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: str = Field(
        pattern=r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*)$", max_length=100, examples=["kesehatan"]
    )
    region_prefix: str = Field(
        pattern=r"^\*$|" + REGION_CODE_PATTERN[1:],
        examples=["81.71"],
        description="Kemendagri code at any level, or '*' for the whole country.",
    )
    report_type: ReportType | None = Field(default=None, description="Only this type, if set.")
    service_standard_id: str | None = Field(
        default=None,
        pattern=STANDARD_ID_PATTERN,
        description="Only complaints about this SIPP service standard, if set.",
    )
    agency_id: str = Field(pattern=ID_PATTERN)
    unit_id: str | None = Field(
        default=None, pattern=ID_PATTERN, description="Straight to this unit of the agency."
    )
    priority: int = Field(default=0, ge=-1000, le=1000)
    effective_from: AwareDatetime | None = Field(default=None, description="In force from.")
    effective_until: AwareDatetime | None = Field(
        default=None, description="In force until (exclusive)."
    )

    @field_validator("region_prefix")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value != ANY and not is_known(value):
            raise ValueError(f"{value} is not a known region")
        return value

    @model_validator(mode="after")
    def _period(self) -> "RuleBody":
        if (
            self.effective_from is not None
            and self.effective_until is not None
            and self.effective_until <= self.effective_from
        ):
            raise ValueError("effective_until must be after effective_from")
        return self


class Rule(RuleBody):
    """category x region x report type x service -> agency (and unit), with a priority."""

    rule_id: str = Field(pattern=ID_PATTERN)

    def in_force(self, at: datetime) -> bool:
        """True between the effective dates."""
        if self.effective_from is not None and at < self.effective_from:
            return False
        return self.effective_until is None or at < self.effective_until

    def matches(self, subject: Subject) -> bool:
        """True when this rule covers the complaint now."""
        return (
            self.in_force(subject.at)
            and _covers(self.category, subject.category)
            and _covers(self.region_prefix, subject.region_code)
            and self.report_type in (None, subject.report_type)
            and self.service_standard_id in (None, subject.service_standard_id)
        )

    def rank(self) -> tuple[int, int, int, int, int]:
        """Higher wins: priority, service, region depth, category depth, report type."""
        return (
            self.priority,
            self.service_standard_id is not None,
            _depth(self.region_prefix),
            _depth(self.category),
            self.report_type is not None,
        )

    def describe(self) -> str:
        """The rule in an admin's words."""
        parts = [f"category {self.category!r}", f"region {self.region_prefix}"]
        if self.report_type is not None:
            parts.append(f"type {self.report_type.value}")
        if self.service_standard_id is not None:
            parts.append(f"service {self.service_standard_id}")
        parts.append(f"priority {self.priority}")
        return f"rule {self.rule_id} ({', '.join(parts)})"


class Directory(BaseModel):
    """Agencies and the rules that route to them, as one numbered version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(default=1, ge=1)
    agencies: tuple[Agency, ...] = Field(max_length=10_000)
    rules: tuple[Rule, ...] = Field(max_length=100_000)
    fallback_agency_id: str

    @model_validator(mode="after")
    def _consistent(self) -> "Directory":
        agencies = {agency.agency_id: agency for agency in self.agencies}
        if len(agencies) != len(self.agencies):
            raise ValueError("an agency is listed twice")
        if len({rule.rule_id for rule in self.rules}) != len(self.rules):
            raise ValueError("a rule ID is used twice")
        unknown = sorted({rule.agency_id for rule in self.rules} - agencies.keys())
        if unknown:
            raise ValueError(f"rules name unknown agencies: {', '.join(unknown)}")
        for rule in self.rules:
            if rule.unit_id is not None and rule.unit_id not in agencies[rule.agency_id].unit_ids:
                raise ValueError(
                    f"rule {rule.rule_id} names unit {rule.unit_id}, "
                    f"which {rule.agency_id} does not have"
                )
        if self.fallback_agency_id not in agencies:
            raise ValueError(f"fallback agency {self.fallback_agency_id} is not in the directory")
        return self

    def agency(self, agency_id: str) -> Agency:
        """An agency by ID."""
        return next(agency for agency in self.agencies if agency.agency_id == agency_id)

    def find_agency(self, agency_id: str) -> Agency | None:
        """An agency by ID, or None."""
        return next((a for a in self.agencies if a.agency_id == agency_id), None)

    def find_rule(self, rule_id: str) -> Rule | None:
        """A rule by ID, or None."""
        return next((rule for rule in self.rules if rule.rule_id == rule_id), None)


@dataclass(frozen=True)
class Decision:
    """Where a complaint goes and the explanation an admin can check."""

    agency: Agency
    rule_id: str
    reason: str
    alternatives: tuple[str, ...]
    confidence: Confidence
    directory_version: int
    unit_id: str | None = None

    @property
    def proposal(self) -> bool:
        """Only proposed: the agency wants the national admin to confirm by hand."""
        return self.agency.routing_mode == "manual"


def honour_choice(directory: Directory, chosen_agency_id: str, subject: Subject) -> Decision | None:
    """The reporter's chosen agency, when one of its rules covers this complaint; None when
    none does (the normal decision stands and the admin is told)."""
    covering = _ranked(rule for rule in directory.rules if rule.agency_id == chosen_agency_id)
    covering = [rule for rule in covering if rule.matches(subject)]
    if not covering:
        return None
    rule = covering[0]
    return Decision(
        agency=directory.agency(chosen_agency_id),
        unit_id=rule.unit_id,
        rule_id=rule.rule_id,
        reason=f"chosen by the reporter; {chosen_agency_id} accepts {subject.describe()} "
        f"({rule.describe()})",
        alternatives=(),
        confidence="high",
        directory_version=directory.version,
    )


def agency_published(directory: Directory, agency: Agency, at: datetime) -> AgencyPublished:
    """How the other services learn an agency: its name, seat, zone and units."""
    return AgencyPublished(
        agency_id=agency.agency_id,
        name=agency.name,
        region_code=agency.region_code,
        time_zone=agency.time_zone,
        units=[AgencyUnit(unit_id=unit.unit_id, name=unit.name) for unit in agency.units],
        national_desk=agency.agency_id == directory.fallback_agency_id,
        directory_version=directory.version,
        published_at=at,
    )


def agency_changes(
    before: Directory | None, after: Directory, at: datetime
) -> list[AgencyPublished | AgencyWithdrawn]:
    """What an edit (or, with no ``before``, the directory as a whole) tells other services:
    each agency added or changed, each one removed."""
    earlier = {a.agency_id: a for a in before.agencies} if before is not None else {}
    old_desk = before.fallback_agency_id if before is not None else None
    changes: list[AgencyPublished | AgencyWithdrawn] = []
    for agency in after.agencies:
        desk_moved = agency.agency_id in (old_desk, after.fallback_agency_id) and (
            old_desk != after.fallback_agency_id
        )
        if earlier.get(agency.agency_id) != agency or desk_moved:
            changes.append(agency_published(after, agency, at))
    kept = {a.agency_id for a in after.agencies}
    changes += [
        AgencyWithdrawn(agency_id=agency_id, directory_version=after.version, withdrawn_at=at)
        for agency_id in sorted(earlier.keys() - kept)
    ]
    return changes


class NoAgencyLeft(LookupError):
    """Every agency that could handle it (and the national queue) said it is not theirs."""


def _covers(pattern: str, value: str) -> bool:
    return pattern == ANY or value == pattern or value.startswith(pattern + ".")


def _depth(pattern: str) -> int:
    return 0 if pattern == ANY else pattern.count(".") + 1


def _ranked(rules: Iterable[Rule]) -> list[Rule]:
    # Two stable sorts: by rank, and among equal ranks the lower rule ID first.
    by_id = sorted(rules, key=lambda rule: rule.rule_id)
    return sorted(by_id, key=Rule.rank, reverse=True)


def _confidence(best: Rule, others: list[Rule]) -> Confidence:
    """High when the winner outranks every alternative on priority; medium when it won on
    specificity only; low when only its ID separated it from the next (an ambiguous table)."""
    if not others:
        return "high"
    if others[0].rank() == best.rank():
        return "low"
    return "medium" if others[0].priority == best.priority else "high"


SIPP_OWNER_PRIORITY = 50


def owner_rule(
    directory: Directory, standard_id: str, agency_id: str, unit_id: str | None
) -> Rule | None:
    """The implicit rule "a complaint about a published service standard goes to the agency
    (and unit) that publishes it", when routing knows that agency. An explicit rule of a higher
    priority still wins."""
    agency = directory.find_agency(agency_id)
    if agency is None:
        return None
    digest = hashlib.sha1(standard_id.encode(), usedforsecurity=False).hexdigest()[:16]
    return Rule(
        rule_id=f"sipp-{digest}",
        category=ANY,
        region_prefix=ANY,
        service_standard_id=standard_id,
        agency_id=agency_id,
        unit_id=unit_id if unit_id in agency.unit_ids else None,
        priority=SIPP_OWNER_PRIORITY,
    )


def decide(
    directory: Directory,
    subject: Subject,
    *,
    exclude: frozenset[str] = frozenset(),
    extra: Sequence[Rule] = (),
) -> Decision:
    """The agency with authority over a complaint.

    ``extra`` are rules beyond the table (the SIPP owner rule). ``exclude`` names agencies
    that already said it is not their authority (Bukan Wewenang):
    the next candidate is chosen, then the national admin queue; ``NoAgencyLeft`` when even
    that queue is excluded, a loop an admin has to resolve.
    """
    matches = _ranked(
        rule
        for rule in (*directory.rules, *extra)
        if rule.agency_id not in exclude and rule.matches(subject)
    )
    if not matches:
        if directory.fallback_agency_id in exclude:
            raise NoAgencyLeft(f"every candidate for {subject.describe()} bounced it")
        return Decision(
            agency=directory.agency(directory.fallback_agency_id),
            rule_id=FALLBACK_RULE_ID,
            reason=f"no rule covers {subject.describe()}: sent to the national admin queue",
            alternatives=(),
            confidence="low",
            directory_version=directory.version,
        )
    best, others = matches[0], matches[1:]
    excluded = f"; excluded after Bukan Wewenang: {', '.join(sorted(exclude))}" if exclude else ""
    unit = f", unit {best.unit_id}" if best.unit_id else ""
    return Decision(
        agency=directory.agency(best.agency_id),
        unit_id=best.unit_id,
        rule_id=best.rule_id,
        reason=f"{best.describe()} matched {subject.describe()}{unit}{excluded}",
        alternatives=tuple(rule.rule_id for rule in others),
        confidence=_confidence(best, others),
        directory_version=directory.version,
    )


# Edits an admin makes through the API. Each returns the next version, validated as a whole
# (a rule naming an unknown agency, or an agency removed while rules name it, fails here).


def put_rule(directory: Directory, rule: Rule) -> Directory:
    """Add the rule, or replace the one with its ID."""
    rules = [r for r in directory.rules if r.rule_id != rule.rule_id] + [rule]
    return _next(directory, rules=tuple(rules))


def remove_rule(directory: Directory, rule_id: str) -> Directory:
    """Drop a rule."""
    return _next(directory, rules=tuple(r for r in directory.rules if r.rule_id != rule_id))


def put_agency(directory: Directory, agency: Agency) -> Directory:
    """Add the agency, or replace the one with its ID."""
    others = [a for a in directory.agencies if a.agency_id != agency.agency_id]
    return _next(directory, agencies=(*others, agency))


def _next(directory: Directory, **changes: object) -> Directory:
    data = directory.model_dump() | changes | {"version": directory.version + 1}
    return Directory.model_validate(data)
