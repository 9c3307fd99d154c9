"""MID links (issue 7, parts 4 and 5): letters of authorization move to a storage with no URL
under random names (with their original name and detected type recorded), a pending claim can
be WITHDRAWN, and owner consent is recorded on the link (owner_provider, consented_by/at).
"""

import os
import shutil

import agreements.models
import core.storage
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def _move(name, source_root, target_root):
    source = os.path.join(str(source_root), name)
    target = os.path.join(str(target_root), name)
    if os.path.isfile(source) and not os.path.exists(target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.move(source, target)
    return target


def evidence_to_private_storage(apps, schema_editor):
    """Letters uploaded before this migration lived under MEDIA_ROOT: move them to the private
    storage, and record their original name and the type their bytes show. A file that is
    missing stays missing (the download view answers 404)."""
    MidLink = apps.get_model("agreements", "MidLink")
    for link in MidLink.objects.exclude(evidence="").only("pk", "evidence"):
        path = _move(link.evidence.name, settings.MEDIA_ROOT, settings.PRIVATE_MEDIA_ROOT)
        content_type = ""
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                head = handle.read(8)
            content_type = next((t for sig, t in SIGNATURES if head.startswith(sig)), "")
        MidLink.objects.filter(pk=link.pk).update(
            evidence_name=os.path.basename(link.evidence.name)[-255:],
            evidence_content_type=content_type,
        )


def evidence_back_to_media(apps, schema_editor):
    MidLink = apps.get_model("agreements", "MidLink")
    for name in MidLink.objects.exclude(evidence="").values_list("evidence", flat=True):
        _move(name, settings.PRIVATE_MEDIA_ROOT, settings.MEDIA_ROOT)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_lowercase_user_emails"),
        ("agreements", "0004_auditentry_moved_to_core"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="midlink",
            name="agreements_authorized_link_names_owner",
        ),
        migrations.AddField(
            model_name="midlink",
            name="consented_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="midlink",
            name="consented_by",
            field=models.ForeignKey(
                blank=True,
                help_text="The owner's member who approved the request or granted the access.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="midlink",
            name="evidence_content_type",
            field=models.CharField(
                blank=True,
                choices=[("application/pdf", "PDF"), ("image/png", "PNG"), ("image/jpeg", "JPEG")],
                help_text="Detected from the file's content when it was uploaded.",
                max_length=40,
                verbose_name="evidence type",
            ),
        ),
        migrations.AddField(
            model_name="midlink",
            name="evidence_name",
            field=models.CharField(
                blank=True,
                help_text="The name the file had on the uploader's computer (for display only).",
                max_length=255,
                verbose_name="evidence file name",
            ),
        ),
        migrations.AddField(
            model_name="midlink",
            name="owner_provider",
            field=models.ForeignKey(
                blank=True,
                help_text="The registered owner who decides this link (empty: staff decide on a letter).",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="mid_consents",
                to="accounts.provider",
                verbose_name="owner asked for consent",
            ),
        ),
        migrations.AlterField(
            model_name="midlink",
            name="evidence",
            field=models.FileField(
                blank=True,
                help_text="For authorized links: the owner's letter of authorization.",
                storage=core.storage.private_storage,
                upload_to=agreements.models.evidence_upload_to,
            ),
        ),
        migrations.AlterField(
            model_name="midlink",
            name="status",
            field=models.CharField(
                choices=[
                    ("REQUESTED", "Requested"),
                    ("VERIFIED", "Verified"),
                    ("REJECTED", "Rejected"),
                    ("REVOKED", "Revoked"),
                    ("WITHDRAWN", "Withdrawn"),
                ],
                default="REQUESTED",
                max_length=20,
            ),
        ),
        migrations.AddIndex(
            model_name="midlink",
            index=models.Index(fields=["mid", "status"], name="agreements_midlink_mid_status"),
        ),
        migrations.AddConstraint(
            model_name="midlink",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("relation", "OWNED"),
                    ("owner_provider__isnull", False),
                    models.Q(
                        models.Q(("owner_name", ""), _negated=True),
                        models.Q(("owner_crid", ""), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="agreements_authorized_link_names_owner",
            ),
        ),
        migrations.AddConstraint(
            model_name="midlink",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("owner_provider__isnull", True),
                    models.Q(
                        ("relation", "AUTHORIZED_BY_OWNER"),
                        models.Q(("owner_provider", models.F("provider")), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="agreements_consent_owner_is_another_provider",
            ),
        ),
        migrations.AddConstraint(
            model_name="midlink",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("consented_by__isnull", True), ("consented_at__isnull", True)),
                    models.Q(
                        ("owner_provider__isnull", False),
                        ("consented_by__isnull", False),
                        ("consented_at__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="agreements_consent_has_actor_and_time",
            ),
        ),
        # Last, so no ALTER TABLE follows the row updates in this transaction.
        migrations.RunPython(evidence_to_private_storage, evidence_back_to_media),
    ]
