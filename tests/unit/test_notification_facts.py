"""Notification facts: version 2 on a topic of their own, version 1 only while subscribers move."""

from datetime import UTC, datetime

from schemas.envelope import new_event
from schemas.events import (
    NotificationFailed,
    NotificationSent,
    NotificationSentV1,
    RecipientRole,
    topic_for,
)
from schemas.topics import COMPLAINT_EVENTS, NOTIFICATION_EVENTS
from services.notify.service import with_v1_copies

AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def sent() -> NotificationSent:
    return NotificationSent(
        complaint_id="LPR-AAAAA-BBBBB",
        notification_id="m-1",
        recipient_role=RecipientRole.COMPLAINANT,
        recipient="complainant",
        channel="email",
        template="received",
        caused_by="e-1",
        sent_at=AT,
    )


def test_notification_facts_go_to_their_own_topic_and_version_1_where_it_was() -> None:
    assert topic_for(sent()) == NOTIFICATION_EVENTS
    assert sent().event_type().endswith("notification.sent.v2")
    old = NotificationSentV1(**sent().model_dump())
    assert topic_for(old) == COMPLAINT_EVENTS
    assert old.event_type().endswith("notification.sent.v1")


def test_version_1_copies_only_when_asked_with_ids_derived_from_version_2() -> None:
    events = [
        new_event(sent(), source="/lapor/notify", correlation_id="c", now=AT, event_id="v2-id")
    ]
    assert with_v1_copies(events, False) == events
    first = with_v1_copies(events, True)
    again = with_v1_copies(events, True)
    assert [e.type for e in first] == [
        NotificationSent.event_type(),
        NotificationSentV1.event_type(),
    ]
    copy = first[1]
    assert copy.id == again[1].id != "v2-id"  # the same copy however often it is made
    assert copy.data.model_dump() == sent().model_dump()
    assert (copy.subject, copy.correlation_id, copy.time) == ("LPR-AAAAA-BBBBB", "c", AT)


def test_a_failure_copy_keeps_its_kind() -> None:
    failed = NotificationFailed(
        **{k: v for k, v in sent().model_dump().items() if k not in {"sent_at", "digest_of"}},
        error="SMS gateway answered 503",
        failed_at=AT,
    )
    [_, copy] = with_v1_copies(
        [new_event(failed, source="/lapor/notify", correlation_id="c")], True
    )
    assert copy.type.endswith("notification.failed.v1")
    assert topic_for(copy.data) == COMPLAINT_EVENTS
