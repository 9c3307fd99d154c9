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
        data = report.tracking_data
        self.stdout.write(
            f"  Tracking store: {data['pieces_per_mid']} generated pieces for each of the MIDs "
            f"{', '.join(data['mids'])}, plus an S10 and a retail (95) piece "
            f"({data['pieces_created']} pieces and {data['events_imported']} events new now)."
        )
        self.stdout.write("  API clients (POST /oauth2/v3/token, grant_type=client_credentials):")
        for client in report.api_clients:
            secret = client["client_secret"] or "(changed since the demo made it: not shown)"
            self.stdout.write(
                f"    {client['provider']:<22} client_id: {client['client_id']:<22} "
                f"client_secret: {secret}\n"
                f"    {'':<22} scope: {client['scope']}, quota: "
                f"{client['quota_per_hour']:,} calls/hour ({client['status'].lower()})"
            )
        self.stdout.write("  Try these tracking numbers:")
        for sample in report.sample_tracking_numbers:
            verdict = "allowed" if sample["allowed"] else "denied: " + ", ".join(sample["reasons"])
            stored = "in the store" if sample["stored"] else "not in the store"
            self.stdout.write(
                f"    {sample['tracking_number']:<36} as {sample['provider']:<20} "
                f"MID {sample['mid'] or '-':<9}  {verdict}; {stored}"
            )
        self._print_billing(report.billing)
        if not report.created_anything:
            self.stdout.write("  Nothing new: the demo data was already in place.")

    def _print_billing(self, billing) -> None:
        self.stdout.write("  Billing:")
        for schedule in billing["fee_schedules"]:
            overage = ""
            if schedule["included_calls"] is not None:
                overage = (
                    f", {schedule['included_calls']:,} calls included, then "
                    f"{schedule['overage_cents_per_1000']} cents per 1,000"
                )
            self.stdout.write(
                f"    fee {schedule['provider_type']:<17} {schedule['monthly_fee']}/month from "
                f"{schedule['effective_from']}{overage}"
            )
        card = billing["card"]
        if card:
            self.stdout.write(
                f"    card of {card['provider']}: {card['brand']} ending {card['last4']} "
                f"(Stripe customer {card['stripe_customer_id']})"
            )
        else:
            self.stdout.write(f"    {billing['card_note']}")
        for invoice in billing["invoices"]:
            state = invoice["status"].lower() + (", overdue" if invoice["overdue"] else "")
            self.stdout.write(
                f"    invoice {invoice['number']} {invoice['provider']:<22} {invoice['period']} "
                f"{invoice['total']:>10} {state} (due {invoice['due_on']}) {invoice['portal_url']}"
            )
        for hold in billing["billing_holds"]:
            self.stdout.write(f"    {hold['provider']} is on billing hold: {hold['reason']}")
