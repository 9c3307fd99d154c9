"""Staff review decisions that need more than the portal's services take.

`mid_link_verify_with_window`: postal staff verify a MID link and set, at the same moment, the
window in which it grants access (the admin's "verify" action). The verification itself is
`mid_link_verify`, unchanged, so its rules (a claim routed to a registered owner is that owner's
to decide; one verified owner per MID) live in one place.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from agreements.models import MidLink
from agreements.services.mid_links import mid_link_verify
from core.audit import audit_record
from core.errors import DomainError


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@transaction.atomic
def mid_link_verify_with_window(
    *,
    link: MidLink,
    actor: User,
    reason: str,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> MidLink:
    """REQUESTED -> VERIFIED, granting access from `valid_from` (default: now) until
    `valid_until` (default: no end).

    The window is written first, under the row lock and with its own audit entry
    (`mid_link_window_set`, holding the window staff set and the one the claimant asked for),
    then `mid_link_verify` moves the status and writes the `mid_link_verify` entry. Both are one
    transaction: when the verification is refused (the link changed meanwhile, the MID already
    has a verified owner, the claim waits for its owner's consent) nothing is kept, the window
    included. The reason is required: it is recorded and sent to the provider.
    """
    reason = reason.strip()
    if not reason:
        raise DomainError(f"A reason is required to verify {link}.", field="reason")
    valid_from = valid_from or timezone.now()
    if valid_until is not None and valid_until <= valid_from:
        raise DomainError(
            "The link's end must be after its start: leave it empty for no end.",
            field="valid_until",
        )
    locked = MidLink.objects.select_for_update(no_key=True).get(pk=link.pk)
    asked = {"valid_from": _iso(locked.valid_from), "valid_until": _iso(locked.valid_until)}
    locked.valid_from, locked.valid_until = valid_from, valid_until
    locked.save(update_fields=["valid_from", "valid_until"])
    audit_record(
        subject=locked,
        action="mid_link_window_set",
        actor=actor,
        provider_id=locked.provider_id,
        from_status=locked.status,
        to_status=locked.status,
        reason=reason,
        extra={
            "mid": locked.mid,
            "relation": locked.relation,
            "valid_from": _iso(valid_from),
            "valid_until": _iso(valid_until),
            "requested_window": asked,
        },
    )
    # Raises (rolling the window back with it) when the verification is refused.
    verified = mid_link_verify(link=link, actor=actor, reason=reason)
    verified.valid_from, verified.valid_until = valid_from, valid_until
    return verified
