"""The invoice lifecycle (issue 10 §3): approval with a gapless yearly number, void, write-off,
credit notes and offline payments, each audited; illegal moves refused with a clear message and
nothing changed; the billing hold lifted once the provider is settled."""

from datetime import date, timedelta

import pytest
from django.db import IntegrityError, transaction

from accounts.constants import MembershipRole
from accounts.services.providers import provider_billing_hold_set
from billing.constants import InvoiceStatus, PaymentMethodKind, PaymentStatus
from billing.models import CreditNote, Invoice, InvoiceNumberSequence, Payment
from billing.services import invoices as services
from billing.services.invoices import (
    billing_hold_lift_if_settled,
    credit_note_create,
    invoice_apply_payment,
    invoice_approve,
    invoice_issued,
    invoice_mark_uncollectible,
    invoice_resend,
    invoice_void,
    payment_record_offline,
)
from billing.tasks import charge_invoice
from core.errors import DomainError, InvalidTransition
from core.models import AuditEntry
from tests.concurrency import run_together
from tests.factories import InvoiceFactory, MembershipFactory, ProviderFactory, StaffFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 2)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    """Approvals happen on 2 November 2026 in BILLING_TIMEZONE."""
    monkeypatch.setattr(services, "billing_today", lambda: TODAY)
    monkeypatch.setattr("billing.selectors.billing_today", lambda: TODAY)


class Charges(list):
    def __call__(self, invoice_id: int) -> None:
        self.append(invoice_id)


@pytest.fixture
def charges(monkeypatch) -> Charges:
    """The invoice ids whose card charge was queued: a spy on the real task's `.delay`, so
    nothing reaches the broker."""
    queued = Charges()
    monkeypatch.setattr(charge_invoice, "delay", queued)
    return queued


@pytest.fixture
def finance():
    return StaffFactory(email="finance@example.com")


@pytest.fixture
def provider():
    provider = ProviderFactory(legal_name="Parcel Insights LLC")
    MembershipFactory(provider=provider, user__email="owner@example.com")
    MembershipFactory(
        provider=provider, user__email="billing@example.com", role=MembershipRole.BILLING
    )
    MembershipFactory(
        provider=provider, user__email="dev@example.com", role=MembershipRole.DEVELOPER
    )
    return provider


@pytest.fixture
def draft(provider):
    return InvoiceFactory(provider=provider, total_cents=100_000)


def entries(invoice: Invoice) -> list[tuple[str, str, str]]:
    return list(
        AuditEntry.objects.filter(subject_type__model="invoice", subject_id=invoice.pk)
        .order_by("pk")
        .values_list("action", "from_status", "to_status")
    )


def open_invoice(provider, total_cents=100_000, **kwargs) -> Invoice:
    invoice = InvoiceFactory(provider=provider, total_cents=total_cents, **kwargs)
    return invoice_approve(invoice=invoice, actor=None)


# --- Approval ---------------------------------------------------------------------------------


