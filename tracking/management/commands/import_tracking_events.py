import csv
import sys
import time
from pathlib import Path
from typing import TextIO

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Max

from tracking.imports import (
    DEFAULT_BATCH_SIZE,
    FORMATS,
    ImportFailed,
    ImportFileError,
    ImportProgress,
    ImportReport,
    RowError,
    import_events,
)
from tracking.models import TrackingEvent
from tracking.webhooks.selectors import enabled_subscriptions as live_subscriptions
from tracking.webhooks.tasks import fan_out_new_events

# With --errors FILE, stderr shows only the first few; the file has them all.
ERRORS_SHOWN_WITH_FILE = 20


class ProgressBar:
    """A bar redrawn on a terminal's stderr; on a pipe or log, a line every tenth of the way."""

    WIDTH = 30

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.tty = stream.isatty()
        self.started = time.perf_counter()
        self._next_step = 0.1
        self._drawn = False

    def update(self, progress: ImportProgress) -> None:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = f"{progress.rows_read / elapsed:,.0f} rows/s"
        if progress.bytes_total and progress.bytes_read is not None:
            share = min(progress.bytes_read / progress.bytes_total, 1.0)
            filled = int(self.WIDTH * share)
            text = (
                f"{self.label} [{'#' * filled}{'-' * (self.WIDTH - filled)}] {share:4.0%} "
                f"{progress.rows_read:,} rows, {rate}"
            )
        else:
            share = None
            text = f"{self.label} {progress.rows_read:,} rows, {rate}"
        if self.tty:
            self.stream.write("\r\033[K" + text)
            self._drawn = True
        elif share is None or share >= self._next_step:
            self.stream.write(text + "\n")
            if share is not None:
                self._next_step = int(share * 10) / 10 + 0.1
        self.stream.flush()

    def clear(self) -> None:
        """Before other output: a half-drawn bar line would swallow it."""
        if self._drawn:
            self.stream.write("\r\033[K")
            self._drawn = False


def print_summary(out, report: ImportReport) -> None:
    out.write(
        f"Rows read:         {report.rows_read:,}\n"
        f"Events imported:   {report.events_imported:,}\n"
        f"Duplicates:        {report.duplicates:,} (already stored)\n"
        f"Rejected:          {report.rejected:,}\n"
        f"Pieces created:    {report.pieces_created:,}\n"
        f"Pieces updated:    {report.pieces_updated:,}\n"
        f"Time:              {report.seconds:,.1f} s "
        f"({report.events_per_second:,.0f} rows/s)\n"
    )


class Command(BaseCommand):
    help = (
        "Import scan events from an NDJSON or CSV file (optionally .gz), fields named as in "
        "USPS scan-event-extract records (docs/tracking-data.md). Idempotent; bad lines are "
        "reported with their line numbers and the rest is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--format", choices=FORMATS, help="default: from the file name (.ndjson, .jsonl, .csv)"
        )
        parser.add_argument(
            "--errors", type=Path, metavar="FILE", help="write every rejected line here as CSV"
        )
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        # The raw stream (call_command's stderr= in tests): the bar draws its own line ends.
        stream = options.get("stderr") or sys.stderr
        bar = None if options["no_progress"] else ProgressBar(stream, f"Importing {path.name}")
        shown = 0
        errors_file = options["errors"].open("w", newline="") if options["errors"] else None
        writer = csv.writer(errors_file) if errors_file else None
        if writer:
            writer.writerow(["line", "trackingNumber", "reason"])

        def on_error(error: RowError) -> None:
            nonlocal shown
            if writer:
                writer.writerow([error.line, error.tracking_number, error.reason])
            if writer is None or shown < ERRORS_SHOWN_WITH_FILE:
                shown += 1
                if bar:
                    bar.clear()
                number = f" {error.tracking_number}" if error.tracking_number else ""
                self.stderr.write(f"line {error.line}{number}: {error.reason}")

        # Events stored before this import are not new to webhook subscribers: the fan-out
        # notifies about events above this mark only (docs/webhooks.md, "Fan-out").
        mark = TrackingEvent.objects.aggregate(mark=Max("pk"))["mark"] or 0

        def on_new_events(piece_ids: list[int]) -> None:
            # Called after each batch commits (on_commit also covers a caller's transaction).
            # Without any enabled subscription there is nobody to notify: no task at all.
            if not live_subscriptions().exists():
                return
            ids = list(piece_ids)
            transaction.on_commit(lambda: fan_out_new_events.delay(ids, after_event_id=mark))

        try:
            report = import_events(
                path=path,
                format=options["format"],
                batch_size=options["batch_size"],
                on_progress=bar.update if bar else None,
                on_error=on_error,
                on_new_events=on_new_events,
            )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        except ImportFailed as exc:
            if bar:
                bar.clear()
            print_summary(self.stdout, exc.report)
            raise CommandError(str(exc)) from exc
        finally:
            if errors_file:
                errors_file.close()
        if bar:
            bar.clear()
        if writer and report.rejected > shown:
            self.stderr.write(
                f"... {report.rejected - shown:,} more rejected lines in {options['errors']}"
            )
        print_summary(self.stdout, report)
        if report.rejected:
            self.stdout.write(
                self.style.WARNING(f"{report.rejected:,} lines were rejected (see above).")
            )
