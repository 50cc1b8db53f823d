"""Every environment variable a service reads is documented in the README, and vice versa."""

import re
from pathlib import Path

from kernel.settings import ServiceSettings
from services.intake.config import IntakeSettings
from services.notify.config import NotifySettings
from services.portal.config import PortalSettings
from services.routing.config import RoutingSettings
from services.sla.config import SlaSettings
from services.standards.config import StandardsSettings

README = Path(__file__).resolve().parents[2] / "README.md"
SETTINGS: list[type[ServiceSettings]] = [
    IntakeSettings,
    RoutingSettings,
    SlaSettings,
    NotifySettings,
    StandardsSettings,
    PortalSettings,
]


def documented() -> set[str]:
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", README.read_text(), flags=re.M))


def test_every_setting_is_documented_in_the_readme() -> None:
    read = {name.upper() for cls in SETTINGS for name in cls.model_fields}
    assert read - documented() == set()


def test_the_readme_documents_no_setting_that_does_not_exist() -> None:
    read = {name.upper() for cls in SETTINGS for name in cls.model_fields}
    assert documented() - read - {"LAPOR_DATA_DIR"} == set()


def test_every_setting_has_a_description() -> None:
    for cls in SETTINGS:
        for name, field in cls.model_fields.items():
            assert field.description, f"{cls.__name__}.{name}"