def test_approval_numbers_dates_audits_charges_and_emails(
    draft, finance, charges, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        approved = invoice_approve(invoice=draft, actor=finance, reason="Checked the lines.")

    draft.refresh_from_db()
    assert approved is draft
    assert (draft.status, draft.number) == (InvoiceStatus.OPEN, "TAP-2026-000001")
    assert (draft.issued_on, draft.due_on) == (TODAY, TODAY + timedelta(days=30))
    assert (draft.decided_by, draft.decision_reason) == (finance, "Checked the lines.")
    assert entries(draft) == [("invoice_approve", "DRAFT", "OPEN")]
    assert charges == [draft.pk]
    (mail,) = mailoutbox
    assert sorted(mail.to) == ["billing@example.com", "owner@example.com"]
    assert "TAP-2026-000001" in mail.subject
    assert "$1,000.00" in mail.body
    assert "2026-12-02" in mail.body
    assert f"/invoices/{draft.pk}" in mail.body


def test_net_days_come_from_the_settings(draft, charges, settings):
    settings.BILLING_NET_DAYS = 15

    invoice_approve(invoice=draft, actor=None)

    draft.refresh_from_db()
    assert draft.due_on == date(2026, 11, 17)


def test_a_zero_total_invoice_is_paid_at_once_and_never_charged(
    provider, charges, django_capture_on_commit_callbacks
):
    invoice = InvoiceFactory(provider=provider, total_cents=0)

    with django_capture_on_commit_callbacks(execute=True):
        invoice_approve(invoice=invoice, actor=None)

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.number == "TAP-2026-000001"
    assert entries(invoice) == [
        ("invoice_approve", "DRAFT", "OPEN"),
        ("invoice_paid", "OPEN", "PAID"),
    ]
    assert charges == []


def test_numbers_follow_each_other_within_a_year_and_restart_with_the_next(
    provider, charges, monkeypatch
):
    first, second = (
        InvoiceFactory(provider=provider),
        InvoiceFactory(provider=provider, period=date(2026, 11, 1)),
    )
    invoice_approve(invoice=first, actor=None)
    invoice_approve(invoice=second, actor=None)
    monkeypatch.setattr(services, "billing_today", lambda: date(2027, 1, 1))
    third = InvoiceFactory(provider=provider, period=date(2026, 12, 1))
    invoice_approve(invoice=third, actor=None)

    numbers = [i.number for i in Invoice.objects.order_by("period")]
    assert numbers == ["TAP-2026-000001", "TAP-2026-000002", "TAP-2027-000001"]
    assert dict(InvoiceNumberSequence.objects.values_list("year", "last_number")) == {
        2026: 2,
        2027: 1,
    }


def test_an_approval_that_fails_after_numbering_leaves_no_gap(draft, provider, charges):
    """The number is taken in the approving transaction: when a later step of that transaction
    fails, the number is given back, and the next approval gets it."""
    with pytest.raises(IntegrityError), transaction.atomic():
        invoice_approve(invoice=draft, actor=None)
        assert draft.number == "TAP-2026-000001"
        # Anything after numbering that fails: here a second invoice for the same month.
        InvoiceFactory(provider=provider, period=draft.period)
    other = InvoiceFactory(provider=provider, period=date(2026, 9, 1))

    invoice_approve(invoice=other, actor=None)

    draft.refresh_from_db()
    assert (draft.status, draft.number) == (InvoiceStatus.DRAFT, None)
    assert other.number == "TAP-2026-000001"
    assert entries(draft) == []


def test_a_number_written_behind_the_sequences_back_is_refused_not_reused(draft, provider):
    InvoiceFactory(
        provider=provider,
        period=date(2026, 1, 1),
        status=InvoiceStatus.PAID,
        number="TAP-2026-000001",
        issued_on=date(2026, 2, 1),
        due_on=date(2026, 3, 3),
    )

    with pytest.raises(DomainError, match="TAP-2026-000001 is already used"):
        invoice_approve(invoice=draft, actor=None)

    draft.refresh_from_db()
    assert (draft.status, draft.number) == (InvoiceStatus.DRAFT, None)
    assert not InvoiceNumberSequence.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_approvals_get_the_numbers_one_and_two(charges):
    provider = ProviderFactory()
    first = InvoiceFactory(provider=provider, period=date(2026, 9, 1))
    second = InvoiceFactory(provider=provider, period=date(2026, 10, 1))

    outcomes = run_together(
        lambda: invoice_approve(invoice=first, actor=None).number,
        lambda: invoice_approve(invoice=second, actor=None).number,
    )

    assert sorted(outcomes) == ["TAP-2026-000001", "TAP-2026-000002"]
    assert InvoiceNumberSequence.objects.get(year=2026).last_number == 2


@pytest.mark.django_db(transaction=True)
def test_the_same_draft_approved_twice_at_once_is_numbered_once(charges):
    invoice = InvoiceFactory()

    outcomes = run_together(
        lambda: invoice_approve(invoice=Invoice.objects.get(pk=invoice.pk), actor=None),
        lambda: invoice_approve(invoice=Invoice.objects.get(pk=invoice.pk), actor=None),
    )

    refused = [o for o in outcomes if isinstance(o, InvalidTransition)]
    assert len(refused) == 1
    invoice.refresh_from_db()
    assert invoice.number == "TAP-2026-000001"
    assert InvoiceNumberSequence.objects.get(year=2026).last_number == 1


def test_approving_an_open_invoice_is_refused_and_takes_no_number(draft, charges):
    invoice_approve(invoice=draft, actor=None)

    with pytest.raises(InvalidTransition, match="it is Open, and from OPEN it can only move"):
        invoice_approve(invoice=draft, actor=None)

    assert InvoiceNumberSequence.objects.get(year=2026).last_number == 1
    assert len(entries(draft)) == 1


def test_issued_invoices_wait_for_finance_unless_auto_approval_is_on(
    provider, settings, charges, django_capture_on_commit_callbacks
):
    settings.BILLING_AUTO_APPROVE = False
    waiting = InvoiceFactory(provider=provider, period=date(2026, 9, 1))
    automatic = InvoiceFactory(provider=provider)

    with django_capture_on_commit_callbacks(execute=True):
        invoice_issued(invoice=waiting)
        settings.BILLING_AUTO_APPROVE = True
        invoice_issued(invoice=automatic)

    waiting.refresh_from_db()
    automatic.refresh_from_db()
    assert waiting.status == InvoiceStatus.DRAFT
    assert entries(waiting) == [("invoice_issue", "", "DRAFT")]
    assert (automatic.status, automatic.number) == (InvoiceStatus.OPEN, "TAP-2026-000001")
    assert automatic.decided_by is None
    assert entries(automatic) == [
        ("invoice_issue", "", "DRAFT"),
        ("invoice_approve", "DRAFT", "OPEN"),
    ]
    assert charges == [automatic.pk]


# --- Void and write-off ---------------------------------------------------------------------


def test_void_needs_a_reason_and_is_final(draft, finance):
    with pytest.raises(DomainError, match="A reason is required"):
        invoice_void(invoice=draft, actor=finance, reason="  ")
    invoice_void(invoice=draft, actor=finance, reason="Billed the wrong provider.")

    with pytest.raises(
        InvalidTransition, match="it is Void, and from VOID it can only move to nothing"
    ):
        invoice_void(invoice=draft, actor=finance, reason="again")

    draft.refresh_from_db()
    assert (draft.status, draft.number, draft.decision_reason) == (
        InvoiceStatus.VOID,
        None,
        "Billed the wrong provider.",
    )
    assert entries(draft) == [("invoice_void", "DRAFT", "VOID")]


def test_an_open_invoice_with_money_received_is_not_voided(provider, finance, charges):
    invoice = open_invoice(provider)
    payment_record_offline(
        invoice=invoice, amount_cents=100, method="WIRE", reference="W-1", actor=finance
    )

    with pytest.raises(DomainError, match=r"\$1\.00 has been paid on it"):
        invoice_void(invoice=invoice, actor=finance, reason="oops")

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN


def test_write_off_stops_collection_and_a_late_payment_still_settles(provider, finance, charges):
    invoice = open_invoice(provider)
    Invoice.objects.filter(pk=invoice.pk).update(next_charge_at="2026-11-05T00:00Z")

    invoice_mark_uncollectible(invoice=invoice, actor=finance, reason="Company dissolved.")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.next_charge_at) == (InvoiceStatus.UNCOLLECTIBLE, None)

    payment_record_offline(
        invoice=invoice, amount_cents=100_000, method="CHECK", reference="CHK 1001", actor=finance
    )

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert [e[0] for e in entries(invoice)] == [
        "invoice_approve",
        "invoice_mark_uncollectible",
        "payment_record_offline",
        "invoice_apply_payment",
        "invoice_paid",
    ]


