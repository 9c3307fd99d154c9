"""E-mails about Mailer ID consent, sent after the deciding transaction commits."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.permissions import Permission, role_can
from agreements.models import MidLink


def consent_request_notify(*, link_id: int) -> None:
    """Tell the owner's members who decide on consents that a request waits for them."""
    link = MidLink.objects.select_related("provider", "owner_provider").get(pk=link_id)
    owner = link.owner_provider
    if owner is None:
        return
    recipients = sorted(
        membership.user.email
        for membership in owner.memberships.select_related("user")
        if role_can(membership.role, Permission.MANAGE_CONSENTS)
    )
    if not recipients:
        return
    context = {
        "link": link,
        "owner": owner,
        "requester": link.provider,
        "url": settings.PORTAL_BASE_URL.rstrip("/") + reverse("agreements:consents"),
    }
    send_mail(
        subject=f"{link.provider.legal_name} asks to read MID {link.mid}",
        message=render_to_string("agreements/email/consent_request.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
