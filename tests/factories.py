"""factory_boy factories. They write rows directly for test set-up; behaviour under test
goes through the services."""

from datetime import date, timedelta

import factory
from django.utils import timezone

from accounts.constants import MembershipRole, ProviderStatus, ProviderType
from accounts.models import Membership, Provider, User
from agreements.constants import AgreementStatus, MidLinkStatus, MidRelation, ScheduleLineStatus
from agreements.models import Agreement, AgreementScheduleLine, AgreementVersion, MidLink
from agreements.services import canonical_text, text_sha256

AGREEMENT_TEXT = "The provider shall use USPS tracking data only for the MIDs it is authorized for."


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        if create:
            instance.save(update_fields=["password"])


class StaffFactory(UserFactory):
    is_staff = True
    is_superuser = True


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider

    legal_name = factory.Sequence(lambda n: f"Provider {n} LLC")
    provider_type = ProviderType.SERVICE_PROVIDER
    address_line1 = "475 L'Enfant Plaza SW"
    city = "Washington"
    state = "DC"
    zip_code = "20260"
    contact_email = factory.Sequence(lambda n: f"contact{n}@example.com")
    contact_phone = "+1 202 555 0100"
    status = ProviderStatus.ACTIVE


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    provider = factory.SubFactory(ProviderFactory)
    role = MembershipRole.OWNER


class AgreementVersionFactory(factory.django.DjangoModelFactory):
    """A published version, effective 30 days ago, for service providers."""

    class Meta:
        model = AgreementVersion

    label = factory.Sequence(lambda n: f"v{n}")
    text = canonical_text(AGREEMENT_TEXT)
    text_sha256 = factory.LazyAttribute(lambda o: text_sha256(o.text))
    published_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=60))
    effective_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))
    reacceptance_days = 30
    applies_to = factory.LazyFunction(lambda: [ProviderType.SERVICE_PROVIDER])


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agreement

    provider = factory.SubFactory(ProviderFactory)
    version = factory.SubFactory(AgreementVersionFactory)
    signer = factory.SubFactory(UserFactory)
    signer_name = "Pat Example"
    signer_title = "Chief Executive"
    attested_authority = True
    signed_at = factory.LazyFunction(timezone.now)
    ip_address = "192.0.2.10"
    user_agent = "pytest"
    signed_text_sha256 = factory.LazyAttribute(lambda o: o.version.text_sha256)
    status = AgreementStatus.APPROVED


class ScheduleLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgreementScheduleLine

    agreement = factory.SubFactory(AgreementFactory)
    mid = factory.Sequence(lambda n: f"{700000 + n}")
    justification = "Analytics for a shipper that asked us to."
    status = ScheduleLineStatus.APPROVED


class MidLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MidLink

    provider = factory.SubFactory(ProviderFactory)
    mid = factory.Sequence(lambda n: f"{900000000 + n}")
    relation = MidRelation.OWNED
    owner_name = factory.Maybe(
        factory.LazyAttribute(lambda o: o.relation == MidRelation.AUTHORIZED_BY_OWNER),
        "Acme Shipping Co.",
        "",
    )
    owner_crid = factory.Maybe(
        factory.LazyAttribute(lambda o: o.relation == MidRelation.AUTHORIZED_BY_OWNER),
        "20538353",
        "",
    )
    status = MidLinkStatus.VERIFIED
    valid_from = factory.LazyFunction(lambda: timezone.now() - timedelta(days=10))
    valid_until = None
    requested_by = factory.SubFactory(UserFactory)


# --- Billing (issue 10) -----------------------------------------------------------------------
# Rows for test set-up only: invoices are created by the monthly run and moved by the services.


class FeeScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "billing.FeeSchedule"
        django_get_or_create = ("provider_type", "effective_from")

    provider_type = ProviderType.SERVICE_PROVIDER
    effective_from = date(2020, 1, 1)
    monthly_fee_cents = 100_000
    included_calls = 100_000
    overage_cents_per_1000 = 50


class InvoiceFactory(factory.django.DjangoModelFactory):
    """A DRAFT invoice of one fee line (`total_cents`), as the monthly run leaves it."""

    class Meta:
        model = "billing.Invoice"
        skip_postgeneration_save = True

    provider = factory.SubFactory(ProviderFactory)
    period = date(2026, 10, 1)
    total_cents = 100_000
    line = factory.RelatedFactory(
        "tests.factories.InvoiceLineFactory",
        factory_related_name="invoice",
        amount_cents=factory.SelfAttribute("..total_cents"),
    )


class InvoiceLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "billing.InvoiceLine"

    invoice = factory.SubFactory(InvoiceFactory, line=None)
    kind = "FEE"
    description = "Monthly access fee"
    computation = "$1,000.00 × 31/31 days = $1,000.00"
    amount_cents = 100_000


class BillingAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "billing.BillingAccount"

    provider = factory.SubFactory(ProviderFactory)
    stripe_customer_id = factory.Sequence(lambda n: f"cus_test{n:06d}")
    default_payment_method_id = factory.Sequence(lambda n: f"pm_test{n:06d}")
    card_brand = "visa"
    card_last4 = "4242"
    card_exp_month = 12
    card_exp_year = 2030


class PaymentFactory(factory.django.DjangoModelFactory):
    """A failed card attempt (money-neutral: it changes no invoice amount)."""

    class Meta:
        model = "billing.Payment"

    invoice = factory.SubFactory(InvoiceFactory)
    method = "CARD"
    status = "FAILED"
    amount_cents = factory.SelfAttribute("invoice.total_cents")
    attempt = 1
    idempotency_key = factory.LazyAttribute(lambda o: f"invoice-{o.invoice.pk}-attempt-{o.attempt}")
    stripe_payment_intent_id = factory.Sequence(lambda n: f"pi_test{n:06d}")
    failure_message = "Your card was declined."


class StripeEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "billing.StripeEvent"

    event_id = factory.Sequence(lambda n: f"evt_test{n:06d}")
    type = "payment_intent.succeeded"
    payload = factory.LazyAttribute(lambda o: {"id": o.event_id, "type": o.type, "data": {}})


class ReconciliationIssueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "billing.ReconciliationIssue"

    kind = "succeeded_in_stripe_only"
    stripe_payment_intent_id = factory.Sequence(lambda n: f"pi_recon{n:06d}")
    detail = "Stripe shows a succeeded PaymentIntent we have no payment for."


def billing_rows(provider=None) -> None:
    """One row (at least) of every billing model the admin shows, for the hostile-input walks:
    an open invoice with a fee line, a credit note, a failed card attempt and a finding, a draft
    with an overage line, a Stripe customer and a webhook event."""
    from billing.models import CreditNote, InvoiceNumberSequence

    provider = provider or ProviderFactory()
    InvoiceNumberSequence.objects.update_or_create(year=2026, defaults={"last_number": 1})
    schedule = FeeScheduleFactory()
    invoice = InvoiceFactory(
        provider=provider,
        period=date(2026, 9, 1),
        status="OPEN",
        number="TAP-2026-000001",
        issued_on=date(2026, 10, 1),
        due_on=date(2026, 10, 31),
        credited_cents=100,
        line__fee_schedule=schedule,
    )
    CreditNote.objects.create(invoice=invoice, amount_cents=100, reason="Goodwill")
    PaymentFactory(invoice=invoice)
    ReconciliationIssueFactory(invoice=invoice)
    InvoiceLineFactory(invoice=InvoiceFactory(provider=provider, line=None), kind="OVERAGE")
    BillingAccountFactory(provider=provider)
    StripeEventFactory()


def extract_and_webhook_rows(*, provider, app, piece, user) -> None:
    """Rows as the extract and webhook services leave them: a pending extract (the review
    queue's actions), a built one with a download, a subscription with a delivery and its log."""
    from tracking.constants import ExtractFormat, ExtractSource, ExtractStatus, SubscriptionFilter
    from tracking.models import (
        DeliveryAttempt,
        Extract,
        ExtractDownload,
        Subscription,
        WebhookDelivery,
    )

    today = timezone.now().date()
    common = {
        "provider": provider,
        "source": ExtractSource.PORTAL,
        "mids": [piece.mid],
        "start_date": today,
        "end_date": today,
        "file_format": ExtractFormat.NDJSON,
    }
    Extract.objects.create(status=ExtractStatus.PENDING_APPROVAL, **common)
    built = Extract.objects.create(
        status=ExtractStatus.READY,
        row_count=1,
        byte_count=20,
        sha256="0" * 64,
        expires_at=timezone.now(),
        **common,
    )
    ExtractDownload.objects.create(extract=built, user=user)
    subscription = Subscription.objects.create(
        provider=provider,
        app=app,
        filter_kind=SubscriptionFilter.MID,
        mid=piece.mid,
        event_types=["ALL_UPDATES"],
        listener_url="https://listener.example.com/hook",
        secret_encrypted="not-a-real-token",
        admin_emails=["ops@example.com"],
    )
    delivery = WebhookDelivery.objects.create(
        subscription=subscription,
        piece=piece,
        last_event=piece.events.first(),
        event_type="ALL_UPDATES",
    )
    DeliveryAttempt.objects.create(delivery=delivery, number=1, status_code=500)
