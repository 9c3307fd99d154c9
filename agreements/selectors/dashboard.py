"""Reads for the provider dashboard: the onboarding checklist and the access panel."""

from dataclasses import dataclass
from typing import Literal

from django.urls import reverse

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
            "API credentials",
            "todo" if api_url else "blocked",
            "Create credentials for the tracking API."
            if api_url
            else "Opens with the tracking API (coming soon).",
            api_url,
            "Manage credentials",
        ),
        Step(
            "Payment method",
            ("todo" if payment_url else "blocked") if agreement_needed else "not_needed",
            (
                "Add a card for the monthly access fee."
                if payment_url
                else "Opens with billing (coming soon)."
            )
            if agreement_needed
            else "Free for your organisation type.",
            payment_url,
            "Payment methods",
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
