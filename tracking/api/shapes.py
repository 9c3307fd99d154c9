"""The wire shapes, field for field as USPS writes them (tracking-v3-legacy.yaml and
tracking-v3r2.yaml in shared/reference/usps), timestamps included:

* Tracking 3.0 (legacy): `eventTimestamp` and `expectedDeliveryTimeStamp` are local
  `YYYY-MM-DDTHH:MM:SS` with no offset (a date-only scan gets `T00:00:00`: legacy clients parse
  one fixed format); `GMTTimestamp` is UTC ending in `Z`; `GMTOffset` looks like `-7:00`.
* Tracking 3.2: `eventTimestamp` is local, as a date (`2026-11-27`) or a date-time with its
  offset (`2026-11-27T14:03:12-07:00`).

Empty values are left out rather than sent as "": several fields have patterns (ZIP, state)
that an empty string would break.
"""

from datetime import UTC, datetime
from typing import Any

from tracking.models import MailPiece, TrackingEvent


def _compact(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value not in ("", None)}


def _gmt(event: TrackingEvent) -> str | None:
    if event.gmt_timestamp is None:
        return None
    return event.gmt_timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _offset_minutes(event: TrackingEvent) -> int | None:
    """The scan's UTC offset: as stored ("-7:00"), else worked out from the two timestamps."""
    if event.gmt_offset:
        sign = -1 if event.gmt_offset.startswith("-") else 1
        hours, _, minutes = event.gmt_offset.lstrip("+-").partition(":")
        return sign * (int(hours) * 60 + int(minutes or 0))
    if event.gmt_timestamp is not None and len(event.event_timestamp) == 19:
        local = datetime.fromisoformat(event.event_timestamp).replace(tzinfo=UTC)
        return round((local - event.gmt_timestamp).total_seconds() / 60)
    return None


def _legacy_offset(minutes: int | None) -> str | None:
    if minutes is None:
        return None
    sign = "-" if minutes < 0 else "+" if minutes > 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}:{rest:02d}"


def _iso_offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


def _local_legacy(value: str) -> str | None:
    if not value:
        return None
    return value if len(value) == 19 else f"{value[:10]}T00:00:00"


def _local_v3r2(event: TrackingEvent) -> str:
    if len(event.event_timestamp) != 19:
        return event.event_timestamp
    minutes = _offset_minutes(event)
    if minutes is None:
        # A local time whose offset is unknown cannot be written as a date-time honestly.
        return event.event_timestamp[:10]
    return event.event_timestamp + _iso_offset(minutes)


def legacy_mail_class(mail_class: str) -> str:
    """ "Priority Mail Express" → "PRIORITY_MAIL_EXPRESS", the legacy enum's spelling."""
    return "_".join(mail_class.upper().split())


def _legacy_event(event: TrackingEvent) -> dict[str, Any]:
    return _compact(
        {
            "eventType": event.event_type,
            "eventTimestamp": _local_legacy(event.event_timestamp),
            "GMTTimestamp": _gmt(event),
            "GMTOffset": _legacy_offset(_offset_minutes(event)),
            "eventCountry": event.country,
            "eventCity": event.city,
            "eventState": event.state,
            "eventZIP": event.zip_code,
            "firm": event.firm,
            "name": event.recipient_name,
            "authorizedAgent": bool(event.recipient_name) if event.event_code == "01" else None,
            "eventCode": event.event_code,
            "actionCode": event.action_code,
            "reasonCode": event.reason_code,
        }
    )


def v3r2_event(event: TrackingEvent) -> dict[str, Any]:
    return _compact(
        {
            "eventType": event.event_type,
            "eventCode": event.event_code,
            "eventTimestamp": _local_v3r2(event),
            "GMTTimestamp": _gmt(event),
            "GMTOffset": _legacy_offset(_offset_minutes(event)),
            "eventCity": event.city,
            "eventState": event.state,
            "eventZIPCode": event.zip_code,
            "eventCountry": event.country,
            "firm": event.firm,
            "recipientName": event.recipient_name,
            "actionCode": event.action_code,
            "reasonCode": event.reason_code,
        }
    )


