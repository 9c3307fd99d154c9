"""`import_events`: scan-event rows in, mail pieces and events out, in bulk and idempotently.

Rows are checked in Python (rows.py) as they are read; every few thousand rows the good ones
are written as one batch in one transaction (store.py): COPY into staging tables, then a fixed
number of set-based statements, so the cost per batch does not depend on how many rows it has
or how many are already stored. A rejected row costs its batch nothing: it never reaches SQL,
or (a uniqueTrackingID conflict found in the database) its events are left out before any event
is written. Every row read ends up counted once: imported, duplicate or rejected.
"""

import gc
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from tracking.imports import reading, store
from tracking.imports.batches import Batch, RowError, Slot, batches, read_ahead
from tracking.imports.rows import REQUIRED

DEFAULT_BATCH_SIZE = 10_000
KEPT_ERRORS = 1_000


@dataclass(frozen=True, slots=True)
class ImportProgress:
    rows_read: int
    bytes_read: int | None  # of the file on disk (compressed, for .gz); None for in-memory rows
    bytes_total: int | None


@dataclass
class ImportReport:
    rows_read: int = 0
    events_imported: int = 0
    duplicates: int = 0  # valid rows whose event was already stored (or repeated in the input)
    rejected: int = 0
    pieces_created: int = 0
    pieces_updated: int = 0  # existing pieces whose attributes or status changed
    batches: int = 0
    seconds: float = 0.0
    # The first KEPT_ERRORS rejected rows, in line order (all of them go to on_error).
    errors: list[RowError] = field(default_factory=list)
    # Hook for notifications (webhooks, a later issue): every piece that received at least one
    # new event, in the order its batch committed.
    pieces_with_new_events: list[int] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0

    @property
    def accounted_for(self) -> bool:
        return self.rows_read == self.events_imported + self.duplicates + self.rejected


