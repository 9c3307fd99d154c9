"""What an uploaded evidence file really is, read from its first bytes.

The name and the content type a browser sends are chosen by the uploader, so neither is
trusted: a file is a PDF, PNG or JPEG only if it starts with that format's signature. Standard
library only; the MID link service turns a refusal into a DomainError.
"""

from dataclasses import dataclass
from typing import BinaryIO

EVIDENCE_MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class FileType:
    content_type: str
    extension: str
    label: str


PDF = FileType("application/pdf", ".pdf", "PDF")
PNG = FileType("image/png", ".png", "PNG")
JPEG = FileType("image/jpeg", ".jpg", "JPEG")

# Each format's signature at offset 0: PDF "%PDF-", PNG's 8-byte signature, JPEG's SOI marker
# followed by the first marker's 0xFF.
SIGNATURES: tuple[tuple[bytes, FileType], ...] = (
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
)
HEAD_BYTES = max(len(signature) for signature, _ in SIGNATURES)
BY_CONTENT_TYPE: dict[str, FileType] = {kind.content_type: kind for _, kind in SIGNATURES}
ACCEPTED_LABELS = "PDF, PNG or JPEG"


class UploadRefused(ValueError):
    """The file is not acceptable evidence; the message says why, for the uploader."""


def detect(head: bytes) -> FileType | None:
    """The type whose signature `head` starts with, or None."""
    return next((kind for signature, kind in SIGNATURES if head.startswith(signature)), None)


def read_head(stream: BinaryIO) -> bytes:
    """The first bytes of `stream`, leaving its position where it was."""
    position = stream.tell()
    try:
        stream.seek(0)
        return stream.read(HEAD_BYTES)
    finally:
        stream.seek(position)


def measure(stream: BinaryIO) -> int:
    """The stream's size in bytes, counted from its end rather than taken from a header."""
    position = stream.tell()
    try:
        return stream.seek(0, 2)
    finally:
        stream.seek(position)


def check_evidence(stream: BinaryIO, *, max_bytes: int = EVIDENCE_MAX_BYTES) -> FileType:
    """The detected type of an acceptable evidence file, or UploadRefused saying what is wrong."""
    size = measure(stream)
    if size == 0:
        raise UploadRefused("The file is empty. Upload the signed letter as a PDF, PNG or JPEG.")
    if size > max_bytes:
        raise UploadRefused(
            f"The file is {size / 1024 / 1024:.1f} MB; the limit is "
            f"{max_bytes // 1024 // 1024} MB. Scan it at a lower resolution or save it as PDF."
        )
    kind = detect(read_head(stream))
    if kind is None:
        raise UploadRefused(
            f"This file is not a {ACCEPTED_LABELS} file: its content is checked, not its name, "
            "so a renamed web page, SVG or other document is refused. Save the letter as a PDF "
            "or take a PNG or JPEG picture of it."
        )
    return kind
