"""Agreement versions: drafts, publication (which freezes the text) and text hashes."""

import hashlib
import json
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.constants import ProviderType
from accounts.models import User
from agreements.models import AgreementVersion
from core import access_cache
from core.audit import audit_record
from core.errors import (
    DomainError,
    ImmutableRecord,
    unique_violations_as_domain_errors,
    validate,
)

VERSION_EDITABLE_FIELDS = frozenset(
    {"label", "text", "effective_at", "reacceptance_days", "applies_to"}
)


# PostgreSQL's name for the UNIQUE column constraint Django creates for `label`.
LABEL_CONSTRAINT = "agreements_agreementversion_label_key"


def _label_taken(label: str) -> DomainError:
    return DomainError(
        f"An agreement version labelled {label!r} already exists; choose another label.",
        field="label",
    )


def canonical_text(text: str) -> str:
    """The form that is hashed: NFC, \\n line endings, no trailing spaces, one final newline.

    Cosmetic differences (a CRLF from a browser textarea, trailing blanks) must not change the
    hash, but any visible change to the wording must.
    """
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def text_sha256(text: str) -> str:
    return hashlib.sha256(canonical_text(text).encode("utf-8")).hexdigest()


DRAFT_CHANGED = "This draft changed since you opened it; reload"


def agreement_version_fingerprint(version: AgreementVersion) -> str:
    """A digest of what an editor loaded: the text's SHA-256 and the other editable fields.

    The admin posts it back with an edit; agreement_version_update compares it under the row
    lock, so a save never silently overwrites another reviewer's edit made meanwhile.
    """
    loaded = {
        "text_sha256": text_sha256(version.text),
        "label": version.label,
        "effective_at": version.effective_at.isoformat(),
        "reacceptance_days": version.reacceptance_days,
        "applies_to": sorted(version.applies_to),
    }
    return hashlib.sha256(json.dumps(loaded, sort_keys=True).encode("utf-8")).hexdigest()


def _validate_applies_to(applies_to: Iterable[str]) -> list[str]:
    values = sorted(set(applies_to))
    unknown = [value for value in values if value not in ProviderType.values]
    if not values or unknown:
        raise DomainError(
            "An agreement version must apply to at least one provider type out of "
            f"{', '.join(ProviderType.values)}"
            + (f"; unknown: {', '.join(unknown)}." if unknown else ".")
        )
    return values


@transaction.atomic
def agreement_version_create(
    *,
    label: str,
    text: str,
    effective_at: datetime,
    applies_to: Iterable[str],
    reacceptance_days: int = 30,
    actor: User | None = None,
) -> AgreementVersion:
    """A draft version; it can be edited until it is published."""
    version = AgreementVersion(
        label=label.strip(),
        text=canonical_text(text),
        effective_at=effective_at,
        applies_to=_validate_applies_to(applies_to),
        reacceptance_days=reacceptance_days,
    )
    duplicate = _label_taken(version.label)
    if AgreementVersion.objects.filter(label=version.label).exists():
        raise duplicate
    validate(version)
    with unique_violations_as_domain_errors({LABEL_CONSTRAINT: duplicate}):
        version.save()
    audit_record(
        subject=version,
        action="agreement_version_create",
        actor=actor,
        provider_id=None,
        extra={"label": version.label},
    )
    return version


@transaction.atomic
def agreement_version_update(
    *,
    version: AgreementVersion,
    actor: User | None = None,
    expected_fingerprint: str | None = None,
    **changes: Any,
) -> AgreementVersion:
    """Edit a draft. A published version is immutable: refused, nothing changes.

    `expected_fingerprint` (agreement_version_fingerprint of the draft as the editor loaded
    it): refused, nothing changes, when the draft changed since.
    """
    unknown = set(changes) - VERSION_EDITABLE_FIELDS
    if unknown:
        raise DomainError(f"These fields cannot be edited: {', '.join(sorted(unknown))}.")
    locked = AgreementVersion.objects.select_for_update(no_key=True).get(pk=version.pk)
    if locked.is_published:
        raise ImmutableRecord(
            f"{locked} was published on {locked.published_at:%Y-%m-%d %H:%M} UTC and can no "
            "longer be changed; publish a new version instead."
        )
    if expected_fingerprint is not None and expected_fingerprint != agreement_version_fingerprint(
        locked
    ):
        raise DomainError(f"{DRAFT_CHANGED} it and make your edit again. Nothing was saved.")
    if "text" in changes:
        changes["text"] = canonical_text(changes["text"])
    if "applies_to" in changes:
        changes["applies_to"] = _validate_applies_to(changes["applies_to"])
    for field, value in changes.items():
        setattr(locked, field, value)
    duplicate = _label_taken(locked.label)
    if AgreementVersion.objects.filter(label=locked.label).exclude(pk=locked.pk).exists():
        raise duplicate
    validate(locked)
    with unique_violations_as_domain_errors({LABEL_CONSTRAINT: duplicate}):
        locked.save(update_fields=sorted(changes))
    audit_record(
        subject=locked,
        action="agreement_version_update",
        actor=actor,
        provider_id=None,
        extra={"fields": sorted(changes)},
    )
    return locked


@transaction.atomic
def agreement_version_publish(
    *,
    version: AgreementVersion,
    actor: User | None = None,
    expected_text_sha256: str | None = None,
) -> AgreementVersion:
    """Freeze the text, record its hash and make it signable. Affects every provider's access.

    `expected_text_sha256` (the hash of the text the publisher was shown): refused, nothing
    changes, unless the draft's text still hashes to it.
    """
    locked = AgreementVersion.objects.select_for_update(no_key=True).get(pk=version.pk)
    if locked.is_published:
        raise ImmutableRecord(f"{locked} is already published.")
    digest = text_sha256(locked.text)
    if expected_text_sha256 is not None and expected_text_sha256 != digest:
        raise DomainError(
            f"{locked}'s text changed since the confirmation page showed it (it now hashes to "
            f"{digest[:12]}…); nothing was published. Open the page again, read the text and "
            "confirm."
        )
    locked.published_at = timezone.now()
    locked.text_sha256 = digest
    locked.save(update_fields=["published_at", "text_sha256"])
    audit_record(
        subject=locked,
        action="agreement_version_publish",
        actor=actor,
        provider_id=None,
        extra={"text_sha256": locked.text_sha256, "effective_at": locked.effective_at.isoformat()},
    )
    access_cache.bump_all()
    return locked