class ImportFailed(Exception):
    """A batch could not be written (a database error); earlier batches are kept."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


def import_events(
    *,
    path: Path | str | None = None,
    lines: Iterable[bytes | str] | None = None,
    records: Iterable[dict[str, Any]] | None = None,
    format: reading.Format | None = None,  # noqa: A002 - the word the command line uses too
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: Callable[[ImportProgress], None] | None = None,
    on_error: Callable[[RowError], None] | None = None,
    on_new_events: Callable[[list[int]], None] | None = None,
) -> ImportReport:
    """Import scan-event rows from exactly one of: a file (`path`; format from its name unless
    given), `lines` of NDJSON or CSV text (`format` required), or already-decoded `records`.

    `on_error` receives every rejected row, `on_progress` is called after each batch and
    `on_new_events` with the ids of the pieces that received new events once their batch is
    committed (the hook for subscriber notifications).
    """
    if sum(source is not None for source in (path, lines, records)) != 1:
        raise ValueError("Give exactly one of path, lines or records.")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    file = None
    position: Callable[[], int] | None = None
    total = None
    if path is not None:
        path = Path(path)
        fmt = format or reading.detect_format(path)
        file = reading.FileSource(path)
        rows, position = reading.rows_from_file(file, fmt, REQUIRED)
        total = file.size
    elif lines is not None:
        if format not in reading.FORMATS:
            raise ValueError(f"format must be one of {', '.join(reading.FORMATS)}")
        rows = reading.rows_from_lines(lines, format, REQUIRED)
    else:
        rows = reading.rows_from_records(records)  # type: ignore[arg-type]
    try:
        with _collector_paused():
            return _Importer(batch_size, on_progress, on_error, on_new_events).run(
                rows, position, total
            )
    finally:
        if file is not None:
            file.close()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """An import allocates millions of short-lived, acyclic objects (records, tuples, lines);
    the cyclic garbage collector would scan them over and over for nothing, about a sixth of
    the import's Python time. Reference counting still frees them as they go."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Importer:
    def __init__(
        self,
        batch_size: int,
        on_progress: Callable[[ImportProgress], None] | None,
        on_error: Callable[[RowError], None] | None,
        on_new_events: Callable[[list[int]], None] | None,
    ) -> None:
        self.batch_size = batch_size
        self.on_progress = on_progress
        self.on_error = on_error
        self.on_new_events = on_new_events
        self.report = ImportReport()

    def run(
        self,
        rows: Iterable[reading.Row],
        position: Callable[[], int] | None,
        total: int | None,
    ) -> ImportReport:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            store.create_staging(cursor)
            reader = read_ahead(batches(rows, self.batch_size, position))
            try:
                for batch in reader:
                    self._flush(cursor, batch, started)
                    self._progress(batch.position, total)
            finally:
                reader.close()  # stops the reading thread now, even when a batch failed
            if self.report.batches == 0:
                self._progress(position() if position else None, total)
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _progress(self, position: int | None, total: int | None) -> None:
        if self.on_progress is not None:
            self.on_progress(ImportProgress(self.report.rows_read, position, total))

    def _flush(self, cursor: Any, batch: Batch, started: float) -> None:
        report = self.report
        nested = connection.in_atomic_block
        try:
            with transaction.atomic():
                written = self._write(cursor, batch)
                if nested:
                    store.end_nested_batch(cursor)
        except Exception as exc:
            report.seconds = time.perf_counter() - started
            raise ImportFailed(
                f"A batch could not be written ({exc}); it was rolled back. The "
                f"{report.rows_read} rows before it were handled and are kept.",
                report,
            ) from exc
        batch.errors.sort(key=lambda error: error.line)
        report.rows_read += batch.rows
        report.rejected += len(batch.errors)
        report.events_imported += written.events
        report.duplicates += batch.rows - len(batch.errors) - written.events
        report.pieces_created += written.created
        report.pieces_updated += written.changed
        report.batches += 1
        report.pieces_with_new_events.extend(written.new_event_pieces)
        room = max(KEPT_ERRORS - len(report.errors), 0)
        report.errors.extend(batch.errors[:room])
        if self.on_error is not None:
            for error in batch.errors:
                self.on_error(error)
        if self.on_new_events is not None and written.new_event_pieces:
            self.on_new_events(written.new_event_pieces)

    def _write(self, cursor: Any, batch: Batch) -> "_Written":
        if not batch.slots:
            return _Written()
        store.stage(cursor, batch.piece_copy, batch.event_copy)
        slots = list(batch.slots.values())
        piece_ids: list[int | None] = [None] * len(slots)
        stored: list[int] = []
        for key_no, piece_id, stored_uid in store.find_pieces(cursor):
            slot = slots[key_no]
            stored.append(key_no)
            if slot.unique_id and slot.unique_id != stored_uid:
                _reject_piece(
                    batch,
                    slot,
                    f"uniqueTrackingID {slot.unique_id} differs from the stored piece's "
                    f"{stored_uid}",
                )
            else:
                piece_ids[key_no] = piece_id
        updated = set(store.update_pieces(cursor))
        created: set[int] = set()
        for piece_id, number, mailing_date in store.insert_pieces(cursor, stored):
            piece_ids[batch.slots[(number, mailing_date)].key_no] = piece_id
            created.add(piece_id)
        missing = (
            set(range(len(slots)))
            - set(stored)
            - {key_no for key_no, piece_id in enumerate(piece_ids) if piece_id is not None}
        )
        for key_no in sorted(missing):
            slot = slots[key_no]
            _reject_piece(
                batch,
                slot,
                f"uniqueTrackingID {slot.unique_id} already belongs to another piece"
                if slot.unique_id
                else "the piece was being created by another import at the same time; "
                "import this line again",
            )
        events, received = store.insert_events(cursor, piece_ids)
        # New pieces got their status when inserted; only the others need it worked out again.
        refreshed = store.refresh_status(cursor, [i for i in received if i not in created])
        return _Written(
            events=events,
            new_event_pieces=received,
            created=len(created),
            changed=len((updated | set(refreshed)) - created),
        )


def _reject_piece(batch: Batch, slot: Slot, reason: str) -> None:
    for line in (*slot.lines, *slot.repeats):
        batch.reject(line, slot.piece.tracking_number, reason)


@dataclass(frozen=True, slots=True)
class _Written:
    events: int = 0
    new_event_pieces: list[int] = field(default_factory=list)
    created: int = 0
    changed: int = 0
