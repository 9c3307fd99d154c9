"""The nightly reconciliation against the real localstripe: each kind of difference is found,
recorded once however often the run repeats, and no money is changed."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from billing import stripe_gateway
from billing.constants import PaymentMethodKind, PaymentStatus, ReconciliationStatus
from billing.models import Invoice, Payment, ReconciliationIssue
from billing.services import collection
from billing.services.reconciliation import (
    IssueKind,
    reconcile_with_stripe,
    reconciliation_resolve,
)
from core.errors import DomainError
from core.models import AuditEntry
from tests.billing.collection_helpers import add_card, open_invoice
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def _charge(invoice, account, *, attempt, amount=None, invoice_id=None):
    """A PaymentIntent made at Stripe directly (as if by a run whose answer we never saved)."""
    metadata = {
        "invoice_id": str(invoice_id or invoice.pk),
        "invoice_number": invoice.number,
        "attempt": str(attempt),
    }
    try:
        return stripe_gateway.payment_intent_create(
            amount_cents=amount or invoice.total_cents,
            currency="usd",
            customer_id=account.stripe_customer_id,
            payment_method_id=account.default_payment_method_id,
            metadata=metadata,
            idempotency_key=f"test-{metadata['invoice_id']}-{attempt}",
        )
    except stripe_gateway.PaymentDeclined:
        return None


def _intent_ids() -> dict[tuple[str, str], str]:
    """Stripe's PaymentIntents by (invoice_id, attempt) of their metadata."""
    return {
        (intent.metadata["invoice_id"], intent.metadata["attempt"]): intent.id
        for intent in stripe_gateway.payment_intents_since(since=timezone.now() - timedelta(1))
    }


def _money_state():
    return (
        list(Invoice.objects.order_by("pk").values_list("pk", "status", "paid_cents")),
        list(
            Payment.objects.order_by("pk").values_list(
                "pk", "status", "amount_cents", "stripe_payment_intent_id"
            )
        ),
    )


@pytest.fixture
def differences(localstripe):
    """One invoice per situation, made with real charges, then the local rows bent."""
    made = {}

    clean = open_invoice(total_cents=1_000)
    add_card(clean.provider)
    collection.charge_invoice(invoice_id=clean.pk)
    made["clean"] = clean

    mismatch = open_invoice(total_cents=2_000)
    add_card(mismatch.provider)
    collection.charge_invoice(invoice_id=mismatch.pk)
    Payment.objects.filter(invoice=mismatch).update(amount_cents=1_500)
    made["mismatch"] = mismatch

    unrecorded = open_invoice(total_cents=3_000)
    account = add_card(unrecorded.provider)
    Payment.objects.create(
        invoice=unrecorded,
        method=PaymentMethodKind.CARD,
        amount_cents=3_000,
        attempt=1,
        idempotency_key=f"invoice-{unrecorded.pk}-attempt-1",
    )
    _charge(unrecorded, account, attempt=1)
    made["unrecorded"] = unrecorded

    refused = open_invoice(total_cents=4_000)
    add_card(refused.provider, "pm_card_chargeCustomerFail")
    collection.charge_invoice(invoice_id=refused.pk)
    Payment.objects.filter(invoice=refused).update(status=PaymentStatus.SUCCEEDED)
    made["refused"] = refused

    gone = open_invoice(total_cents=5_000)
    Payment.objects.create(
        invoice=gone,
        method=PaymentMethodKind.CARD,
        status=PaymentStatus.SUCCEEDED,
        amount_cents=5_000,
        attempt=1,
        idempotency_key=f"invoice-{gone.pk}-attempt-1",
        stripe_payment_intent_id="pi_gone_from_stripe",
    )
    made["gone"] = gone

    stranger = open_invoice(total_cents=6_000)
    account = add_card(stranger.provider)
    _charge(stranger, account, attempt=1, invoice_id=stranger.pk + 10_000)
    made["stranger"] = stranger

    orphan = open_invoice(total_cents=7_000)
    account = add_card(orphan.provider, "pm_card_chargeCustomerFail")
    _charge(orphan, account, attempt=9)
    made["orphan"] = orphan
    return made


def test_each_difference_is_found_once_and_no_money_changes(differences):
    made = differences
    intents = _intent_ids()
    before = _money_state()

    report = reconcile_with_stripe()

    found = set(
        ReconciliationIssue.objects.values_list("kind", "invoice_id", "stripe_payment_intent_id")
    )
    key = {name: str(invoice.pk) for name, invoice in made.items()}
    assert found == {
        (IssueKind.AMOUNT_MISMATCH, made["mismatch"].pk, intents[(key["mismatch"], "1")]),
        (
            IssueKind.SUCCEEDED_NOT_RECORDED,
            made["unrecorded"].pk,
            intents[(key["unrecorded"], "1")],
        ),
        (IssueKind.RECORDED_NOT_SUCCEEDED, made["refused"].pk, intents[(key["refused"], "1")]),
        (IssueKind.RECORDED_NOT_SUCCEEDED, made["gone"].pk, "pi_gone_from_stripe"),
        (
            IssueKind.UNKNOWN_INVOICE,
            None,
            intents[(str(made["stranger"].pk + 10_000), "1")],
        ),
        (IssueKind.UNKNOWN_PAYMENT, made["orphan"].pk, intents[(key["orphan"], "9")]),
    }
    assert report.new == 6
    assert report.intents == len(intents) == 6
    assert all(
        issue.status == ReconciliationStatus.OPEN for issue in ReconciliationIssue.objects.all()
    )
    assert _money_state() == before

    again = reconcile_with_stripe()

    assert sorted(again.found) == sorted(report.found)
    assert again.new == 0
    assert ReconciliationIssue.objects.count() == 6
    assert _money_state() == before


def test_only_the_recent_window_is_compared(differences):
    later = timezone.now() + timedelta(days=settings.BILLING_RECONCILE_DAYS + 1)

    report = reconcile_with_stripe(now=later)

    assert (report.intents, report.payments, report.found) == (0, 0, [])
    assert not ReconciliationIssue.objects.exists()


def test_finance_resolves_an_issue_once_with_a_reason():
    invoice = open_invoice()
    issue = ReconciliationIssue.objects.create(
        kind=IssueKind.AMOUNT_MISMATCH, invoice=invoice, stripe_payment_intent_id="pi_1", detail="x"
    )
    finance = StaffFactory()

    with pytest.raises(DomainError, match="Say how"):
        reconciliation_resolve(issue=issue, actor=finance, resolution="  ")
    resolved = reconciliation_resolve(
        issue=issue, actor=finance, resolution="Refunded the difference in Stripe."
    )

    assert resolved.status == ReconciliationStatus.RESOLVED
    issue.refresh_from_db()
    assert (issue.status, issue.resolved_by, issue.resolution) == (
        ReconciliationStatus.RESOLVED,
        finance,
        "Refunded the difference in Stripe.",
    )
    entry = AuditEntry.objects.get(action="reconciliation_resolve")
    assert (entry.actor, entry.provider_id, entry.from_status, entry.to_status) == (
        finance,
        invoice.provider_id,
        ReconciliationStatus.OPEN,
        ReconciliationStatus.RESOLVED,
    )
    with pytest.raises(DomainError, match="already resolved"):
        reconciliation_resolve(issue=issue, actor=finance, resolution="Again.")
    assert AuditEntry.objects.filter(action="reconciliation_resolve").count() == 1