def test_a_draft_cannot_be_written_off(draft, finance):
    with pytest.raises(
        InvalidTransition, match="it is Draft, and from DRAFT it can only move to OPEN, VOID"
    ):
        invoice_mark_uncollectible(invoice=draft, actor=finance, reason="no")


# --- Credit notes ----------------------------------------------------------------------------


def test_a_partial_credit_lowers_the_amount_due(provider, finance, charges):
    invoice = open_invoice(provider)

    note = credit_note_create(
        invoice=invoice, amount_cents=25_000, reason="Outage on 3 October.", actor=finance
    )

    invoice.refresh_from_db()
    assert (note.amount_cents, note.reason, note.created_by) == (
        25_000,
        "Outage on 3 October.",
        finance,
    )
    assert (invoice.status, invoice.credited_cents, invoice.amount_due_cents) == (
        InvoiceStatus.OPEN,
        25_000,
        75_000,
    )
    entry = AuditEntry.objects.get(action="credit_note_create")
    assert (entry.reason, entry.extra["amount_cents"], entry.actor) == (
        "Outage on 3 October.",
        25_000,
        finance,
    )


def test_a_credit_of_all_that_is_due_settles_the_invoice(provider, finance, charges):
    invoice = open_invoice(provider)
    credit_note_create(invoice=invoice, amount_cents=40_000, reason="Goodwill", actor=finance)

    credit_note_create(invoice=invoice, amount_cents=60_000, reason="Goodwill", actor=finance)

    invoice.refresh_from_db()
    assert (invoice.status, invoice.credited_cents) == (InvoiceStatus.PAID, 100_000)
    assert entries(invoice)[-1] == ("invoice_paid", "OPEN", "PAID")


