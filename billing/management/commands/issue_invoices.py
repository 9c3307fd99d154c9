import re
import sys
from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.proration import billing_zone, money
from billing.services.issuing import IssueProgress, IssueReport, issue_invoices
from core.errors import DomainError
from tracking.imports import ImportProgress
from tracking.management.commands.import_tracking_events import ProgressBar

PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})\Z")


def parse_period(text: str, *, today: date) -> date:
    """`2026-11` -> 2026-11-01; only a month that has ended in BILLING_TIMEZONE."""
    match = PERIOD.match(text.strip())
    month = int(match.group(2)) if match else 0
    if not match or not 1 <= month <= 12:
        raise CommandError(f"--period must be a month as YYYY-MM (e.g. 2026-11), not {text!r}.")
    period = date(int(match.group(1)), month, 1)
    current = today.replace(day=1)
    if period >= current:
        which = "the current month" if period == current else "in the future"
        raise CommandError(
            f"{period:%Y-%m} is {which} ({billing_zone().key}); only a month that has ended "
            f"can be invoiced: {current - timedelta(days=1):%Y-%m} or earlier."
        )
    return period


def print_summary(out, report: IssueReport) -> None:
    totals = ", ".join(
        money(cents, currency) for currency, cents in sorted(report.totals_cents.items())
    )
    would = " (dry run: nothing written)" if report.dry_run else ""
    out.write(
        f"Period:            {report.period:%Y-%m}{would}\n"
        f"Invoices created:  {report.created:,}\n"
        f"Already issued:    {report.already_issued:,}\n"
        f"Not billable:      {report.not_billable:,} (no active day, or nothing owed)\n"
        f"No fee schedule:   {report.no_schedule:,}\n"
        f"Failed:            {len(report.failed):,}\n"
        f"Total amount:      {totals or money(0)}\n"
        f"Time:              {report.seconds:,.1f} s\n"
    )


class Command(BaseCommand):
    help = (
        "Issue the DRAFT invoices of one ended month (docs/billing.md, 'Monthly run'). "
        "Exactly once per provider and month: safe to re-run, and to run beside the beat task."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="the month, YYYY-MM")
        parser.add_argument("--dry-run", action="store_true", help="compute, write nothing")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        today = timezone.now().astimezone(billing_zone()).date()
        period = parse_period(options["period"], today=today)
        # The raw stream (call_command's stderr= in tests): the bar draws its own line ends.
        stream = options.get("stderr") or sys.stderr
        bar = None
        if not options["no_progress"]:
            bar = ProgressBar(stream, f"Invoicing {period:%Y-%m} (rows = providers)")

        def on_progress(progress: IssueProgress) -> None:
            bar.update(ImportProgress(progress.done, progress.done, progress.total))

        try:
            report = issue_invoices(
                period=period,
                dry_run=options["dry_run"],
                on_progress=on_progress if bar else None,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        finally:
            if bar:
                bar.clear()
        print_summary(self.stdout, report)
        for provider_id, error in report.failed:
            self.stderr.write(f"provider {provider_id}: {error}")
        if report.no_schedule:
            self.stdout.write(
                self.style.WARNING(
                    f"{report.no_schedule:,} active providers have no fee schedule in effect "
                    f"on {period}; add one and run again."
                )
            )
        if report.failed:
            raise CommandError(f"{len(report.failed):,} providers failed (see above).")
