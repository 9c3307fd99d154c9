"""Reads for the staff review of agreements, their schedule lines and agreement versions: the
admin's pending counts, the text hash check and the acceptance counts per version.

Postal staff see every provider's records, so nothing here is scoped to a tenant; the admin's
permissions decide who reaches them.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import (
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Least

from accounts.models import Membership
from accounts.selectors import PendingCount, pending_count, provider_membership_of
from agreements.constants import AgreementStatus, ScheduleLineStatus
from agreements.models import Agreement, AgreementScheduleLine, AgreementVersion
from agreements.services.versions import text_sha256

# A provider "has accepted" a version when staff approved its signature on it: the agreement
# is APPROVED (in force), or was approved and has since been SUSPENDED, SUPERSEDED by a newer
# version's approval, or TERMINATED. SUBMITTED (awaiting review) and REJECTED never count.
ACCEPTED_STATUSES = (
    AgreementStatus.APPROVED,
    AgreementStatus.SUSPENDED,
    AgreementStatus.SUPERSEDED,
    AgreementStatus.TERMINATED,
)


def schedule_lines_pending_review() -> PendingCount:
    """Schedule lines awaiting staff review; a line waits from its agreement's signature."""
    return pending_count(
        AgreementScheduleLine.objects.filter(status=ScheduleLineStatus.REQUESTED),
        since="agreement__signed_at",
    )


def agreement_versions_in_draft() -> PendingCount:
    """Versions not yet published, the oldest by the time its draft was started."""
    return pending_count(
        AgreementVersion.objects.filter(published_at__isnull=True), since="created_at"
    )


def agreement_queue_summary() -> tuple[PendingCount, PendingCount]:
    """Signatures awaiting review, and schedule lines awaiting review (a line waits from its
    agreement's signature), in one query."""
    submitted = Q(status=AgreementStatus.SUBMITTED)
    requested = Q(schedule_lines__status=ScheduleLineStatus.REQUESTED)
    row = Agreement.objects.aggregate(
        agreements=Count("pk", filter=submitted, distinct=True),
        agreements_oldest=Min("signed_at", filter=submitted),
        lines=Count("schedule_lines", filter=requested),
        lines_oldest=Min("signed_at", filter=requested),
    )
    return (
        PendingCount(count=row["agreements"], oldest=row["agreements_oldest"]),
        PendingCount(count=row["lines"], oldest=row["lines_oldest"]),
    )


def agreements_for_review(queryset: QuerySet[Agreement]) -> QuerySet[Agreement]:
    """`queryset` with `lines_to_review`: how many of each agreement's schedule lines wait for
    a decision (a subquery: no query per row, and the list's count ignores it)."""
    requested = (
        AgreementScheduleLine.objects.filter(
            agreement=OuterRef("pk"), status=ScheduleLineStatus.REQUESTED
        )
        .order_by()
        .values("agreement")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return queryset.annotate(
        lines_to_review=Coalesce(Subquery(requested, output_field=IntegerField()), 0)
    )


@dataclass(frozen=True)
class TextHashCheck:
    """Is the version's text, as stored now, provably the text the signer was shown?

    Three SHA-256 digests of the canonical text (agreements.services.canonical_text):
    `recomputed` from the version's text now, `published` recorded when the version was
    published, `signed` recorded with the signature (the text the signer's page showed).
    """

    recomputed: str
    published: str
    signed: str

    @property
    def matches(self) -> bool:
        return self.recomputed == self.published == self.signed

    @property
    def problems(self) -> list[str]:
        """What does not match, in words for the reviewer (empty when everything matches)."""
        found = []
        if not self.published:
            found.append("The version has no published digest: it was never published.")
        elif self.recomputed != self.published:
            found.append(
                "The version's text no longer hashes to the digest recorded when it was "
                "published: the stored text has changed since."
            )
        if self.signed != self.published:
            found.append(
                "The signature records another digest than the published version's: the "
                "signer was not shown the published text."
            )
        return found


def agreement_text_hash_check(*, agreement: Agreement) -> TextHashCheck:
    """Recompute the hash of the signed version's text and compare it with the recorded ones."""
    version = agreement.version
    return TextHashCheck(
        recomputed=text_sha256(version.text),
        published=version.text_sha256,
        signed=agreement.signed_text_sha256,
    )


def agreement_signer_membership(*, agreement: Agreement) -> Membership | None:
    """The signer's membership in the agreement's provider today (None: no longer a member)."""
    return provider_membership_of(provider_id=agreement.provider_id, user=agreement.signer)


# The latest deadline shown. The services bound effective_at and reacceptance_days, but a row
# written around them (9999-12-31) must not push the deadline past what Python's datetime (and
# so psycopg) can hold, in any time zone: the deadline is capped here, in Python and in SQL.
DEADLINE_CAP = datetime(9999, 12, 31, tzinfo=UTC)
# Keeps `effective_at + days` inside PostgreSQL's range before the cap applies.
DEADLINE_MAX_DAYS = 1_000_000


def reacceptance_deadline(version: AgreementVersion) -> datetime:
    """Until when holders of an older version keep access once this one is in effect
    (effective_at + reacceptance_days, at most DEADLINE_CAP)."""
    days = min(version.reacceptance_days, DEADLINE_MAX_DAYS)
    try:
        deadline = version.effective_at + timedelta(days=days)
    except OverflowError:
        return DEADLINE_CAP
    return min(deadline, DEADLINE_CAP)


def versions_for_review(queryset: QuerySet[AgreementVersion]) -> QuerySet[AgreementVersion]:
    """`queryset` with, per version (one aggregate query, no query per row):

    - `accepted_count`: providers whose signature on it staff approved (ACCEPTED_STATUSES);
    - `in_force_count`: providers whose agreement on it is APPROVED now;
    - `awaiting_count`: providers whose signature on it awaits review (SUBMITTED);
    - `deadline`: the re-acceptance deadline, as reacceptance_deadline computes it.
    """
    provider = "agreements__provider"
    status = "agreements__status"
    return queryset.annotate(
        accepted_count=Count(
            provider, filter=Q(**{f"{status}__in": ACCEPTED_STATUSES}), distinct=True
        ),
        in_force_count=Count(
            provider, filter=Q(**{status: AgreementStatus.APPROVED}), distinct=True
        ),
        awaiting_count=Count(
            provider, filter=Q(**{status: AgreementStatus.SUBMITTED}), distinct=True
        ),
        deadline=Least(
            ExpressionWrapper(
                F("effective_at")
                + Least(F("reacceptance_days"), Value(DEADLINE_MAX_DAYS))
                * Value(timedelta(days=1)),
                output_field=DateTimeField(),
            ),
            Value(DEADLINE_CAP, output_field=DateTimeField()),
            output_field=DateTimeField(),
        ),
    )