def _event_line(event: TrackingEvent) -> str:
    """One line of a legacy summary: "Delivered, November 27, 2026, 2:03 pm, DENVER, CO 80202"."""
    parts = [event.event_type]
    moment = datetime.fromisoformat(event.event_timestamp)
    parts.append(f"{moment:%B} {moment.day}, {moment.year}")
    if len(event.event_timestamp) == 19:
        parts.append(f"{moment.hour % 12 or 12}:{moment:%M} {'am' if moment.hour < 12 else 'pm'}")
    place = " ".join(part for part in (event.state, event.zip_code) if part)
    location = ", ".join(part for part in (event.city, place) if part)
    if location:
        parts.append(location)
    return ", ".join(parts)


def _expected_parts(piece: MailPiece) -> tuple[str | None, str | None]:
    value = piece.expected_delivery
    if not value:
        return None, None
    if len(value) == 19:
        moment = datetime.fromisoformat(value)
        return value[
            :10
        ], f"{moment.hour % 12 or 12}:{moment:%M} {'am' if moment.hour < 12 else 'pm'}"
    return value[:10], None


def v3_summary(piece: MailPiece, events: list[TrackingEvent]) -> dict[str, Any]:
    expected_date, expected_time = _expected_parts(piece)
    lines = [_event_line(event) for event in events] or [
        piece.status_summary or piece.status or "Shipping label created"
    ]
    return _compact(
        {
            "trackingNumber": piece.tracking_number,
            "expectedDeliveryDate": expected_date,
            "expectedDeliveryTime": expected_time,
            "eventSummaries": lines,
        }
    )


def v3_detail(piece: MailPiece, events: list[TrackingEvent]) -> dict[str, Any]:
    intake = f"{piece.mailing_date.isoformat()}T00:00:00"
    detail = _compact(
        {
            "trackingNumber": piece.tracking_number,
            "mailClass": legacy_mail_class(piece.mail_class) if piece.mail_class else None,
            "mailType": piece.mail_type or "UNKNOWN",
            "serviceTypeCode": piece.service_type_code,
            "destinationCity": piece.destination_city,
            "destinationState": piece.destination_state,
            "destinationZIP": piece.destination_zip,
            "destinationCountryCode": "US" if piece.destination_zip else None,
            "originCity": piece.origin_city,
            "originState": piece.origin_state,
            "originZIP": piece.origin_zip,
            "originCountry": "US" if piece.origin_zip else None,
            "uniqueMailPieceId": piece.unique_mail_piece_id,
            "mailPieceIntakeDate": intake,
            "expectedDeliveryTimeStamp": _local_legacy(piece.expected_delivery),
            "status": piece.status,
            "statusCategory": piece.status_category,
            "statusSummary": piece.status_summary,
        }
    )
    detail.update(
        {
            "emailEnabled": False,
            "proofOfDeliveryEnabled": False,
            "RREEnabled": False,
            "RRAMenabled": False,
            "restoreEnabled": False,
            "redeliveryEnabled": False,
            "trackingEvents": [_legacy_event(event) for event in events],
        }
    )
    return detail


def v3r2_detail(piece: MailPiece, events: list[TrackingEvent]) -> dict[str, Any]:
    expected_date, _ = _expected_parts(piece)
    detail = _compact(
        {
            "trackingNumber": piece.tracking_number,
            "uniqueTrackingID": piece.unique_mail_piece_id,
            "mailingDate": piece.mailing_date.isoformat(),
            "mailClass": piece.mail_class,
            "mailClassCode": piece.mail_class_code,
            "mailType": piece.mail_type,
            "serviceTypeCode": piece.service_type_code,
            "destinationCity": piece.destination_city,
            "destinationState": piece.destination_state,
            "destinationZIPCode": piece.destination_zip,
            "destinationCountry": "US" if piece.destination_zip else None,
            "originCity": piece.origin_city,
            "originState": piece.origin_state,
            "originZIPCode": piece.origin_zip,
            "originCountry": "US" if piece.origin_zip else None,
            "status": piece.status,
            "statusCategory": piece.status_category,
            "statusSummary": piece.status_summary,
        }
    )
    if expected_date:
        detail["deliveryDateExpectation"] = {"expectedDeliveryDate": expected_date}
    detail["servicesEligibility"] = {
        "proofOfDeliveryEnabled": False,
        "RREEnabled": False,
        "trackingProofOfDeliveryEnabled": False,
    }
    detail["trackingEvents"] = [v3r2_event(event) for event in events]
    return detail
