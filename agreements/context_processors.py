"""Banners shown on every portal page (templates/base.html renders `portal_banners`).

The list is lazy: nothing is queried unless a template iterates it, so the admin, e-mails and
any page that does not show banners cost nothing. When shown it costs at most two queries (the
provider's live signatures, then, only if one is approved, the versions in effect), on top of
the memberships every portal page loads anyway.
"""

from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.functional import SimpleLazyObject

from accounts.permissions import Permission
from agreements.selectors.agreements import ReacceptanceNotice, reacceptance_notice


def reacceptance_banner(request):
    """`portal_banners`: the IP agreement re-acceptance warning, for members who can sign."""
    return {"portal_banners": SimpleLazyObject(lambda: _banners(request))}


def _banners(request) -> list[dict[str, str]]:
    portal = getattr(request, "portal", None)
    user = getattr(request, "user", None)
    if portal is None or user is None or not user.is_authenticated:
        return []
    if not portal.can(Permission.SIGN_AGREEMENTS):  # no membership (no provider) -> False
        return []
    notice = reacceptance_notice(provider=portal.provider)
    if notice is None:
        return []
    return [_as_banner(notice)]


def _as_banner(notice: ReacceptanceNotice) -> dict[str, str]:
    deadline = dateformat.format(timezone.localtime(notice.deadline), "j F Y, H:i T")
    label = notice.version_label
    if notice.agreement_required:
        consequence = "tracking data stops being served for this organisation"
        stopped = "tracking data is no longer served for this organisation"
    else:
        consequence = "the Mailer IDs on your agreement's schedule lines stop working"
        stopped = "the Mailer IDs on your agreement's schedule lines no longer work"
    if notice.lapsed and notice.pending_review:
        heading = "Access has stopped until your new IP agreement is approved"
        text = (
            f"The re-acceptance deadline for IP agreement {label} passed on {deadline}, so "
            f"{stopped}. Your signature of {label} awaits review by postal staff; access "
            "resumes once they approve it."
        )
    elif notice.lapsed:
        heading = "Access has stopped: re-accept the IP agreement"
        text = (
            f"A new IP agreement ({label}) is in effect and the re-acceptance deadline passed on "
            f"{deadline}, so {stopped}. Sign {label} to restore access."
        )
    elif notice.pending_review:
        heading = f"IP agreement {label} awaits review"
        text = (
            f"A new IP agreement ({label}) is in effect and your signature awaits review by "
            f"postal staff. If it is not approved by {deadline}, {consequence}."
        )
    else:
        heading = f"Re-accept the new IP agreement ({label})"
        text = (
            f"A new IP agreement ({label}) is in effect. Re-accept it by {deadline}; after "
            f"that, {consequence}."
        )
    return {
        "heading": heading,
        "text": text,
        "url": reverse("agreements:agreement"),
        "link_text": f"Read and sign {label}"
        if not notice.pending_review
        else "See your IP agreement",
    }
