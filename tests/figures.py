"""Figures the reliability tests measure (cases tried, accepted, lost, doubled), collected during
the run and printed as one table at its end by ``pytest_terminal_summary`` in conftest."""

from dataclasses import dataclass, field


@dataclass
class Figures:
    """Rows of (suite, scenario, counts) in the order the tests recorded them."""

    rows: list[tuple[str, str, dict[str, int | float | str]]] = field(default_factory=list)

    def record(self, suite: str, scenario: str, **counts: int | float | str) -> None:
        """One scenario's counts; printed at the end of the run."""
        self.rows.append((suite, scenario, counts))

    def lines(self) -> list[str]:
        """The table, one line a scenario, with the totals an operator looks for first."""
        if not self.rows:
            return []
        out = [f"{'suite':<14} {'scenario':<34} figures"]
        for suite, scenario, counts in self.rows:
            shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
            out.append(f"{suite:<14} {scenario:<34} {shown}")
        lost = sum(int(c.get("lost", 0)) for _, _, c in self.rows)
        doubled = sum(int(c.get("duplicated", 0)) for _, _, c in self.rows)
        cases = sum(int(c.get("cases", 0)) for _, _, c in self.rows)
        total = f"{len(self.rows)} scenarios, {cases} generated cases"
        out.append(f"{total}, lost {lost}, duplicated {doubled}")
        return out


FIGURES = Figures()