@pytest.mark.parametrize(
    ("amount", "reason", "message"),
    [
        (100_001, "Too much", r"Cannot credit \$1,000\.01 .*only \$1,000\.00 is still due"),
        (0, "Zero", "greater than zero"),
        (-5, "Negative", "greater than zero"),
        (10.5, "Not cents", "whole cents"),
        (100, "   ", "needs a reason"),
    ],
)
def test_a_credit_note_out_of_bounds_is_refused_and_changes_nothing(
    provider, finance, charges, amount, reason, message
):
    invoice = open_invoice(provider)

    with pytest.raises(DomainError, match=message):
        credit_note_create(invoice=invoice, amount_cents=amount, reason=reason, actor=finance)

    invoice.refresh_from_db()
    assert (invoice.credited_cents, CreditNote.objects.count()) == (0, 0)


def test_a_credit_note_cannot_exceed_what_is_left_after_payments(provider, finance, charges):
    invoice = open_invoice(provider)
    payment_record_offline(
        invoice=invoice, amount_cents=90_000, method="WIRE", reference="W-9", actor=finance
    )

    with pytest.raises(DomainError, match=r"only \$100\.00 is still due"):
        credit_note_create(invoice=invoice, amount_cents=10_001, reason="x", actor=finance)


def test_only_open_invoices_are_credited(draft, finance):
    with pytest.raises(DomainError, match="it is Draft; only an open invoice can be credited"):
        credit_note_create(invoice=draft, amount_cents=100, reason="x", actor=finance)


# --- Payments --------------------------------------------------------------------------------


def test_a_partial_wire_is_recorded_and_the_rest_stays_due(provider, finance, charges):
    invoice = open_invoice(provider)

    payment = payment_record_offline(
        invoice=invoice,
        amount_cents=30_000,
        method=PaymentMethodKind.WIRE,
        reference=" FED-REF-42 ",
        actor=finance,
    )

    invoice.refresh_from_db()
    assert (payment.status, payment.method, payment.reference, payment.recorded_by) == (
        PaymentStatus.SUCCEEDED,
        PaymentMethodKind.WIRE,
        "FED-REF-42",
        finance,
    )
    assert payment.settled_at is not None
    assert (invoice.status, invoice.paid_cents, invoice.amount_due_cents) == (
        InvoiceStatus.OPEN,
        30_000,
        70_000,
    )


