"""Parse and validate USPS tracking numbers (domain notes, domain.md section 3).

Three formats are recognised:

* **IMpb** (Intelligent Mail package barcode). The barcode data is ``[420 + ZIP] + PIC``.
  The optional routing part is ``420`` followed by a 5- or 9-digit ZIP and is *not* part
  of the human-readable tracking number (the PIC). The PIC is::

      CAI (2) | service type code (3) | MID (6 or 9) | serial | MOD 10 check digit (1)

  Channels 92, 93 and 94 carry the shipper's Mailer ID (MID). Channels 95 (retail) and
  91 (legacy) do not, so everything between the service type code and the check digit is
  treated as the serial. PICs are 22 or 26 digits, or 30 for channel 94 with a 9-digit
  MID and a 15-digit serial; with routing the barcode is 30 or 34 digits (34 is the
  maximum barcode length).
* **LEGACY_20**: 2-digit service type + 17 digits + MOD 10 check digit. It carries no
  reliable shipper MID.
* **S10** (UPU international): 2 letters, 8-digit serial, MOD 11 check digit, 2-letter
  country code, e.g. ``RB123456785US``. No shipper MID.

A 34-digit barcode is ambiguous: ``420``+ZIP9+22-digit PIC or ``420``+ZIP5+26-digit PIC.
Both splits are tried and the one whose PIC validates wins. *Both* validate more often than
one would think: whenever the 26-digit PIC's first four digits weigh 0 mod 10 in the check
digit (channel 93 with service type 009, for example, whatever the serial), the ZIP9 split
shares its check digit. If the two readings carry different MIDs, the barcode is refused with
`AmbiguousTrackingNumber` (fail closed: guessing would serve one mailer's parcel to another);
the caller must send the PIC without the routing prefix. If they carry the same MID, the MID is
certain and the ZIP9 + 22-digit reading (the usual commercial layout) is returned.

The check digit covers the PIC only, so a typo in the routing ZIP cannot be detected.
That is a property of the barcode standard, not of this module.

This module is stdlib-only and importable without Django.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "FORMAT_IMPB",
    "FORMAT_LEGACY_20",
    "FORMAT_S10",
    "AmbiguousTrackingNumber",
    "InvalidTrackingNumber",
    "TrackingFormat",
    "TrackingNumber",
    "is_valid_mid",
    "make_impb",
    "mod10_check_digit",
    "parse",
    "s10_check_digit",
]

TrackingFormat = Literal["IMPB", "LEGACY_20", "S10"]
FORMAT_IMPB: Final = "IMPB"
FORMAT_LEGACY_20: Final = "LEGACY_20"
FORMAT_S10: Final = "S10"

ROUTING_PREFIX: Final = "420"
MAX_LENGTH: Final = 34
# Raw input is capped before normalising so huge pastes are rejected without any work.
MAX_RAW_LENGTH: Final = 64

CHANNELS: Final = frozenset({"91", "92", "93", "94", "95"})
MID_CHANNELS: Final = frozenset({"92", "93", "94"})

_STRIPPED_CHARS: Final = str.maketrans("", "", " \t\r\n-")
_S10_RE: Final = re.compile(r"[A-Z]{2}[0-9]{9}[A-Z]{2}")
# Letters around a run of digits: clearly meant as S10, so a length reason is more useful
# than "contains non-digit characters".
_S10_LIKE_RE: Final = re.compile(r"[A-Z]{2}[0-9]+[A-Z]{2}")
_S10_WEIGHTS: Final = (8, 6, 4, 2, 3, 5, 9, 7)


class InvalidTrackingNumber(ValueError):
    """A string that is not a valid tracking number; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class AmbiguousTrackingNumber(InvalidTrackingNumber):
    """A routed 34-digit barcode that reads validly two ways, with two different MIDs."""

    def __init__(self, mids: tuple[str | None, str | None]) -> None:
        super().__init__(
            "this 34-digit barcode reads both as 420 + ZIP9 + a 22-digit PIC (MID "
            f"{mids[0] or 'none'}) and as 420 + ZIP5 + a 26-digit PIC (MID {mids[1] or 'none'}); "
            "send the tracking number (PIC) without the 420 + ZIP routing prefix"
        )
        self.mids = mids


class _PicError(InvalidTrackingNumber):
    """Internal: records how far PIC validation got.

    When a 34-digit barcode fails under both splits, the failure that got furthest (a check
    digit mismatch beats a bad layout, which beats an unknown channel) is the most useful.
    """

    CHANNEL, LAYOUT, CHECK_DIGIT = 0, 1, 2

    def __init__(self, reason: str, depth: int) -> None:
        super().__init__(reason)
        self.depth = depth


