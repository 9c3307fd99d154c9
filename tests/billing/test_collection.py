"""Card collection against the real localstripe: customers, cards, charges, dunning, Stripe
down, and billing holds as the access decision sees them."""

import threading
from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from accounts.constants import MembershipRole
from accounts.models import Provider
from agreements.constants import ReasonCode
from agreements.decision import decide
from billing import tasks
from billing.constants import InvoiceStatus, PaymentMethodKind, PaymentStatus
from billing.models import BillingAccount, Invoice, Payment
from billing.selectors import billing_today
from billing.services import collection
from billing.services.collection import ChargeResult
from core.models import AuditEntry
from tests.billing.collection_helpers import (
    add_card,
    closed_port,
    members,
    open_invoice,
    stripe_get,
)
from tests.factories import (
    AgreementFactory,
    MidLinkFactory,
    ProviderFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

DECLINING = "pm_card_chargeCustomerFail"  # attaches fine, refused when charged


def _actions(invoice) -> list[str]:
    return list(
        AuditEntry.objects.filter(subject_id=invoice.pk, subject_type__model="invoice")
        .order_by("pk")
        .values_list("action", flat=True)
    )


# --- Customers and cards ------------------------------------------------------------------------


def test_a_provider_gets_one_stripe_customer(localstripe):
    provider = ProviderFactory(legal_name="Example Analytics LLC")

    first = collection.ensure_customer(provider=provider)
    again = collection.ensure_customer(provider=provider)

    assert again.pk == first.pk
    assert BillingAccount.objects.filter(provider=provider).count() == 1
    customer = stripe_get(f"/v1/customers/{first.stripe_customer_id}")
    assert customer["name"] == "Example Analytics LLC"
    assert customer["metadata"] == {"provider_id": str(provider.pk)}


def test_a_setup_intent_is_made_for_the_providers_customer(localstripe):
    provider = ProviderFactory()

    secret = collection.setup_intent_create(provider=provider)

    intent_id = secret.split("_secret_")[0]
    intent = stripe_get(f"/v1/setup_intents/{intent_id}")
    assert intent["customer"] == provider.billing_account.stripe_customer_id
    assert intent["usage"] == "off_session"


def test_an_attached_card_becomes_the_default(localstripe):
    provider = ProviderFactory()

    account = add_card(provider)

    assert (account.card_brand, account.card_last4) == ("visa", "4242")
    assert account.card_exp_year == 2030
    customer = stripe_get(f"/v1/customers/{account.stripe_customer_id}")
    assert customer["invoice_settings"]["default_payment_method"] == (
        account.default_payment_method_id
    )
    card = stripe_get(f"/v1/payment_methods/{account.default_payment_method_id}")
    assert card["customer"] == account.stripe_customer_id
    assert AuditEntry.objects.filter(action="payment_method_set", provider=provider).exists()


# --- Charging -----------------------------------------------------------------------------------


def test_a_card_charge_pays_the_invoice(localstripe):
    invoice = open_invoice(total_cents=12_345)
    add_card(invoice.provider)

    outcome = collection.charge_invoice(invoice_id=invoice.pk)

    assert outcome.result == ChargeResult.SUCCEEDED
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.paid_cents == 12_345
    assert invoice.next_charge_at is None
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.status, payment.attempt) == (PaymentStatus.SUCCEEDED, 1)
    assert payment.idempotency_key == f"invoice-{invoice.pk}-attempt-1"
    intent = stripe_get(f"/v1/payment_intents/{payment.stripe_payment_intent_id}")
    assert (intent["status"], intent["amount"], intent["currency"]) == ("succeeded", 12_345, "usd")
    assert intent["customer"] == invoice.provider.billing_account.stripe_customer_id
    assert intent["metadata"] == {
        "invoice_id": str(invoice.pk),
        "invoice_number": invoice.number,
        "attempt": "1",
    }
    assert _actions(invoice) == ["invoice_charge_start", "invoice_apply_payment", "invoice_paid"]


def test_a_declined_card_fails_and_schedules_a_retry(localstripe):
    invoice = open_invoice(total_cents=5_000)
    add_card(invoice.provider, DECLINING)

    outcome = collection.charge_invoice(invoice_id=invoice.pk)

    assert outcome.result == ChargeResult.DECLINED
    assert "declined" in outcome.message
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == PaymentStatus.FAILED
    assert "declined" in payment.failure_message
    first_retry = timedelta(days=settings.BILLING_RETRY_DAYS[0])
    assert invoice.next_charge_at == payment.created_at + first_retry
    assert _actions(invoice) == ["invoice_charge_start", "invoice_charge_failed"]


