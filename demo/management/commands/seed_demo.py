import json

from django.core.management.base import BaseCommand, CommandError

from demo.seed import DemoDataRefused, seed_demo


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
        self.stdout.write("  Logins:")
        for user in report.users:
            state = "created" if user["created"] else "already there"
            self.stdout.write(
                f"    {user['email']:<34} password: {user['password']:<18} {user['role']} ({state})"
            )
            if user.get("otpauth_uri"):
                self.stdout.write(f"      authenticator: {user['otpauth_uri']}")
        if report.totp:
            self.stdout.write(
                "  Staff sign in to /admin/ with a TOTP code too (development secret, all demo "
                f"staff): {report.totp['secret']}\n"
                f"    current code: oathtool --totp -b {report.totp['secret']}\n"
                f"              or: {report.totp['code_command']}"
            )
        self.stdout.write("  Waiting for staff review:")
        for item in report.pending_review:
            self.stdout.write(f"    {item['queue']:<19} {item['status']:<15} {item['what']}")
        self.stdout.write("  Providers:")
        for provider in report.providers:
            mids = ", ".join(f"{m['mid']} {m['relation'].lower()}" for m in provider["mid_links"])
            self.stdout.write(
                f"    {provider['legal_name']:<22} {provider['provider_type']:<17} "
                f"{provider['status']:<15} MIDs: {mids or '-'}"
            )
        self.stdout.write("  Try these tracking numbers (as Parcel Insights):")
        for sample in report.sample_tracking_numbers:
            verdict = "allowed" if sample["allowed"] else "denied: " + ", ".join(sample["reasons"])
            self.stdout.write(f"    {sample['tracking_number']:<28} {verdict}")
        if not report.created_anything:
            self.stdout.write("  Nothing new: the demo data was already in place.")
