import json

from django.core.management.base import BaseCommand, CommandError

from accounts.demo import DemoDataRefused, seed_demo


class Command(BaseCommand):
    help = "Create the demo data (idempotent). Refuses to run under production settings."

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", help="print what exists as machine-readable JSON"
        )

    def handle(self, *args, **options):
        try:
            report = seed_demo()
        except DemoDataRefused as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, sort_keys=True))
            return
        self.stdout.write(self.style.MIGRATE_HEADING("Demo data"))
        self._print_report(report)

    def _print_report(self, report) -> None:
        for user in report.users:
            state = "created" if user.created else "already there"
            self.stdout.write(
                f"  {user.role:<22} {user.email:<32} password: {user.password}  ({state})"
            )
        if not report.created_anything:
            self.stdout.write("  Nothing new: the demo data was already in place.")
