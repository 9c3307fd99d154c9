import sys
from datetime import date, timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.tracking_numbers import is_valid_mid
from tracking.generator import generate_records, write_records, write_to
from tracking.imports import ImportFailed, ImportFileError, import_events
from tracking.management.commands.import_tracking_events import ProgressBar, print_summary

DEFAULT_MIDS = "901234567,123456"


def _mids(value: str) -> list[str]:
    mids = [mid.strip() for mid in value.split(",") if mid.strip()]
    bad = [mid for mid in mids if not is_valid_mid(mid)]
    if not mids or bad:
        raise ValueError(", ".join(bad) or value)
    return mids


class Command(BaseCommand):
    help = (
        "Generate realistic synthetic scan events (valid IMpb numbers for the given MIDs, "
        "plausible journeys, real cities and correct UTC offsets). Writes NDJSON or CSV to "
        "--output (by its extension, optionally .gz), imports them with --import, or prints "
        "NDJSON to stdout."
    )

    def add_arguments(self, parser):
        parser.add_argument("--pieces", type=int, required=True)
        parser.add_argument(
            "--mids",
            default=DEFAULT_MIDS,
            help=f"comma-separated MIDs the pieces are spread over (default {DEFAULT_MIDS})",
        )
        parser.add_argument("--seed", type=int, default=0, help="same seed, same rows")
        parser.add_argument(
            "--start-date",
            type=date.fromisoformat,
            help="first mailing date, YYYY-MM-DD (default: 30 days ago; give it for output "
            "that does not change from day to day)",
        )
        parser.add_argument("--days", type=int, default=30, help="mailing dates span this many")
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--output", type=Path, metavar="FILE")
        target.add_argument(
            "--import", dest="import_", action="store_true", help="import instead of writing"
        )

    def handle(self, *args, **options):
        if options["pieces"] < 0:
            raise CommandError("--pieces must not be negative.")
        try:
            mids = _mids(options["mids"])
        except ValueError as exc:
            raise CommandError(
                f"Not valid MIDs: {exc} (6 digits starting 0-8, or 9 digits starting with 9)."
            ) from exc
        start = options["start_date"] or timezone.localdate() - timedelta(days=30)
        records = generate_records(
            pieces=options["pieces"],
            mids=mids,
            seed=options["seed"],
            start=start,
            days=options["days"],
        )
        if options["import_"]:
            self._import(records, options.get("stderr") or sys.stderr)
        elif options["output"]:
            try:
                count = write_records(records, options["output"])
            except ImportFileError as exc:
                raise CommandError(str(exc)) from exc
            self.stderr.write(f"Wrote {count:,} events to {options['output']}.")
        else:
            write_to(records, self.stdout, "ndjson")

    def _import(self, records, stream) -> None:
        bar = ProgressBar(stream, "Importing")
        try:
            report = import_events(records=records, on_progress=bar.update)
        except ImportFailed as exc:
            bar.clear()
            print_summary(self.stdout, exc.report)
            raise CommandError(str(exc)) from exc
        bar.clear()
        print_summary(self.stdout, report)
