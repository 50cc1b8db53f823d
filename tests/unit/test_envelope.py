"""The CloudEvents envelope: what outside subscribers rely on in every record's headers."""

import pytest

from schemas.envelope import InvalidEvent, decode, encode, header_map, new_event
from schemas.events import COMPLAINT_EVENT_TYPES, ComplaintSubmitted, topic_for
from schemas.topics import COMPLAINT_EVENTS
from tests import factories
from tests.factories import NOW


def submitted() -> ComplaintSubmitted:
    return factories.submitted("LPR-AAAAA-BBBBB", anonymous=True)


def test_round_trip_keeps_every_attribute_and_the_payload() -> None:
    event = new_event(submitted(), source="/lapor/intake", correlation_id="corr-1", now=NOW)
    record = encode(event)
    headers = header_map(list(record.headers))

    decoded = decode(headers, record.value, COMPLAINT_EVENT_TYPES)

    assert decoded == event
    assert record.key == b"LPR-AAAAA-BBBBB"
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == "id.go.lapor.complaint.submitted.v2"
    assert headers["ce_dataschema"] == "urn:lapor:schema:complaint.submitted:2"
    assert headers["ce_time"] == "2026-11-24T03:00:00Z"
    assert headers["ce_correlationid"] == "corr-1"
    assert headers["content-type"] == "application/json"


def test_every_complaint_event_goes_to_the_complaint_topic_keyed_by_complaint() -> None:
    routed = factories.routed("LPR-AAAAA-BBBBB")
    assert topic_for(routed) is COMPLAINT_EVENTS
    assert topic_for(submitted()) is COMPLAINT_EVENTS
    assert encode(new_event(routed, source="/x", correlation_id="c")).key == b"LPR-AAAAA-BBBBB"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda h: h.pop("ce_id"), "missing CloudEvents attributes: id"),
        (lambda h: h.update(ce_specversion="0.3"), "unsupported specversion"),
        (lambda h: h.update(ce_type="id.go.lapor.unknown.v9"), "unknown event type"),
        (lambda h: h.update(ce_time="yesterday"), "not an RFC 3339 timestamp"),
        (lambda h: h.update(ce_time="2026-11-24T03:00:00"), "no UTC offset"),
        (lambda h: h.update(ce_subject="LPR-ZZZZZ-ZZZZZ"), "does not match the payload"),
    ],
)
def test_bad_headers_are_refused_with_the_reason(mutate: object, message: str) -> None:
    record = encode(new_event(submitted(), source="/x", correlation_id="c", now=NOW))
    headers = header_map(list(record.headers))
    mutate(headers)  # type: ignore[operator]
    with pytest.raises(InvalidEvent, match=message):
        decode(headers, record.value, COMPLAINT_EVENT_TYPES)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"{}", b'{"complaint_id": {"$gt": ""}}', b"\xff\xfe"],
)
def test_payloads_that_break_the_schema_are_refused(body: bytes) -> None:
    record = encode(new_event(submitted(), source="/x", correlation_id="c", now=NOW))
    with pytest.raises(InvalidEvent, match="payload does not match"):
        decode(header_map(list(record.headers)), body, COMPLAINT_EVENT_TYPES)


def test_non_utf8_header_is_refused() -> None:
    with pytest.raises(InvalidEvent, match="not UTF-8"):
        header_map([("ce_id", b"\xff")])
