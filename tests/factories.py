"""factory_boy factories. They write rows directly for test set-up; behaviour under test
goes through the services."""

from datetime import timedelta

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
