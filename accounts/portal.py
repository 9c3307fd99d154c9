"""The base every portal page builds on: signed in, acting for a provider, allowed by role.

A page names the Permission it needs. Without a provider the user is sent to create one; a
role without the permission gets 403. Objects are always fetched through selectors scoped to
`self.provider`, so another provider's ids answer 404, never 403 (which would confirm they
exist).
"""

import ipaddress
import uuid

from allauth.core.internal.httpkit import get_client_ip as allauth_client_ip
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.shortcuts import redirect
from django.views import View

from accounts.models import Membership, Provider
from accounts.permissions import Permission
from core.errors import DomainError


class PortalView(LoginRequiredMixin, View):
    permission: str = Permission.VIEW
    needs_provider: bool = True

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if self.needs_provider:
            if request.portal.membership is None:
                messages.info(request, "Start by telling us about your organisation.")
                return redirect("accounts:organisation_create")
            if not request.portal.can(self.permission):
                raise PermissionDenied(
                    f"Your role ({request.portal.membership.get_role_display()}) cannot "
                    f"{Permission(self.permission).label}."
                )
        return super().dispatch(request, *args, **kwargs)

    @property
    def membership(self) -> Membership:
        return self.request.portal.membership

    @property
    def provider(self) -> Provider:
        return self.request.portal.provider

    def form_error(self, form, exc: DomainError) -> None:
        """Put a service's refusal on the form's fields (or on the form as a whole)."""
        errors = {
            field if field in form.fields else None: texts
            for field, texts in exc.field_errors.items()
        }
        for field, texts in errors.items():
            for text in texts:
                form.add_error(field, text)


SUBMISSION_TTL_SECONDS = 24 * 60 * 60


def new_submission_token() -> str:
    return uuid.uuid4().hex


def claim_submission(request, token: str) -> bool:
    """True the first time this user sends a form with this one-time token; False for a
    double submit (a second click, a resent POST). Redis's SET NX makes it atomic across
    workers. If Redis is unreachable the submission goes ahead: services still refuse what
    their unique constraints forbid."""
    try:
        return cache.add(_submission_key(request, token), True, timeout=SUBMISSION_TTL_SECONDS)
    except Exception:  # noqa: BLE001 - a double-submit guard must not block the real one
        return True


def release_submission(request, token: str) -> None:
    """The service refused the submission: let the corrected form be sent with the same token."""
    try:
        cache.delete(_submission_key(request, token))
    except Exception:  # noqa: BLE001, S110 - expires on its own
        pass


def _submission_key(request, token: str) -> str:
    return f"portal:submission:{request.user.pk}:{token[:64]}"


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or, behind DJANGO_TRUSTED_PROXY_COUNT proxies, the
    X-Forwarded-For entry the outermost trusted proxy added (allauth's rule, so rate limits
    and recorded signatures agree). Anything unparseable is None, never a guess."""
    try:
        address = allauth_client_ip(request)
    except (ImproperlyConfigured, PermissionDenied):
        # Fewer X-Forwarded-For entries than trusted proxies: the header is not trustworthy.
        address = request.META.get("REMOTE_ADDR")
    try:
        return str(ipaddress.ip_address((address or "").strip()))
    except ValueError:
        return None
