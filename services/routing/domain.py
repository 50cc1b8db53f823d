"""Routing rules: which agency has authority over a complaint, and why. No I/O.

A rule matches a complaint when its category is the complaint's category or an ancestor of it
(``kesehatan`` matches ``kesehatan.puskesmas``; ``*`` matches all) and its region prefix is the
complaint's region or contains it (``81`` contains ``81.71.01``; ``*`` is the whole country).
Among matches the highest priority wins, then the most specific region, then the most specific
category, then the rule ID (so the choice never depends on storage order). No match sends the
complaint to the national admin queue.
"""

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.regions import REGION_CODE_PATTERN, time_zone_of

ANY = "*"
FALLBACK_RULE_ID = "fallback"


class Agency(BaseModel):
    """A public-service provider that receives complaints."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agency_id: str = Field(pattern=r"^[a-z0-9-]{2,80}$")
    name: str = Field(min_length=2, max_length=200)
    region_code: str = Field(pattern=REGION_CODE_PATTERN, description="Seat of the agency.")

    @property
    def time_zone(self) -> str:
        """Where its working days end."""
        zone = time_zone_of(self.region_code)
        if zone is None:
            raise ValueError(f"agency {self.agency_id} lies in no known province")
        return zone


class Rule(BaseModel):
    """category x region -> agency, with a priority."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule_id: str = Field(pattern=r"^[a-z0-9-]{2,80}$")
    category: str = Field(pattern=r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*)$")
    region_prefix: str = Field(pattern=r"^\*$|" + REGION_CODE_PATTERN[1:])
    agency_id: str
    priority: int = 0

    def matches(self, category: str, region_code: str) -> bool:
        """True when this rule covers the complaint's category and region."""
        return _covers(self.category, category) and _covers(self.region_prefix, region_code)

    def rank(self) -> tuple[int, int, int]:
        """Higher wins: priority, then region depth, then category depth."""
        return (self.priority, _depth(self.region_prefix), _depth(self.category))


class Directory(BaseModel):
    """Agencies and the rules that route to them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agencies: list[Agency]
    rules: list[Rule]
    fallback_agency_id: str

    @model_validator(mode="after")
    def _rules_name_known_agencies(self) -> "Directory":
        known = {agency.agency_id for agency in self.agencies}
        unknown = sorted({rule.agency_id for rule in self.rules} - known)
        if unknown:
            raise ValueError(f"rules name unknown agencies: {', '.join(unknown)}")
        if self.fallback_agency_id not in known:
            raise ValueError(f"fallback agency {self.fallback_agency_id} is not in the directory")
        return self

    def agency(self, agency_id: str) -> Agency:
        """An agency by ID."""
        return next(agency for agency in self.agencies if agency.agency_id == agency_id)


@dataclass(frozen=True)
class Decision:
    """Where a complaint goes and the explanation an admin can check."""

    agency: Agency
    rule_id: str
    reason: str
    alternatives: tuple[str, ...]


def honour_choice(
    directory: Directory, chosen_agency_id: str, *, category: str, region_code: str
) -> Decision | None:
    """The reporter's chosen agency, when one of its rules covers this category and region;
    None when it does not (the normal decision stands and the admin is told)."""
    covering = sorted(
        (
            rule
            for rule in directory.rules
            if rule.agency_id == chosen_agency_id and rule.matches(category, region_code)
        ),
        key=lambda rule: (rule.rank(), rule.rule_id),
        reverse=True,
    )
    if not covering:
        return None
    rule = covering[0]
    return Decision(
        agency=directory.agency(chosen_agency_id),
        rule_id=rule.rule_id,
        reason=f"chosen by the reporter; {chosen_agency_id} accepts category {category!r} in "
        f"region {region_code} (rule {rule.rule_id})",
        alternatives=(),
    )


class NoAgencyLeft(LookupError):
    """Every agency that could handle it (and the national queue) said it is not theirs."""


def _covers(pattern: str, value: str) -> bool:
    return pattern == ANY or value == pattern or value.startswith(pattern + ".")


def _depth(pattern: str) -> int:
    return 0 if pattern == ANY else pattern.count(".") + 1


def decide(
    directory: Directory,
    *,
    category: str,
    region_code: str,
    exclude: frozenset[str] = frozenset(),
) -> Decision:
    """The agency with authority over a complaint of this category in this region.

    ``exclude`` names agencies that already said it is not their authority (Bukan Wewenang):
    the next candidate is chosen, then the national admin queue; ``NoAgencyLeft`` when even
    that queue is excluded, a loop an admin has to resolve.
    """
    by_id = sorted(
        (
            rule
            for rule in directory.rules
            if rule.matches(category, region_code) and rule.agency_id not in exclude
        ),
        key=lambda rule: rule.rule_id,
    )
    # Stable sort: among equal ranks the lower rule ID stays first.
    matches = sorted(by_id, key=Rule.rank, reverse=True)
    if not matches:
        if directory.fallback_agency_id in exclude:
            raise NoAgencyLeft(f"every candidate for {category!r} in {region_code} bounced it")
        return Decision(
            agency=directory.agency(directory.fallback_agency_id),
            rule_id=FALLBACK_RULE_ID,
            reason=f"no rule covers category {category!r} in region {region_code}: "
            "sent to the national admin queue",
            alternatives=(),
        )
    best = matches[0]
    excluded = f"; excluded after Bukan Wewenang: {', '.join(sorted(exclude))}" if exclude else ""
    return Decision(
        agency=directory.agency(best.agency_id),
        rule_id=best.rule_id,
        reason=f"rule {best.rule_id} (category {best.category!r}, region {best.region_prefix}, "
        f"priority {best.priority}) matched category {category!r} in region {region_code}"
        + excluded,
        alternatives=tuple(rule.rule_id for rule in matches[1:]),
    )