def test_a_declined_card_email_goes_to_owner_admin_and_billing_but_not_developers(
    localstripe, django_capture_on_commit_callbacks
):
    invoice = open_invoice(total_cents=5_000)
    emails = members(invoice.provider)
    add_card(invoice.provider, DECLINING)

    with django_capture_on_commit_callbacks(execute=True):
        collection.charge_invoice(invoice_id=invoice.pk)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == sorted(
        emails[role]
        for role in (MembershipRole.OWNER, MembershipRole.ADMIN, MembershipRole.BILLING)
    )
    assert invoice.number in message.subject
    assert "$50.00" in message.body
    assert "We will try the card again on" in message.body
    assert f"/billing/invoices/{invoice.pk}/" in message.body


def test_a_repeated_automatic_charge_before_the_retry_time_does_nothing(localstripe):
    invoice = open_invoice()
    add_card(invoice.provider, DECLINING)
    collection.charge_invoice(invoice_id=invoice.pk)

    again = collection.charge_invoice(invoice_id=invoice.pk)

    assert again.result == ChargeResult.SKIPPED
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_refused_cards_are_retried_on_the_schedule_then_no_more(localstripe):
    invoice = open_invoice()
    add_card(invoice.provider, DECLINING)
    collection.charge_invoice(invoice_id=invoice.pk)
    first = Payment.objects.get(invoice=invoice, attempt=1).created_at
    expected = [first + timedelta(days=day) for day in settings.BILLING_RETRY_DAYS]

    scheduled = []
    for _ in settings.BILLING_RETRY_DAYS:
        invoice.refresh_from_db()
        scheduled.append(invoice.next_charge_at)
        outcome = collection.charge_invoice(invoice_id=invoice.pk, now=invoice.next_charge_at)
        assert outcome.result == ChargeResult.DECLINED

    invoice.refresh_from_db()
    assert scheduled == expected
    assert invoice.next_charge_at is None  # retries used up
    assert invoice.charge_attempts == len(settings.BILLING_RETRY_DAYS) + 1
    assert list(
        Payment.objects.filter(invoice=invoice).order_by("attempt").values_list("status", flat=True)
    ) == [PaymentStatus.FAILED] * (len(settings.BILLING_RETRY_DAYS) + 1)
    assert invoice.status == InvoiceStatus.OPEN


def test_a_new_card_is_charged_by_the_next_retry_run(
    localstripe, django_capture_on_commit_callbacks
):
    invoice = open_invoice(total_cents=7_700)
    add_card(invoice.provider, DECLINING)
    collection.charge_invoice(invoice_id=invoice.pk)

    add_card(invoice.provider, "pm_card_visa")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        due = collection.retry_due_charges()

    assert due == [invoice.pk]
    assert len(queued) == 1
    outcome = collection.charge_invoice(invoice_id=invoice.pk)  # what the queued task runs
    assert outcome.result == ChargeResult.SUCCEEDED
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert list(
        Payment.objects.filter(invoice=invoice).order_by("attempt").values_list("status", flat=True)
    ) == [PaymentStatus.FAILED, PaymentStatus.SUCCEEDED]


def test_an_invoice_opened_before_any_card_is_charged_once_one_is_added(
    localstripe, django_capture_on_commit_callbacks
):
    invoice = open_invoice()
    assert collection.charge_invoice(invoice_id=invoice.pk).result == ChargeResult.SKIPPED

    add_card(invoice.provider)
    with django_capture_on_commit_callbacks(execute=False):
        due = collection.retry_due_charges()

    assert due == [invoice.pk]
    assert tasks.charge_invoice(invoice.pk) == ChargeResult.SUCCEEDED  # as the worker runs it
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_the_periodic_tasks_run_their_services(localstripe):
    invoice = open_invoice(due_on=billing_today() - timedelta(days=settings.BILLING_GRACE_DAYS + 1))

    assert tasks.apply_billing_holds() == 1
    assert tasks.retry_due_charges() == {"charges": 0, "events": 0}
    assert tasks.reconcile_with_stripe() == {"intents": 0, "payments": 0, "new_issues": 0}
    assert Provider.objects.get(pk=invoice.provider_id).billing_hold