@dataclass(frozen=True, slots=True)
class TrackingNumber:
    pic: str
    format: TrackingFormat
    channel: str | None
    service_type_code: str | None
    mid: str | None
    serial: str
    check_digit: str
    routing_zip: str | None = None
    country: str | None = None

    @property
    def has_shipper_mid(self) -> bool:
        return self.mid is not None


def _is_ascii_digits(value: str) -> bool:
    # str.isdigit() alone accepts e.g. Arabic-Indic and fullwidth digits.
    return value.isascii() and value.isdigit()


def is_valid_mid(mid: str) -> bool:
    """True for a 6-digit MID starting 0-8 or a 9-digit MID starting with 9."""
    if not isinstance(mid, str) or not _is_ascii_digits(mid):
        return False
    return (len(mid) == 6 and mid[0] != "9") or (len(mid) == 9 and mid[0] == "9")


def mod10_check_digit(payload: str) -> str:
    """USPS MOD 10 check digit for a PIC without its check digit (no ``420`` + ZIP)."""
    if not _is_ascii_digits(payload):
        raise ValueError(f"payload must be ASCII digits, got {payload!r}")
    # Positions are counted from the right starting at 1; odd positions weigh 3.
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return str(-total % 10)


def s10_check_digit(serial8: str) -> str:
    """UPU S10 MOD 11 check digit for an 8-digit serial."""
    if len(serial8) != 8 or not _is_ascii_digits(serial8):
        raise ValueError(f"S10 serial must be 8 ASCII digits, got {serial8!r}")
    remainder = sum(int(d) * w for d, w in zip(serial8, _S10_WEIGHTS, strict=True)) % 11
    if remainder == 0:
        return "5"
    if remainder == 1:
        return "0"
    return str(11 - remainder)


def _serial_lengths(mid_length: int, channel: str) -> tuple[int, ...]:
    if mid_length == 9:
        # The 15-digit serial is only documented for channel 94 (online/PC Postage).
        return (7, 11, 15) if channel == "94" else (7, 11)
    return (10, 14)


def _format_lengths(lengths: tuple[int, ...]) -> str:
    words = [str(n) for n in lengths]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def make_impb(*, mid: str, service_type_code: str, serial: str, channel: str | None = None) -> str:
    """Build a valid IMpb PIC (without routing), including its check digit."""
    if not is_valid_mid(mid):
        raise ValueError(
            f"mid must be 6 digits starting with 0-8 or 9 digits starting with 9, got {mid!r}"
        )
    if len(service_type_code) != 3 or not _is_ascii_digits(service_type_code):
        raise ValueError(f"service_type_code must be 3 digits, got {service_type_code!r}")
    if channel is None:
        channel = "92" if len(mid) == 9 else "93"
    if channel not in MID_CHANNELS:
        raise ValueError(f"channel must be one of 92, 93 or 94 to carry a MID, got {channel!r}")
    if channel == "92" and len(mid) != 9:
        raise ValueError("channel 92 requires a 9-digit MID")
    if channel == "93" and len(mid) != 6:
        raise ValueError("channel 93 requires a 6-digit MID")
    allowed = _serial_lengths(len(mid), channel)
    if not _is_ascii_digits(serial) or len(serial) not in allowed:
        raise ValueError(
            f"serial must be {_format_lengths(allowed)} digits for a {len(mid)}-digit MID "
            f"on channel {channel}, got {serial!r}"
        )
    payload = channel + service_type_code + mid + serial
    return payload + mod10_check_digit(payload)


def parse(raw: str) -> TrackingNumber:
    """Parse a tracking number as typed or scanned; raise InvalidTrackingNumber if invalid."""
    if not isinstance(raw, str):
        raise InvalidTrackingNumber(f"tracking number must be a string, not {type(raw).__name__}")
    if len(raw) > MAX_RAW_LENGTH:
        raise InvalidTrackingNumber(f"input is too long (over {MAX_RAW_LENGTH} characters)")
    number = raw.translate(_STRIPPED_CHARS)
    if not number:
        raise InvalidTrackingNumber("tracking number is empty")
    if not number.isascii():
        raise InvalidTrackingNumber("contains non-ASCII characters")
    if len(number) > MAX_LENGTH:
        raise InvalidTrackingNumber(
            f"length {len(number)} is too long (the maximum is {MAX_LENGTH})"
        )
    if not number.isdigit():
        return _parse_s10(number.upper())
    try:
        return _parse_digits(number)
    except _PicError as exc:
        # Callers only ever see the public exception type.
        raise InvalidTrackingNumber(exc.reason) from None


