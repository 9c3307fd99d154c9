"""API apps: create (the secret is shown once), rotate the secret with an overlap, revoke."""

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from accounts.constants import ProviderStatus
from accounts.models import Provider
from core.audit import audit_record
from core.errors import DomainError
from core.transitions import transition
from tracking import credentials_cache
from tracking.constants import API_APP_TRANSITIONS, DEFAULT_APP_SCOPES, SCOPES, ApiAppStatus
from tracking.models import ApiApp

MAX_ACTIVE_APPS_PER_PROVIDER = 20


@dataclass(frozen=True)
class IssuedSecret:
    """A freshly made client secret: the only time it exists in clear text."""

    app: ApiApp
    client_id: str
    client_secret: str


def _new_secret() -> str:
    return secrets.token_urlsafe(36)


def app_create(
    *,
    provider: Provider,
    name: str,
    actor: Any | None,
    scopes: tuple[str, ...] = DEFAULT_APP_SCOPES,
) -> IssuedSecret:
    """Create an OAuth client-credentials app for `provider`. The clear secret is returned
    once and stored only hashed."""
    name = " ".join(name.split())
    if not name:
        raise DomainError("Give the app a name.", field="name")
    if len(name) > 100:
        raise DomainError("The name can be at most 100 characters.", field="name")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise DomainError(f"Unknown scopes: {', '.join(unknown) or 'none given'}.", field="scopes")
    with transaction.atomic():
        locked = Provider.objects.select_for_update(no_key=True).get(pk=provider.pk)
        if locked.status == ProviderStatus.CLOSED:
            raise DomainError("This organisation is closed; it cannot create API apps.")
        active = ApiApp.objects.filter(provider=provider, status=ApiAppStatus.ACTIVE)
        if active.filter(name=name).exists():
            raise DomainError(f"An active app is already named “{name}”.", field="name")
        if active.count() >= MAX_ACTIVE_APPS_PER_PROVIDER:
            raise DomainError(
                f"A provider can have at most {MAX_ACTIVE_APPS_PER_PROVIDER} active apps; "
                "revoke one you no longer use first."
            )
        secret = _new_secret()
        application = Application.objects.create(
            name=f"{provider.pk}: {name}"[:255],
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            client_secret=secret,  # hashed on save (hash_client_secret)
            user=None,
            skip_authorization=True,
        )
        app = ApiApp.objects.create(
            provider=provider,
            application=application,
            name=name,
            scope=" ".join(scopes),
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        audit_record(
            subject=app,
            action="api_app_create",
            actor=actor,
            provider_id=provider.pk,
            to_status=app.status,
            extra={"client_id": application.client_id, "scope": app.scope},
        )
    return IssuedSecret(app=app, client_id=application.client_id, client_secret=secret)


def app_rotate_secret(*, app: ApiApp, actor: Any | None) -> IssuedSecret:
    """Issue a new secret. The previous one keeps working for
    API_SECRET_ROTATION_OVERLAP_HOURS; a second rotation ends that overlap at once."""
    now = timezone.now()
    overlap = timedelta(hours=settings.API_SECRET_ROTATION_OVERLAP_HOURS)
    with transaction.atomic():
        locked = ApiApp.objects.select_for_update(no_key=True).get(pk=app.pk)
        if locked.status != ApiAppStatus.ACTIVE:
            raise DomainError(f"“{locked.name}” is revoked; create a new app instead.")
        application = Application.objects.select_for_update().get(pk=locked.application_id)
        secret = _new_secret()
        locked.previous_secret = application.client_secret  # already a hash
        locked.previous_secret_expires_at = now + overlap
        locked.secret_rotated_at = now
        locked.save(
            update_fields=["previous_secret", "previous_secret_expires_at", "secret_rotated_at"]
        )
        application.client_secret = secret
        application.save(update_fields=["client_secret", "updated"])
        audit_record(
            subject=locked,
            action="api_app_rotate_secret",
            actor=actor,
            provider_id=locked.provider_id,
            extra={"previous_secret_valid_until": locked.previous_secret_expires_at.isoformat()},
        )
    return IssuedSecret(app=locked, client_id=application.client_id, client_secret=secret)


def app_revoke(*, app: ApiApp, actor: Any | None, reason: str = "") -> ApiApp:
    """Revoke the app: its secrets stop working and its tokens stop at once."""
    with transaction.atomic():
        revoked = transition(
            instance=app,
            to_status=ApiAppStatus.REVOKED,
            table=API_APP_TRANSITIONS,
            action="revoke_api_app",
            actor=actor,
            reason=reason,
            changes={
                "revoked_at": timezone.now(),
                "previous_secret": "",
                "previous_secret_expires_at": None,
            },
            provider_id_of=lambda a: a.provider_id,
            decision_fields=False,
        )
        tokens = AccessToken.objects.filter(application_id=revoked.application_id)
        checksums = list(tokens.values_list("token_checksum", flat=True))
        tokens.delete()
        # A fresh, unguessable secret: no old value is ever accepted again.
        Application.objects.filter(pk=revoked.application_id).update(
            client_secret=make_password(_new_secret())
        )
        # Inside the transaction: if the cache cannot be cleared, the revocation fails and
        # says so, rather than leaving a cached token working.
        credentials_cache.revoke_tokens(checksums)
        # And again once committed: a request that read a token row before the delete
        # committed may have cached it in between.
        transaction.on_commit(lambda: credentials_cache.revoke_tokens(checksums), robust=True)
    return revoked