def test_pay_now_charges_at_once_whatever_the_schedule(localstripe):
    invoice = open_invoice()
    add_card(invoice.provider, DECLINING)
    collection.charge_invoice(invoice_id=invoice.pk)
    add_card(invoice.provider, "pm_card_visa")
    member = UserFactory()

    outcome = collection.charge_now(invoice=invoice, actor=member)

    assert outcome.result == ChargeResult.SUCCEEDED
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    start = AuditEntry.objects.filter(action="invoice_charge_start", actor=member).get()
    assert start.extra["manual"] is True


@pytest.mark.parametrize(
    "case, expected",
    [
        ("no card", "No card is on file."),
        ("paid", "is paid"),
        ("nothing due", "Nothing is due"),
        ("missing", "There is no invoice"),
    ],
)
def test_charges_are_skipped_when_there_is_nothing_to_charge(localstripe, case, expected):
    invoice = open_invoice(total_cents=1_000)
    if case != "no card":
        add_card(invoice.provider)
    if case == "paid":
        Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.PAID, paid_cents=1_000)
    if case == "nothing due":
        Invoice.objects.filter(pk=invoice.pk).update(credited_cents=1_000)

    outcome = collection.charge_invoice(invoice_id=invoice.pk + (1000 if case == "missing" else 0))

    assert outcome.result == ChargeResult.SKIPPED
    assert expected in outcome.message
    assert not Payment.objects.exists()


# --- Stripe unreachable: nothing lost --------------------------------------------------------


def test_stripe_down_leaves_the_invoice_open_and_the_retry_pays_it(localstripe):
    invoice = open_invoice(total_cents=9_900)
    add_card(invoice.provider)

    with override_settings(STRIPE_API_BASE=f"http://127.0.0.1:{closed_port()}"):
        before = timezone.now()
        down = collection.charge_invoice(invoice_id=invoice.pk)

    assert down.result == ChargeResult.PENDING
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == PaymentStatus.PENDING
    assert "Stripe could not charge the card" in payment.failure_message
    assert before + collection.RECHECK_AFTER <= invoice.next_charge_at
    assert not mail.outbox
    assert collection.charge_invoice(invoice_id=invoice.pk).result == ChargeResult.SKIPPED

    # Stripe is back; the hourly run comes round.
    later = invoice.next_charge_at
    assert collection.invoices_due_for_charge(now=later) == [invoice.pk]
    back = collection.charge_invoice(invoice_id=invoice.pk, now=later)

    assert back.result == ChargeResult.SUCCEEDED
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    # The same attempt, under the same idempotency key, was resumed: no second charge.
    payment.refresh_from_db()
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert (payment.status, payment.attempt) == (PaymentStatus.SUCCEEDED, 1)
    intents = stripe_get("/v1/payment_intents")["data"]
    assert [intent["id"] for intent in intents] == [payment.stripe_payment_intent_id]


