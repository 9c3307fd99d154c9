"""Reads for the staff review of MID links: the admin's queue, its pending counts and the
conflicts panel (agreements.selectors.review holds the other queues').

Postal staff see every provider's links, so nothing here is scoped to a tenant; the admin's
permissions decide who reaches them."""

from dataclasses import dataclass

from django.db.models import (
    Case,
    Count,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.functions import Coalesce

from accounts.selectors import PendingCount
from agreements.constants import MID_LINK_OPEN_STATUSES, MidLinkStatus, MidRelation
from agreements.models import MidLink

# The conflicts panel lists at most this many other claims (a MID rarely has more than a few).
CONFLICTS_SHOWN = 50


def _other_providers_open_links() -> QuerySet[MidLink]:
    """Other providers' open (REQUESTED or VERIFIED) links to the outer row's MID."""
    return MidLink.objects.filter(mid=OuterRef("mid"), status__in=MID_LINK_OPEN_STATUSES).exclude(
        provider_id=OuterRef("provider_id")
    )


def mid_links_for_review() -> QuerySet[MidLink]:
    """Every MID link, with `other_open_claims`: how many other providers hold or claim the same
    MID (one subquery, so the queue costs no query per row)."""
    others = (
        _other_providers_open_links().order_by().values("mid").annotate(n=Count("pk")).values("n")
    )
    return MidLink.objects.select_related("provider", "owner_provider").annotate(
        other_open_claims=Coalesce(Subquery(others, output_field=IntegerField()), 0)
    )


def mid_links_pending_review() -> tuple[PendingCount, PendingCount]:
    """Pending claims (REQUESTED, waiting since they were made), in one query: those staff
    decide (an OWNED claim, or one on an owner's letter), and those routed to the MID's
    registered owner for consent (staff can only reject these)."""
    for_staff = Q(owner_provider__isnull=True)
    row = MidLink.objects.filter(status=MidLinkStatus.REQUESTED).aggregate(
        staff=Count("pk", filter=for_staff),
        staff_oldest=Min("requested_at", filter=for_staff),
        owner=Count("pk", filter=~for_staff),
        owner_oldest=Min("requested_at", filter=~for_staff),
    )
    return (
        PendingCount(count=row["staff"], oldest=row["staff_oldest"]),
        PendingCount(count=row["owner"], oldest=row["owner_oldest"]),
    )


@dataclass(frozen=True)
class MidConflicts:
    """What else is going on with a link's MID, for the reviewer deciding on it."""

    # The MID's VERIFIED OWNED link, when another provider holds it (whatever that provider's
    # status: verifying a second owner is refused until this link is revoked).
    owner: MidLink | None
    # Other providers' open claims on the MID (REQUESTED or VERIFIED, either relation), `owner`
    # excepted, oldest first, at most CONFLICTS_SHOWN of them.
    open_claims: list[MidLink]
    more_claims: bool
    # For a claim on an owner's letter, whether the CRID the letter names is the registered
    # owner's; None when there is nothing to compare.
    letter_crid_matches_owner: bool | None

    @property
    def any(self) -> bool:
        return self.owner is not None or bool(self.open_claims)


def mid_link_conflicts(*, link: MidLink) -> MidConflicts:
    """The conflicts panel of one link (one query)."""
    is_owner = Q(relation=MidRelation.OWNED, status=MidLinkStatus.VERIFIED)
    others = list(
        MidLink.objects.filter(mid=link.mid, status__in=MID_LINK_OPEN_STATUSES)
        .exclude(provider_id=link.provider_id)
        .select_related("provider")
        # The owner first (at most one: a unique index), so the limit never hides it.
        .order_by(
            Case(When(is_owner, then=0), default=1, output_field=IntegerField()),
            "requested_at",
            "pk",
        )[: CONFLICTS_SHOWN + 2]
    )
    owner = next(
        (
            other
            for other in others
            if other.relation == MidRelation.OWNED and other.status == MidLinkStatus.VERIFIED
        ),
        None,
    )
    claims = [other for other in others if other is not owner]
    matches: bool | None = None
    if (
        owner is not None
        and link.relation == MidRelation.AUTHORIZED_BY_OWNER
        and link.owner_crid
        and owner.provider.crid
    ):
        matches = link.owner_crid == owner.provider.crid
    return MidConflicts(
        owner=owner,
        open_claims=claims[:CONFLICTS_SHOWN],
        more_claims=len(claims) > CONFLICTS_SHOWN,
        letter_crid_matches_owner=matches,
    )
