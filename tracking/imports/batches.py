"""Turning checked rows into batches, and reading the next batch while the last is written.

A batch groups its rows by piece: each piece is staged once, with its fields merged over its
rows, and rows that contradict each other about a piece's uniqueTrackingID are rejected here.
"""

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from tracking.imports.reading import Row
from tracking.imports.rows import EventFields, PieceFields, RowRejected, RowValidator

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    tracking_number: str
    reason: str


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"
_OLDEST = datetime.min.replace(tzinfo=UTC)


def copy_line(values: Iterable[Any]) -> str:
    """One row in PostgreSQL's COPY text format."""
    cells = []
    for value in values:
        if value is None:
            cells.append(_NULL)
        elif isinstance(value, str):
            cells.append(value.translate(_ESCAPES))
        elif isinstance(value, date):
            cells.append(value.isoformat())
        else:
            cells.append(str(value))
    return "\t".join(cells) + "\n"


def copy_text(values: tuple[str, ...]) -> str:
    """copy_line for strings, joined at C speed unless one needs escaping (rarely)."""
    line = "\t".join(values)
    if line.count("\t") == len(values) - 1 and not ("\\" in line or "\n" in line or "\r" in line):
        return line + "\n"
    return copy_line(values)


@dataclass
class Slot:
    """One piece of the batch: its fields merged over its rows, its newest event, its rows."""

    key_no: int
    first_line: int
    piece: PieceFields
    attrs: list[str]
    unique_id: str
    lines: list[int] = field(default_factory=list)
    repeats: list[int] = field(default_factory=list)  # rows repeating an event of this piece
    seen: set[tuple[str, str]] = field(default_factory=set)
    newest: tuple[Any, ...] = (False, _OLDEST, "", 0)
    newest_event: EventFields | None = None


class Batch:
    def __init__(self) -> None:
        self.slots: dict[tuple[str, date], Slot] = {}
        self.unique_ids: dict[str, Slot] = {}
        self.event_lines: list[str] = []
        self.errors: list[RowError] = []
        self.rows = 0
        self.position: int | None = None  # how far into the file the batch ends
        self.piece_copy = b""
        self.event_copy = b""

    def reject(self, line: int, number: str, reason: str) -> None:
        self.errors.append(RowError(line=line, tracking_number=number, reason=reason))

    def _taken(self, line: int, piece: PieceFields) -> bool:
        other = self.unique_ids.get(piece.unique_id)
        if other is None:
            return False
        self.reject(
            line,
            piece.tracking_number,
            f"uniqueTrackingID {piece.unique_id} is given to {other.piece.tracking_number} "
            f"mailed {other.piece.mailing_date} on line {other.first_line}",
        )
        return True

    def add(self, line: int, piece: PieceFields, event: EventFields) -> None:
        slot = self._slot(line, piece)
        if slot is None:
            return
        natural_key = (event.event_code, event.event_timestamp)
        if natural_key in slot.seen:
            # Only the first is stored (as the database would); the rest count as duplicates.
            slot.repeats.append(line)
            return
        slot.seen.add(natural_key)
        slot.lines.append(line)
        gmt = event.gmt_timestamp
        # The API's order, newest first: GMT time (undated last), local time, then input order.
        order = (gmt is not None, gmt or _OLDEST, event.event_timestamp, line)
        if order > slot.newest:
            slot.newest, slot.newest_event = order, event
        text = (
            f"{slot.key_no}\t{line}\t{event.event_code}\t{event.event_type}\t"
            f"{event.event_timestamp}\t{_NULL if gmt is None else event.gmt_text}\t"
            f"{event.gmt_offset}\t{event.city}\t{event.state}\t{event.zip_code}\t"
            f"{event.country}\t{event.firm}\t{event.recipient_name}\t{event.action_code}\t"
            f"{event.reason_code}\n"
        )
        # The fast line is right unless a value holds a tab, newline or backslash (the one
        # backslash allowed is the NULL marker).
        if (
            text.count("\t") != 14
            or text.count("\n") != 1
            or "\r" in text
            or text.count("\\") != (gmt is None)
        ):
            text = copy_line((slot.key_no, line, *event[:3], gmt, *event[4:13]))
        self.event_lines.append(text)

    def _slot(self, line: int, piece: PieceFields) -> Slot | None:
        key = (piece.tracking_number, piece.mailing_date)
        slot = self.slots.get(key)
        uid = piece.unique_id
        if slot is None:
            if uid and self._taken(line, piece):
                return None
            slot = Slot(len(self.slots), line, piece, list(piece[4:]), uid)
            self.slots[key] = slot
            if uid:
                self.unique_ids[uid] = slot
        elif piece is not slot.piece and piece != slot.piece:
            if uid and uid != slot.unique_id:
                if slot.unique_id:
                    self.reject(
                        line,
                        piece.tracking_number,
                        f"uniqueTrackingID {uid} differs from {slot.unique_id}, given for the "
                        f"same piece on line {slot.first_line}",
                    )
                    return None
                if self._taken(line, piece):
                    return None
                slot.unique_id = uid
                self.unique_ids[uid] = slot
            # Rows may describe the piece more fully as it travels: non-blank values win.
            for index, value in enumerate(piece[4:]):
                if value:
                    slot.attrs[index] = value
            slot.piece = piece
        return slot

    def seal(self) -> None:
        """Build the COPY payloads (in the reading thread, so the writer only sends bytes)."""
        pieces = []
        for slot in self.slots.values():
            piece, newest = slot.piece, slot.newest_event
            latest = ("",) * 6 if newest is None else (*newest[:3], *newest[5:8])
            pieces.append(
                copy_text(
                    (
                        str(slot.key_no),
                        piece.tracking_number,
                        piece.mailing_date.isoformat(),
                        piece.mid,
                        slot.unique_id,
                        *slot.attrs,
                        *latest,
                    )
                )
            )
        self.piece_copy = "".join(pieces).encode()
        self.event_copy = "".join(self.event_lines).encode()
        self.event_lines = []


def batches(rows: Iterable[Row], size: int, position: Callable[[], int] | None) -> Iterator[Batch]:
    validate = RowValidator().validate
    batch = Batch()
    for line, record, error in rows:
        batch.rows += 1
        if record is None:
            batch.reject(line, "", error or "unreadable")
        else:
            try:
                piece, event = validate(record)
            except RowRejected as exc:
                number = record.get("trackingNumber")
                batch.reject(line, number if isinstance(number, str) else "", str(exc))
            except (OverflowError, ValueError, RecursionError) as exc:
                # Values at the edge of what Python represents (a year-1 time moved by its
                # offset, a 5,000-digit number): a rejected row, not a failed import.
                number = record.get("trackingNumber")
                reason = f"holds a value out of range ({type(exc).__name__}: {exc})"
                batch.reject(line, number if isinstance(number, str) else "", reason[:300])
            else:
                batch.add(line, piece, event)
        if batch.rows >= size:
            batch.position = position() if position else None
            batch.seal()
            yield batch
            batch = Batch()
    if batch.rows:
        batch.position = position() if position else None
        batch.seal()
        yield batch


_DONE = object()


def read_ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Iterate `items` in a thread, up to `depth` ahead of the caller. Reading and checking
    rows is Python work; writing a batch is mostly waiting for PostgreSQL, which releases the
    GIL, so the two overlap on two cores. The thread never touches the database."""
    ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as exc:  # handed to the caller, raised there
            offer(exc)

    thread = threading.Thread(target=produce, name="import-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