def test_a_check_for_the_rest_settles_the_invoice(provider, finance, charges):
    invoice = open_invoice(provider)
    credit_note_create(invoice=invoice, amount_cents=10_000, reason="Outage", actor=finance)

    payment_record_offline(
        invoice=invoice, amount_cents=90_000, method="CHECK", reference="CHK 77", actor=finance
    )

    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_cents, invoice.amount_due_cents) == (
        InvoiceStatus.PAID,
        90_000,
        0,
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount_cents": 100_001}, r"only \$1,000\.00 is due"),
        ({"method": "CARD"}, "wire transfer or a check"),
        ({"reference": "  "}, "Give the wire or check reference"),
        ({"reference": "x" * 201}, "at most 200 characters"),
        ({"amount_cents": 0}, "greater than zero"),
    ],
)
def test_an_offline_payment_out_of_bounds_is_refused(provider, finance, charges, changes, message):
    invoice = open_invoice(provider)
    data = {"amount_cents": 100, "method": "WIRE", "reference": "W", **changes}

    with pytest.raises(DomainError, match=message):
        payment_record_offline(invoice=invoice, actor=finance, **data)

    assert Payment.objects.count() == 0


def test_payments_are_refused_on_drafts_and_void_invoices(draft, finance):
    with pytest.raises(DomainError, match="it is Draft"):
        payment_record_offline(
            invoice=draft, amount_cents=100, method="WIRE", reference="W", actor=finance
        )


def test_applying_the_same_payment_twice_counts_it_once(provider, charges):
    invoice = open_invoice(provider)
    card = Payment.objects.create(
        invoice=invoice,
        method=PaymentMethodKind.CARD,
        status=PaymentStatus.SUCCEEDED,
        amount_cents=40_000,
        attempt=1,
    )

    invoice_apply_payment(invoice=invoice, payment=card, actor=None)
    invoice_apply_payment(invoice=invoice, payment=card, actor=None)

    invoice.refresh_from_db()
    assert invoice.paid_cents == 40_000
    assert [e[0] for e in entries(invoice)].count("invoice_apply_payment") == 1


def test_a_failed_or_foreign_payment_is_not_applied(provider, charges):
    invoice = open_invoice(provider)
    other = open_invoice(provider, period=date(2026, 9, 1))
    failed = Payment.objects.create(
        invoice=invoice, method="CARD", status=PaymentStatus.FAILED, amount_cents=1, attempt=1
    )
    foreign = Payment.objects.create(
        invoice=other, method="CARD", status=PaymentStatus.SUCCEEDED, amount_cents=1, attempt=1
    )

    with pytest.raises(DomainError, match="has not succeeded"):
        invoice_apply_payment(invoice=invoice, payment=failed, actor=None)
    with pytest.raises(DomainError, match="belongs to another invoice"):
        invoice_apply_payment(invoice=invoice, payment=foreign, actor=None)

    invoice.refresh_from_db()
    assert invoice.paid_cents == 0


def test_a_card_payment_after_an_offline_one_is_recorded_as_an_overpayment(
    provider, finance, charges
):
    invoice = open_invoice(provider)
    payment_record_offline(
        invoice=invoice, amount_cents=100_000, method="WIRE", reference="W", actor=finance
    )
    late_card = Payment.objects.create(
        invoice=invoice, method="CARD", status=PaymentStatus.SUCCEEDED, amount_cents=100_000
    )

    invoice_apply_payment(invoice=invoice, payment=late_card, actor=None)

    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_cents, invoice.amount_due_cents) == (
        InvoiceStatus.PAID,
        200_000,
        0,
    )
    entry = AuditEntry.objects.filter(action="invoice_apply_payment").latest("pk")
    assert entry.extra["overpaid_cents"] == 100_000


# --- Billing hold ---------------------------------------------------------------------------


def overdue(provider, *, days_past_due: int, period=date(2026, 8, 1)) -> Invoice:
    invoice = open_invoice(provider, period=period)
    Invoice.objects.filter(pk=invoice.pk).update(due_on=TODAY - timedelta(days=days_past_due))
    invoice.refresh_from_db()
    return invoice


