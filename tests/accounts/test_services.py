import pytest
from django.core.exceptions import ValidationError

from accounts import services
from accounts.constants import MembershipRole, ProviderStatus, ProviderType
from accounts.models import Membership, Provider, crid_validator
from core.errors import DomainError
from core.models import AuditEntry
from tests.factories import ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db

ADDRESS = {
    "address_line1": "1 Main St",
    "city": "Springfield",
    "state": "il",
    "zip_code": "62701-1234",
    "contact_email": "ops@example.com",
    "contact_phone": "+1 217 555 0100",
}


def test_a_new_provider_waits_for_review_with_its_creator_as_owner():
    owner = UserFactory()

    provider = services.provider_create(
        owner=owner,
        legal_name=" Parcel Insights LLC ",
        provider_type=ProviderType.SERVICE_PROVIDER,
        crid="12345678",
        **ADDRESS,
    )

    assert provider.status == ProviderStatus.PENDING_REVIEW
    assert (provider.legal_name, provider.state) == ("Parcel Insights LLC", "IL")
    assert Membership.objects.get(provider=provider).role == MembershipRole.OWNER
    assert AuditEntry.objects.get().action == "provider_create"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("crid", "12ab", "A CRID is 2 to 18 digits."),
        # Unicode digits (fullwidth, Arabic-Indic) are digits to Python's \\d, not to USPS.
        ("crid", "１２３４５", "A CRID is 2 to 18 digits."),
        ("crid", "١٢٣٤٥", "A CRID is 2 to 18 digits."),
        ("zip_code", "1234", "Use a ZIP code like 20260"),
        ("zip_code", "１２３４５", "Use a ZIP code like 20260"),
        ("zip_code", "20260-٠٠٠٤", "Use a ZIP code like 20260"),
        ("provider_type", "COURIER", "is not a valid choice"),
        ("contact_email", "not-an-email", "valid email"),
    ],
)
def test_invalid_provider_details_are_refused_and_nothing_is_saved(field, value, message):
    fields = {"legal_name": "X", "provider_type": ProviderType.SHIPPER, "crid": "", **ADDRESS}
    fields[field] = value

    # One error contract for every service: a DomainError that names the field.
    with pytest.raises(DomainError, match=message) as excinfo:
        services.provider_create(owner=UserFactory(), **fields)

    assert field in excinfo.value.field_errors
    assert any(message in text for text in excinfo.value.field_errors[field])
    assert isinstance(excinfo.value.as_validation_error(), ValidationError)

    assert not Provider.objects.exists()
    assert not Membership.objects.exists()
    assert not AuditEntry.objects.exists()


def test_a_user_may_belong_to_several_providers_but_only_once_to_each():
    user = UserFactory()
    first, second = ProviderFactory(), ProviderFactory()

    services.membership_add(provider=first, user=user, role=MembershipRole.DEVELOPER, actor=None)
    services.membership_add(provider=second, user=user, role=MembershipRole.BILLING, actor=None)

    with pytest.raises(DomainError, match="already a member"):
        services.membership_add(provider=first, user=user, role=MembershipRole.ADMIN, actor=None)
    with pytest.raises(DomainError, match="Unknown role"):
        services.membership_add(provider=ProviderFactory(), user=user, role="GOD", actor=None)
    assert sorted(user.memberships.values_list("role", flat=True)) == ["BILLING", "DEVELOPER"]


def test_billing_hold_set_and_release_are_idempotent_and_audited():
    provider = ProviderFactory()

    services.provider_billing_hold_set(
        provider=provider, reason="Invoice 2026-10 unpaid", actor=None
    )
    services.provider_billing_hold_set(provider=provider, reason="again", actor=None)
    provider.refresh_from_db()
    assert provider.billing_hold and provider.billing_hold_reason == "Invoice 2026-10 unpaid"
    assert provider.billing_hold_at is not None

    services.provider_billing_hold_release(provider=provider, reason="Paid", actor=None)
    services.provider_billing_hold_release(provider=provider, reason="Paid", actor=None)
    provider.refresh_from_db()
    assert not provider.billing_hold and provider.billing_hold_at is None
    actions = list(AuditEntry.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["billing_hold_set", "billing_hold_release"]


def test_a_billing_hold_needs_a_reason():
    provider = ProviderFactory()

    with pytest.raises(DomainError, match="needs a reason"):
        services.provider_billing_hold_set(provider=provider, reason=" ", actor=None)

    provider.refresh_from_db()
    assert not provider.billing_hold


@pytest.mark.parametrize("value", ["１２３４５", "12345\n", "12 345", ""])
def test_the_crid_validator_takes_ascii_digits_only(value):
    with pytest.raises(ValidationError, match="A CRID is 2 to 18 digits"):
        crid_validator(value)

    crid_validator("012345678901234567")  # 18 ASCII digits, a leading zero kept