def test_our_keys_refused_leaves_the_charge_pending_without_blaming_the_card(
    localstripe, django_capture_on_commit_callbacks
):
    invoice = open_invoice()
    members(invoice.provider)
    add_card(invoice.provider)

    with (
        override_settings(STRIPE_SECRET_KEY="rk_revoked_by_mistake"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        outcome = collection.charge_invoice(invoice_id=invoice.pk)

    assert outcome.result == ChargeResult.PENDING
    assert Payment.objects.get(invoice=invoice).status == PaymentStatus.PENDING
    assert not mail.outbox


def test_an_attempt_left_pending_by_a_crash_is_resumed_not_repeated(localstripe):
    invoice = open_invoice(total_cents=4_200)
    add_card(invoice.provider)
    # A worker died after writing attempt 1 and before Stripe's answer was saved.
    Payment.objects.create(
        invoice=invoice,
        method=PaymentMethodKind.CARD,
        amount_cents=4_200,
        attempt=1,
        idempotency_key=f"invoice-{invoice.pk}-attempt-1",
    )
    Invoice.objects.filter(pk=invoice.pk).update(
        charge_attempts=1, next_charge_at=timezone.now() - timedelta(minutes=1)
    )

    outcome = collection.charge_invoice(invoice_id=invoice.pk)

    assert outcome.result == ChargeResult.SUCCEEDED
    assert outcome.payment.attempt == 1
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_a_charge_in_flight_is_not_started_twice(localstripe, transactional_db):
    invoice = open_invoice()
    add_card(invoice.provider)
    payment = Payment.objects.create(
        invoice=invoice,
        method=PaymentMethodKind.CARD,
        amount_cents=invoice.total_cents,
        attempt=1,
        idempotency_key=f"invoice-{invoice.pk}-attempt-1",
    )
    Invoice.objects.filter(pk=invoice.pk).update(charge_attempts=1)
    locked, release = threading.Event(), threading.Event()

    def in_flight():
        # Another worker holding attempt 1 while it waits for Stripe.
        with transaction.atomic():
            Payment.objects.select_for_update().get(pk=payment.pk)
            locked.set()
            release.wait(timeout=10)
        connection.close()

    worker = threading.Thread(target=in_flight)
    worker.start()
    try:
        assert locked.wait(timeout=10)
        outcome = collection.charge_now(invoice=invoice, actor=None)
    finally:
        release.set()
        worker.join()

    assert outcome.result == ChargeResult.SKIPPED
    assert "under way" in outcome.message
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert stripe_get("/v1/payment_intents")["data"] == []


# --- Billing holds ----------------------------------------------------------------------------


def _provider_with_access():
    provider = ProviderFactory()
    AgreementFactory(provider=provider)
    link = MidLinkFactory(provider=provider)
    assert decide(provider=provider, mid=link.mid).allowed
    return provider, link.mid


def test_an_invoice_unpaid_past_the_grace_period_holds_access_until_paid(
    localstripe, django_capture_on_commit_callbacks
):
    provider, mid = _provider_with_access()
    emails = members(provider)
    today = billing_today()
    invoice = open_invoice(
        provider=provider, due_on=today - timedelta(days=settings.BILLING_GRACE_DAYS + 1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        held = collection.apply_billing_holds(today=today)

    assert held == [provider.pk]
    provider.refresh_from_db()
    assert provider.billing_hold
    assert invoice.number in provider.billing_hold_reason
    decision = decide(provider=provider, mid=mid)
    assert not decision.allowed
    assert decision.reason_codes == [ReasonCode.BILLING_HOLD]
    assert len(mail.outbox) == 1
    assert emails[MembershipRole.BILLING] in mail.outbox[0].to
    assert "on hold" in mail.outbox[0].subject

    add_card(provider)
    assert collection.charge_now(invoice=invoice, actor=None).result == ChargeResult.SUCCEEDED

    provider.refresh_from_db()
    assert not provider.billing_hold
    assert decide(provider=provider, mid=mid).allowed


def test_holds_wait_for_the_whole_grace_period_and_are_set_once(
    localstripe, django_capture_on_commit_callbacks
):
    today = billing_today()
    grace = settings.BILLING_GRACE_DAYS
    on_the_last_day = open_invoice(due_on=today - timedelta(days=grace))
    past_it = open_invoice(due_on=today - timedelta(days=grace + 1))
    open_invoice(provider=past_it.provider, due_on=today - timedelta(days=grace + 30))
    members(past_it.provider)

    with django_capture_on_commit_callbacks(execute=True):
        first = collection.apply_billing_holds(today=today)
        second = collection.apply_billing_holds(today=today)

    assert first == [past_it.provider_id]
    assert second == []
    assert not Provider.objects.get(pk=on_the_last_day.provider_id).billing_hold
    assert AuditEntry.objects.filter(action="billing_hold_set").count() == 1
    assert len(mail.outbox) == 1


def test_a_customer_stripe_no_longer_has_is_replaced_when_a_card_is_set_up(localstripe):
    provider = ProviderFactory()
    account = add_card(provider)
    old_id = account.stripe_customer_id
    requests.delete(f"{localstripe}/_config/data", timeout=5)  # Stripe forgot everything

    secret = collection.setup_intent_create(provider=provider)

    account.refresh_from_db()
    assert secret
    assert account.stripe_customer_id != old_id
    assert account.default_payment_method_id == "" and account.card_last4 == ""
    assert stripe_get(f"/v1/customers/{account.stripe_customer_id}")["id"]
    assert AuditEntry.objects.filter(action="billing_customer_replace").count() == 1
