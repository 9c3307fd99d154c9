from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from core.otp import base32_secret, staff_totp_enrol, staff_user_for_email


class Command(BaseCommand):
    help = (
        "Enrol a TOTP authenticator for a staff member, who needs it to sign in to /admin/. "
        "Prints the secret and an otpauth:// URI once; give them over a trusted channel."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="the staff member's e-mail address")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="replace their existing authenticator (a lost phone): the old one stops working",
        )

    def handle(self, *args, **options):
        try:
            user = staff_user_for_email(options["email"])
            self.stdout.write(f"Enrolling a TOTP authenticator for {user} ...")
            device = staff_totp_enrol(user=user, replace=options["replace"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"Done: {user} now signs in to /admin/ with a code."))
        self.stdout.write(
            "Add it to an authenticator app (shown once, keep it secret):\n"
            f"  secret (base32): {base32_secret(device)}\n"
            f"  otpauth URI:     {device.config_url}\n"
            "Then sign in at /admin/ with the e-mail, the password and the app's 6-digit code."
        )
