"""Reads for the provider dashboard: the onboarding checklist and the access panel."""

from dataclasses import dataclass
from typing import Literal

from django.apps import apps
from django.db.models import Exists, OuterRef, Subquery
from django.urls import reverse
from django.utils.timezone import localdate

from accounts.constants import ProviderStatus
from accounts.models import Provider
from agreements.constants import (
    AGREEMENT_REQUIRED_TYPES,
    AgreementStatus,
    MidLinkStatus,
    ScheduleLineStatus,
)
from agreements.decision import Decision, decide_many
from agreements.models import Agreement, AgreementScheduleLine, MidLink

StepState = Literal["done", "pending", "todo", "blocked", "not_needed"]


@dataclass(frozen=True)
class Step:
    title: str
    state: StepState
    detail: str
    url: str | None = None
    link_text: str = ""


def _url(name: str) -> str | None:
    try:
        return reverse(name)
    except Exception:  # noqa: BLE001 - a page another issue adds may not exist yet
        return None


def _credentials_step(provider: Provider, api_url: str | None) -> tuple[StepState, str]:
    if not api_url:
        return "blocked", "Opens with the tracking API (coming soon)."
    # tracking sits above this app, so its model is named, not imported (docs/architecture.md).
    api_app = apps.get_model("tracking", "ApiApp")
    if api_app.objects.filter(provider=provider, status="ACTIVE").exists():
        return "done", "At least one API app holds credentials."
    return "todo", "Create credentials for the tracking API."


def _payment_step(provider: Provider, payment_url: str | None) -> tuple[StepState, str]:
    # billing sits above this app too: its models are named, not imported. One query: the fee
    # in effect for the provider's type and whether a default card is on file.
    fees = apps.get_model("billing", "FeeSchedule").objects.filter(
        provider_type=OuterRef("provider_type"), effective_from__lte=localdate()
    )
    cards = apps.get_model("billing", "BillingAccount").objects.filter(
        provider=OuterRef("pk"), default_payment_method_id__gt=""
    )
    fee, has_card = (
        Provider.objects.filter(pk=provider.pk)
        .annotate(
            fee=Subquery(fees.order_by("-effective_from").values("monthly_fee_cents")[:1]),
            has_card=Exists(cards),
        )
        .values_list("fee", "has_card")
        .get()
    )
    # Without a fee schedule for the type, the default: only service providers pay.
    paid = fee > 0 if fee is not None else provider.provider_type in AGREEMENT_REQUIRED_TYPES
    if not paid:
        return "not_needed", "Free for your organisation type."
    if not payment_url:
        return "blocked", "Opens with billing (coming soon)."
    if has_card:
        return "done", "A card is on file for the monthly access fee."
    return "todo", "Add a card for the monthly access fee."


def onboarding_checklist(*, provider: Provider) -> list[Step]:
    """Organisation → agreement signed → agreement approved → MIDs verified → API credentials →
    payment method, each done, pending, to do, blocked or not needed for this provider."""
    agreement_needed = provider.provider_type in AGREEMENT_REQUIRED_TYPES
    statuses = set(Agreement.objects.filter(provider=provider).values_list("status", flat=True))
    links = set(MidLink.objects.filter(provider=provider).values_list("status", flat=True))
    agreement_url = _url("agreements:agreement")
    mids_url = _url("agreements:mids")

    org_state: StepState = {
        ProviderStatus.ACTIVE: "done",
        ProviderStatus.PENDING_REVIEW: "pending",
    }.get(provider.status, "blocked")
    org_detail = {
        "done": "Registered and approved by postal staff.",
        "pending": "Registered; postal staff are reviewing it.",
        "blocked": f"The organisation is {provider.get_status_display().lower()}.",
    }[org_state]

    live = {AgreementStatus.SUBMITTED, AgreementStatus.APPROVED}
    if statuses & live:
        signed: StepState = "done"
        signed_detail = "Signed."
    elif not agreement_needed:
        signed, signed_detail = "not_needed", "Optional for your organisation type."
    else:
        signed, signed_detail = "todo", "Sign the IP agreement to read tracking data."

    if AgreementStatus.APPROVED in statuses:
        approved: StepState = "done"
        approved_detail = "Approved by postal staff."
    elif AgreementStatus.SUBMITTED in statuses:
        approved, approved_detail = "pending", "Waiting for review by postal staff."
    elif AgreementStatus.SUSPENDED in statuses:
        approved, approved_detail = "blocked", "Your agreement is suspended."
    elif not agreement_needed:
        approved, approved_detail = "not_needed", "Optional for your organisation type."
    else:
        approved, approved_detail = "todo", "Sign the agreement first."

    if MidLinkStatus.VERIFIED in links:
        mids: StepState = "done"
        mids_detail = "At least one Mailer ID is verified."
    elif MidLinkStatus.REQUESTED in links:
        mids, mids_detail = "pending", "Your Mailer ID claims are waiting for review."
    else:
        mids, mids_detail = "todo", "Claim the Mailer IDs you own or are authorized for."

    api_url = _url("tracking:apps")
    payment_url = _url("billing:payment_methods")
    return [
        Step("Organisation", org_state, org_detail, _url("accounts:organisation"), "See details"),
        Step("IP agreement signed", signed, signed_detail, agreement_url, "Open the agreement"),
        Step("IP agreement approved", approved, approved_detail, agreement_url, "See status"),
        Step("Mailer IDs verified", mids, mids_detail, mids_url, "Manage Mailer IDs"),
        Step(
            "API credentials", *_credentials_step(provider, api_url), api_url, "Manage credentials"
        ),
        Step(
            "Payment method", *_payment_step(provider, payment_url), payment_url, "Payment methods"
        ),
    ]


@dataclass(frozen=True)
class AccessRow:
    mid: str
    via: str
    decision: Decision


def access_panel(*, provider: Provider) -> list[AccessRow]:
    """Every MID the provider has a live link or schedule line for, with today's decision."""
    via: dict[str, set[str]] = {}
    open_links = MidLink.objects.filter(
        provider=provider, status__in=[MidLinkStatus.REQUESTED, MidLinkStatus.VERIFIED]
    ).values_list("mid", "relation", "status")
    for mid, relation, status in open_links:
        label = "owned" if relation == "OWNED" else "authorized by the owner"
        if status == MidLinkStatus.REQUESTED:
            label += " (pending review)"
        via.setdefault(mid, set()).add(label)
    lines = AgreementScheduleLine.objects.filter(
        agreement__provider=provider,
        status__in=[ScheduleLineStatus.REQUESTED, ScheduleLineStatus.APPROVED],
    ).values_list("mid", "status")
    for mid, status in lines:
        label = "agreement schedule"
        if status == ScheduleLineStatus.REQUESTED:
            label += " (pending review)"
        via.setdefault(mid, set()).add(label)
    decisions = decide_many(provider=provider, mids=sorted(via))
    return [
        AccessRow(mid=mid, via=", ".join(sorted(labels)), decision=decisions[mid])
        for mid, labels in sorted(via.items())
    ]
