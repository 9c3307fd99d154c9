"""Lowercase every stored e-mail address (issue 6): the admin forms used to save them as typed.

Cannot collide: the accounts_user_email_ci_unique constraint already keeps Lower("email")
unique, and this writes exactly that value.
"""

from django.db import migrations
from django.db.models.functions import Lower


def lowercase_user_emails(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    User.objects.exclude(email=Lower("email")).update(email=Lower("email"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_provider_membership"),
    ]

    operations = [
        migrations.RunPython(
            lowercase_user_emails, reverse_code=migrations.RunPython.noop, elidable=True
        ),
    ]