def test_paying_the_overdue_invoice_lifts_the_hold(provider, finance, charges):
    invoice = overdue(provider, days_past_due=20)
    provider_billing_hold_set(provider=provider, reason="Unpaid", actor=None)

    payment_record_offline(
        invoice=invoice, amount_cents=100_000, method="WIRE", reference="W", actor=finance
    )

    provider.refresh_from_db()
    assert provider.billing_hold is False
    assert AuditEntry.objects.filter(action="billing_hold_release", provider=provider).count() == 1


def test_the_hold_stays_while_another_invoice_is_past_the_grace_period(provider, finance, charges):
    first = overdue(provider, days_past_due=40, period=date(2026, 7, 1))
    overdue(provider, days_past_due=16, period=date(2026, 8, 1))
    provider_billing_hold_set(provider=provider, reason="Unpaid", actor=None)

    credit_note_create(invoice=first, amount_cents=100_000, reason="Disputed", actor=finance)

    provider.refresh_from_db()
    assert provider.billing_hold is True


def test_an_invoice_within_the_grace_period_does_not_keep_the_hold(provider, finance, charges):
    """15 days past due is within the default grace (more than 15 days puts on hold)."""
    first = overdue(provider, days_past_due=30, period=date(2026, 7, 1))
    overdue(provider, days_past_due=15, period=date(2026, 8, 1))
    provider_billing_hold_set(provider=provider, reason="Unpaid", actor=None)

    invoice_void(invoice=first, actor=finance, reason="Billed in error.")

    provider.refresh_from_db()
    assert provider.billing_hold is False


def test_a_write_off_keeps_the_hold_and_a_late_payment_lifts_it(provider, finance, charges):
    invoice = overdue(provider, days_past_due=40)
    provider_billing_hold_set(provider=provider, reason="Unpaid", actor=None)
    later = open_invoice(provider, period=date(2026, 10, 1))

    invoice_mark_uncollectible(invoice=invoice, actor=finance, reason="Gave up collecting.")
    payment_record_offline(
        invoice=later, amount_cents=100_000, method="WIRE", reference="W-1", actor=finance
    )
    provider.refresh_from_db()
    held_after_write_off = provider.billing_hold

    payment_record_offline(
        invoice=invoice, amount_cents=100_000, method="CHECK", reference="C-1", actor=finance
    )

    provider.refresh_from_db()
    assert held_after_write_off is True
    assert provider.billing_hold is False


def test_lifting_without_a_hold_does_nothing(provider):
    assert billing_hold_lift_if_settled(provider=provider) is False
    assert not AuditEntry.objects.filter(action="billing_hold_release").exists()


# --- Resend -----------------------------------------------------------------------------------


def test_resend_mails_an_issued_invoice_again_and_is_audited(
    provider, finance, charges, mailoutbox, django_capture_on_commit_callbacks
):
    invoice = open_invoice(provider)

    with django_capture_on_commit_callbacks(execute=True):
        invoice_resend(invoice=invoice, actor=finance)

    (mail,) = mailoutbox
    assert invoice.number in mail.subject
    entry = AuditEntry.objects.get(action="invoice_resend")
    assert (entry.actor, entry.extra["to"]) == (
        finance,
        ["billing@example.com", "owner@example.com"],
    )


def test_a_draft_is_never_sent(draft, finance, mailoutbox, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(DomainError, match="never issued"),
    ):
        invoice_resend(invoice=draft, actor=finance)

    assert mailoutbox == []


def test_a_failing_mail_server_does_not_undo_the_approval(
    draft, charges, monkeypatch, django_capture_on_commit_callbacks
):
    def refuse(**kwargs):
        raise OSError("mail server down")

    monkeypatch.setattr(services, "send_mail", refuse)

    with django_capture_on_commit_callbacks(execute=True):
        invoice_approve(invoice=draft, actor=None)

    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.OPEN
    assert charges == [draft.pk]
