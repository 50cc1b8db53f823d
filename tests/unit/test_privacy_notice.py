"""The notice a reporter is given before filing: both languages say the same things, with this
deployment's retention, and every right it names is an endpoint intake serves."""

import re

from services.intake.app import create_app
from services.intake.config import IntakeSettings
from services.intake.privacy_notice import PATH, privacy_notice
from services.notify.app import create_app as notify_app
from services.notify.config import NotifySettings


def test_the_notice_states_purpose_data_retention_and_rights_in_both_languages() -> None:
    notice = privacy_notice(365)
    for text in (notice.id, notice.en):
        assert "365 " in text.retention
        assert "27" in text.rights and "2022" in text.rights
        assert all(len(part) > 40 for part in text.model_dump().values())
    endpoints = re.compile(r"(GET|POST) (/v1/[\w/{}-]+)")
    assert endpoints.findall(notice.id.rights) == endpoints.findall(notice.en.rights)


def test_every_right_the_notice_names_is_served_and_the_notice_itself_too() -> None:
    """By intake, or by notify (what was sent to the reporter)."""
    document = create_app(IntakeSettings()).openapi()
    paths = {**notify_app(NotifySettings()).openapi()["paths"], **document["paths"]}
    served = {p.replace("{tracking_id}", "{id}"): ops for p, ops in paths.items()}
    named = re.findall(r"(GET|POST) (/v1/[\w/{}-]+)", privacy_notice(730).en.rights)
    assert len(named) == 3
    for method, path in named:
        assert method.lower() in served[path], path
    assert "get" in served[PATH]
    # The submission's own field docs point to it.
    create = document["components"]["schemas"]["ComplaintCreate"]
    assert PATH in create["properties"]["reporter"]["description"]