def _parse_digits(number: str) -> TrackingNumber:
    length = len(number)
    if length == 20:
        return _parse_legacy_20(number)
    if length in (22, 26):
        return _parse_pic(number)
    if length == 30:
        # A PIC starts with 9x, so a 30-digit number is routed exactly when it starts 420.
        if number.startswith(ROUTING_PREFIX):
            return _parse_pic(number[8:], routing_zip=number[3:8])
        return _parse_pic(number)
    if length == 34:
        if not number.startswith(ROUTING_PREFIX):
            raise InvalidTrackingNumber(
                f"a 34-digit barcode must start with the {ROUTING_PREFIX} routing prefix"
            )
        return _parse_routed_34(number)
    raise InvalidTrackingNumber(f"length {length} is not a known format")


def _parse_routed_34(number: str) -> TrackingNumber:
    readings: list[TrackingNumber] = []
    failures: list[_PicError] = []
    # ZIP9 first: it is the reading returned when both hold with the same MID.
    for zip_code, pic in ((number[3:12], number[12:]), (number[3:8], number[8:])):
        try:
            readings.append(_parse_pic(pic, routing_zip=zip_code))
        except _PicError as exc:
            failures.append(exc)
    if len(readings) == 2 and readings[0].mid != readings[1].mid:
        raise AmbiguousTrackingNumber((readings[0].mid, readings[1].mid))
    if readings:
        return readings[0]
    # max() keeps the first of equal depths, i.e. the ZIP9 reading.
    raise max(failures, key=lambda exc: exc.depth)


def _parse_pic(pic: str, routing_zip: str | None = None) -> TrackingNumber:
    channel = pic[:2]
    if channel not in CHANNELS:
        raise _PicError(f"channel {channel} is not a valid IMpb channel (91-95)", _PicError.CHANNEL)
    service_type_code, body, check = pic[2:5], pic[5:-1], pic[-1]

    mid: str | None
    if channel in MID_CHANNELS:
        mid_length = 9 if body[0] == "9" else 6
        if channel == "92" and mid_length != 9:
            raise _PicError("channel 92 requires a 9-digit MID starting with 9", _PicError.LAYOUT)
        if channel == "93" and mid_length != 6:
            raise _PicError("channel 93 requires a 6-digit MID starting with 0-8", _PicError.LAYOUT)
        mid, serial = body[:mid_length], body[mid_length:]
        allowed = _serial_lengths(mid_length, channel)
        if len(serial) not in allowed:
            raise _PicError(
                f"serial has {len(serial)} digits; a {mid_length}-digit MID on channel "
                f"{channel} takes {_format_lengths(allowed)}",
                _PicError.LAYOUT,
            )
    else:
        # Channels 91/95 hold no shipper MID; only 22- and 26-digit PICs exist for them.
        if len(pic) not in (22, 26):
            raise _PicError(
                f"a {len(pic)}-digit PIC is not valid for channel {channel}", _PicError.LAYOUT
            )
        mid, serial = None, body

    expected = mod10_check_digit(pic[:-1])
    if check != expected:
        raise _PicError(f"check digit is {check}, expected {expected}", _PicError.CHECK_DIGIT)
    return TrackingNumber(
        pic=pic,
        format=FORMAT_IMPB,
        channel=channel,
        service_type_code=service_type_code,
        mid=mid,
        serial=serial,
        check_digit=check,
        routing_zip=routing_zip,
    )


def _parse_legacy_20(number: str) -> TrackingNumber:
    expected = mod10_check_digit(number[:19])
    if number[19] != expected:
        raise InvalidTrackingNumber(f"check digit is {number[19]}, expected {expected}")
    return TrackingNumber(
        pic=number,
        format=FORMAT_LEGACY_20,
        channel=None,
        service_type_code=number[:2],
        # The legacy layout has a shipper-ID field, but it is not a reliable MID.
        mid=None,
        serial=number[2:19],
        check_digit=number[19],
    )


def _parse_s10(number: str) -> TrackingNumber:
    if not _S10_RE.fullmatch(number):
        if _S10_LIKE_RE.fullmatch(number):
            raise InvalidTrackingNumber(f"S10 number has {len(number)} characters, expected 13")
        raise InvalidTrackingNumber("contains non-digit characters")
    serial, check = number[2:10], number[10]
    expected = s10_check_digit(serial)
    if check != expected:
        raise InvalidTrackingNumber(f"check digit is {check}, expected {expected}")
    return TrackingNumber(
        pic=number,
        format=FORMAT_S10,
        channel=None,
        service_type_code=number[:2],
        mid=None,
        serial=serial,
        check_digit=check,
        country=number[11:],
    )
