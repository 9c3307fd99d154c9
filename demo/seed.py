"""Demo data for a local portal, created through the real services so the audit log, hashes
and constraints are exactly what production would have. Idempotent: a second run finds every
record and changes nothing."""

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services as account_services
from accounts.constants import ProviderType
from accounts.models import Provider, User
from agreements import services as agreement_services
from agreements.constants import AgreementStatus, MidLinkStatus, MidRelation, ScheduleLineStatus
from agreements.models import Agreement, AgreementVersion, MidLink
from core.otp import base32_secret, staff_totp_enrol
from demo import billing_seed, tracking_seed
from demo.extracts_seed import seed_extracts
from demo.webhooks_seed import seed_webhooks

ACCESS_START = datetime(2026, 4, 1, tzinfo=UTC)

AGREEMENT_V1_TEXT = """\
USPS Tracking Data Intellectual Property Agreement, version 1

1. Tracking data remains the intellectual property of the United States Postal Service.
2. The Provider may read tracking data only for the Mailer IDs it owns, is authorized for by
   their owners, or that are listed in an approved schedule to this agreement.
3. The Provider shall not resell, republish or build derivative datasets of tracking data.
4. The Provider pays the monthly access fee; access is suspended while an invoice is overdue.
5. Every disclosure is logged; the Postal Service may audit the Provider's use at any time.
"""

AGREEMENT_V2_TEXT = AGREEMENT_V1_TEXT.replace("version 1", "version 2") + (
    "6. The Provider shall report any disclosure of tracking data to a third party within\n"
    "   72 hours.\n"
)

# The authenticator secret of every demo staff login: development only, printed by seed_demo.
# The current code: `oathtool --totp -b <secret>`, or DEMO_TOTP_CODE_COMMAND below.
DEMO_TOTP_SECRET = "PORTALDEMOSTAFFTOTPDEVELOPMENTXY"  # noqa: S105 - a published demo value
DEMO_TOTP_CODE_COMMAND = (
    ".venv/bin/python -c 'import base64; from django_otp.oath import totp; "
    f'print("%06d" % totp(base64.b32decode("{DEMO_TOTP_SECRET}")))\''
)

# A minimal, valid one-page PDF standing in for a scanned letter of authorization.
DEMO_LETTER = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)

SHIPPER_MID = "901234567"  # owned by Acme; Parcel Insights is authorized for it
ANALYTICS_MID = "902345678"  # owned by Parcel Insights
SCHEDULE_MID = "654321"  # granted to Parcel Insights by its agreement's schedule
REJECTED_MID = "903456789"  # claimed by LabelHub as its own; staff rejected it
REQUESTED_LINE_MID = "612345"  # asked for in Route Metrics' schedule; waits for staff
LETTER_MID = "904567890"  # Route Metrics is authorized by its owner's letter; waits for staff


class DemoDataRefused(Exception):
    """Demo data carries well-known passwords and must never reach production."""


@dataclass
class DemoReport:
    users: list[dict[str, Any]] = field(default_factory=list)
    totp: dict[str, str] = field(default_factory=dict)
    pending_review: list[dict[str, Any]] = field(default_factory=list)
    agreement_versions: list[dict[str, Any]] = field(default_factory=list)
    providers: list[dict[str, Any]] = field(default_factory=list)
    sample_tracking_numbers: list[dict[str, Any]] = field(default_factory=list)
    api_clients: list[dict[str, Any]] = field(default_factory=list)
    tracking_data: dict[str, Any] = field(default_factory=dict)
    extracts: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    billing: dict[str, Any] = field(default_factory=dict)
    created: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def created_anything(self) -> bool:
        return self.created > 0


def _sign(
    *,
    provider: Provider,
    version: AgreementVersion,
    signer: User,
    name: str,
    title: str,
    schedule_lines: list[tuple[str, str]],
) -> Agreement:
    """A signature on exactly the published text, as the portal's signing page makes it."""
    return agreement_services.agreement_sign(
        provider=provider,
        version=version,
        signer=signer,
        signer_name=name,
        signer_title=title,
        attested_authority=True,
        shown_text_sha256=version.text_sha256,
        ip_address="127.0.0.1",
        user_agent="seed_demo",
        schedule_lines=schedule_lines,
    )


class _Seeder:
    def __init__(self) -> None:
        self.report = DemoReport()
        self.password = settings.DEMO_PASSWORD

    def _count(self, created: bool) -> bool:
        self.report.created += int(created)
        return created

    def user(
        self, *, email: str, role: str, superuser: bool = False, staff_group: str | None = None
    ) -> User:
        """A demo login; staff (the superuser, or a member of `staff_group`) get the demo
        authenticator, since the admin asks for a TOTP code."""
        user = User.objects.filter(email=email).first()
        created = user is None
        if created:
            if superuser:
                user = User.objects.create_superuser(email=email, password=self.password)
            else:
                user = User.objects.create_user(
                    email=email, password=self.password, is_staff=staff_group is not None
                )
            if staff_group is not None:
                user.groups.add(Group.objects.get(name=staff_group))  # core migration 0002
        # Portal sign-in requires a verified address (allauth); demo addresses are pre-verified.
        EmailAddress.objects.get_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        self._count(created)
        entry = {"email": email, "password": self.password, "role": role, "created": created}
        if user.is_staff:
            entry |= self.authenticator(user)
        self.report.users.append(entry)
        return user

    def authenticator(self, user: User) -> dict[str, str | None]:
        """The demo TOTP device of a staff login, enrolled unless they already have one.

        A device enrolled otherwise (staff_totp_enrol) is left alone; its secret is not shown.
        """
        device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
        if self._count(device is None):
            device = staff_totp_enrol(user=user, secret=DEMO_TOTP_SECRET)
        if base32_secret(device) != DEMO_TOTP_SECRET:
            return {"totp_secret": None, "otpauth_uri": None}
        self.report.totp = {"secret": DEMO_TOTP_SECRET, "code_command": DEMO_TOTP_CODE_COMMAND}
        return {"totp_secret": DEMO_TOTP_SECRET, "otpauth_uri": device.config_url}

    def version(self, *, staff: User) -> AgreementVersion:
        version = AgreementVersion.objects.filter(label="v1").first()
        created = version is None
        if created:
            version = agreement_services.agreement_version_create(
                label="v1",
                text=AGREEMENT_V1_TEXT,
                effective_at=ACCESS_START,
                applies_to=[ProviderType.SERVICE_PROVIDER],
                reacceptance_days=30,
                actor=staff,
            )
            version = agreement_services.agreement_version_publish(version=version, actor=staff)
        self._count(created)
        self.report.agreement_versions.append(
            {
                "label": version.label,
                "effective_at": version.effective_at.isoformat(),
                "published": version.is_published,
                "text_sha256": version.text_sha256,
                "applies_to": version.applies_to,
                "created": created,
            }
        )
        return version

    def provider(
        self,
        *,
        legal_name: str,
        dba_name: str,
        provider_type: str,
        owner: User,
        active: bool,
        staff: User,
        crid: str,
    ) -> tuple[Provider, bool]:
        provider = Provider.objects.filter(legal_name=legal_name).first()
        created = provider is None
        if created:
            provider = account_services.provider_create(
                owner=owner,
                legal_name=legal_name,
                dba_name=dba_name,
                provider_type=provider_type,
                crid=crid,
                address_line1="475 L'Enfant Plaza SW",
                city="Washington",
                state="DC",
                zip_code="20260",
                contact_email=owner.email,
                contact_phone="+1 202 555 0100",
            )
            if active:
                account_services.provider_approve(
                    provider=provider, actor=staff, reason="Demo: documents checked"
                )
        self._count(created)
        return provider, created

    def mid_link(
        self,
        *,
        provider: Provider,
        mid: str,
        relation: str,
        requester: User,
        staff: User,
        owner_name: str = "",
        owner_crid: str = "",
    ) -> MidLink:
        link = MidLink.objects.filter(
            provider=provider, mid=mid, relation=relation, status=MidLinkStatus.VERIFIED
        ).first()
        created = link is None
        if created:
            evidence = None
            if relation == MidRelation.AUTHORIZED_BY_OWNER:
                evidence = SimpleUploadedFile(f"loa-{mid}.pdf", DEMO_LETTER, "application/pdf")
            link = agreement_services.mid_link_request(
                provider=provider,
                mid=mid,
                relation=relation,
                requested_by=requester,
                valid_from=ACCESS_START,
                owner_name=owner_name,
                owner_crid=owner_crid,
                evidence=evidence,
            )
            link = agreement_services.mid_link_verify(
                link=link, actor=staff, reason="Demo: matches the BCG record"
            )
        self._count(created)
        return link

    def consent_request(self, *, provider: Provider, owner: Provider, mid: str, requester: User):
        """An authorized claim without a letter: routed to the registered owner to decide."""
        link = MidLink.objects.filter(
            provider=provider, mid=mid, owner_provider=owner, status=MidLinkStatus.REQUESTED
        ).first()
        created = link is None
        if created:
            link = agreement_services.mid_link_request(
                provider=provider,
                mid=mid,
                relation=MidRelation.AUTHORIZED_BY_OWNER,
                requested_by=requester,
            )
        self._count(created)
        return link

    def rejected_claim(self, *, provider: Provider, mid: str, requester: User, staff: User):
        link = MidLink.objects.filter(
            provider=provider, mid=mid, status=MidLinkStatus.REJECTED
        ).first()
        created = link is None
        if created:
            link = agreement_services.mid_link_request(
                provider=provider, mid=mid, relation=MidRelation.OWNED, requested_by=requester
            )
            link = agreement_services.mid_link_reject(
                link=link,
                actor=staff,
                reason="Demo: the Business Customer Gateway lists another mailer for this MID.",
            )
        self._count(created)
        return link

    def agreement(
        self, *, provider: Provider, version: AgreementVersion, signer: User, staff: User
    ) -> Agreement:
        agreement = Agreement.objects.filter(
            provider=provider, version=version, status=AgreementStatus.APPROVED
        ).first()
        created = agreement is None
        if created:
            agreement = _sign(
                provider=provider,
                version=version,
                signer=signer,
                name="Dana Analyst",
                title="Chief Executive Officer",
                schedule_lines=[
                    (SCHEDULE_MID, "Regional shipper without API access asked us to report.")
                ],
            )
            agreement_services.agreement_approve(
                agreement=agreement, actor=staff, reason="Demo: signature verified"
            )
            for line in agreement.schedule_lines.all():
                agreement_services.schedule_line_approve(
                    line=line, actor=staff, reason="Demo: justification accepted"
                )
        self._count(created)
        return agreement

    def submitted_agreement(
        self, *, provider: Provider, version: AgreementVersion, signer: User
    ) -> Agreement:
        """A signature waiting for staff, with a schedule line waiting beside it."""
        agreement = Agreement.objects.filter(provider=provider, version=version).first()
        created = agreement is None
        if created:
            agreement = _sign(
                provider=provider,
                version=version,
                signer=signer,
                name="Riley Metrics",
                title="Chief Operating Officer",
                schedule_lines=[
                    (
                        REQUESTED_LINE_MID,
                        "A regional mailer without API access asked us to report on its parcels.",
                    )
                ],
            )
        self._count(created)
        return agreement

    def letter_claim(
        self, *, provider: Provider, mid: str, requester: User, owner_name: str, owner_crid: str
    ) -> MidLink:
        """An authorized claim with the owner's letter: it goes to staff, not to the owner."""
        link = MidLink.objects.filter(
            provider=provider, mid=mid, relation=MidRelation.AUTHORIZED_BY_OWNER
        ).first()
        created = link is None
        if created:
            link = agreement_services.mid_link_request(
                provider=provider,
                mid=mid,
                relation=MidRelation.AUTHORIZED_BY_OWNER,
                requested_by=requester,
                owner_name=owner_name,
                owner_crid=owner_crid,
                evidence=SimpleUploadedFile(f"loa-{mid}.pdf", DEMO_LETTER, "application/pdf"),
            )
        self._count(created)
        return link

    def draft_version(self, *, staff: User) -> AgreementVersion:
        """A draft for reviewers to edit and publish; nobody is affected until it is published."""
        version = AgreementVersion.objects.filter(label="v2").first()
        created = version is None
        if created:
            version = agreement_services.agreement_version_create(
                label="v2",
                text=AGREEMENT_V2_TEXT,
                effective_at=timezone.now() + timedelta(days=60),
                applies_to=[ProviderType.SERVICE_PROVIDER],
                reacceptance_days=30,
                actor=staff,
            )
        self._count(created)
        self.report.agreement_versions.append(
            {
                "label": version.label,
                "effective_at": version.effective_at.isoformat(),
                "published": version.is_published,
                "text_sha256": version.text_sha256,
                "applies_to": version.applies_to,
                "created": created,
            }
        )
        return version

    def pending(self, queue: str, record: Any, what: str) -> None:
        record.refresh_from_db()
        self.report.pending_review.append(
            {"queue": queue, "id": record.pk, "status": record.status, "what": what}
        )

    def describe(self, provider: Provider, owner: User, created: bool) -> None:
        provider.refresh_from_db()
        agreement = provider.agreements.filter(status=AgreementStatus.APPROVED).first()
        self.report.providers.append(
            {
                "legal_name": provider.legal_name,
                "provider_type": provider.provider_type,
                "status": provider.status,
                "owner": owner.email,
                "created": created,
                "mid_links": [
                    {"mid": link.mid, "relation": link.relation, "status": link.status}
                    for link in provider.mid_links.order_by("mid")
                ],
                "agreement": None
                if agreement is None
                else {
                    "version": agreement.version.label,
                    "status": agreement.status,
                    "schedule_lines": [
                        {"mid": line.mid, "status": line.status}
                        for line in agreement.schedule_lines.filter(
                            status=ScheduleLineStatus.APPROVED
                        )
                    ],
                },
            }
        )

    def tracking(self, *, owners: dict[str, User]) -> None:
        """Pieces for the demo MIDs and for MIDs nobody claimed, one API client per demo
        provider, and sample numbers that behave as labelled."""
        mids = [ANALYTICS_MID, SHIPPER_MID, SCHEDULE_MID, LETTER_MID, REQUESTED_LINE_MID]
        loaded = tracking_seed.load_pieces(mids=[*mids, *tracking_seed.UNCLAIMED_MIDS])
        records = loaded.pop("_records")
        self._count(loaded["pieces_created"] > 0 or loaded["events_imported"] > 0)
        self.report.tracking_data = loaded
        providers = {p.legal_name: p for p in Provider.objects.filter(legal_name__in=owners)}
        for client in tracking_seed.CLIENTS:
            entry, created = tracking_seed.api_client(
                client=client, provider=providers[client.provider], actor=owners[client.provider]
            )
            self._count(created)
            self.report.api_clients.append(entry)
        insights = providers["Parcel Insights LLC"]
        acme = providers["Acme Shipping Co."]
        stored = {mid: tracking_seed.delivered_piece(records, mid) for mid in loaded["mids"]}
        s10, retail = tracking_seed.no_mid_numbers()
        asked = [
            (insights, stored[ANALYTICS_MID]),  # its own MID
            (insights, stored[SHIPPER_MID]),  # authorized by Acme, the owner
            (insights, stored[SCHEDULE_MID]),  # granted by its agreement's schedule
            (insights, stored[tracking_seed.UNCLAIMED_MIDS[0]]),  # stored, nobody's: denied
            (insights, tracking_seed.unknown_number(ANALYTICS_MID)),  # allowed, not stored
            (insights, s10),  # no MID: denied, whether stored or not
            (insights, retail),
            # Reads as ZIP5 + a PIC of MID 312345 or ZIP9 + a PIC of MID 451234: refused.
            (insights, "4202026093009312345123456789012340"),
            (acme, stored[SHIPPER_MID]),  # its own
            (acme, stored[ANALYTICS_MID]),  # stored, but another provider's MID
        ]
        self.report.sample_tracking_numbers = [
            tracking_seed.sample(provider, number) for provider, number in asked
        ]


def seed_demo() -> DemoReport:
    if not settings.DEMO_DATA_ALLOWED:
        raise DemoDataRefused(
            "seed_demo is disabled by these settings (DEMO_DATA_ALLOWED is off, as in production)."
        )
    seed = _Seeder()
    billing = _seed_portal(seed)
    # Billing runs after the rest has committed, step by step: the charges its approvals queue
    # run at each step's commit (demo/billing_seed.py explains why).
    seed.report.billing = billing_seed.seed_billing(**billing, count=seed._count)
    return seed.report


@transaction.atomic
def _seed_portal(seed: _Seeder) -> dict[str, Any]:
    """Everything but billing, in one transaction; returns who billing's demo needs."""
    staff = seed.user(email="admin@example.com", role="superuser (postal staff)", superuser=True)
    reviewer = seed.user(
        email="reviewer@usps.example",
        role="staff: Agreement reviewers",
        staff_group="Agreement reviewers",
    )
    finance = seed.user(email="finance@usps.example", role="staff: Finance", staff_group="Finance")
    seed.user(
        email="support@usps.example", role="staff: Support (read-only)", staff_group="Support"
    )
    analyst = seed.user(email="owner@parcelinsights.example", role="owner, Parcel Insights")
    shipper_owner = seed.user(email="owner@acmeshipping.example", role="owner, Acme Shipping")
    platform_owner = seed.user(email="owner@labelhub.example", role="owner, LabelHub")
    newcomer_owner = seed.user(email="owner@routemetrics.example", role="owner, Route Metrics")
    version = seed.version(staff=staff)

    acme, acme_created = seed.provider(
        legal_name="Acme Shipping Co.",
        dba_name="Acme Shipping",
        crid="20538353",
        provider_type=ProviderType.SHIPPER,
        owner=shipper_owner,
        active=True,
        staff=staff,
    )
    seed.mid_link(
        provider=acme,
        mid=SHIPPER_MID,
        relation=MidRelation.OWNED,
        requester=shipper_owner,
        staff=staff,
    )

    insights, insights_created = seed.provider(
        legal_name="Parcel Insights LLC",
        dba_name="Parcel Insights",
        crid="31415926",
        provider_type=ProviderType.SERVICE_PROVIDER,
        owner=analyst,
        active=True,
        staff=staff,
    )
    seed.agreement(provider=insights, version=version, signer=analyst, staff=staff)
    seed.mid_link(
        provider=insights,
        mid=ANALYTICS_MID,
        relation=MidRelation.OWNED,
        requester=analyst,
        staff=staff,
    )
    seed.mid_link(
        provider=insights,
        mid=SHIPPER_MID,
        relation=MidRelation.AUTHORIZED_BY_OWNER,
        requester=analyst,
        staff=staff,
        owner_name="Acme Shipping Co.",
        owner_crid="20538353",
    )

    labelhub, labelhub_created = seed.provider(
        legal_name="LabelHub Inc.",
        dba_name="LabelHub",
        crid="",
        provider_type=ProviderType.PLATFORM,
        owner=platform_owner,
        active=False,
        staff=staff,
    )

    # LabelHub (pending review) asks Acme for its MID: Acme's owner sees the request on
    # "Who can read my MIDs"; and one of LabelHub's own claims was rejected, with the reason.
    seed.consent_request(provider=labelhub, owner=acme, mid=SHIPPER_MID, requester=platform_owner)
    seed.rejected_claim(provider=labelhub, mid=REJECTED_MID, requester=platform_owner, staff=staff)

    # Route Metrics, a newcomer: approved as an organisation, its signature, the schedule line
    # it asked for and a MID claimed with the owner's letter all wait for staff.
    metrics, metrics_created = seed.provider(
        legal_name="Route Metrics LLC",
        dba_name="Route Metrics",
        crid="27182818",
        provider_type=ProviderType.SERVICE_PROVIDER,
        owner=newcomer_owner,
        active=True,
        staff=staff,
    )
    submitted = seed.submitted_agreement(provider=metrics, version=version, signer=newcomer_owner)
    letter_link = seed.letter_claim(
        provider=metrics,
        mid=LETTER_MID,
        requester=newcomer_owner,
        owner_name="Blue Ridge Outfitters",
        owner_crid="16180339",
    )
    draft = seed.draft_version(staff=staff)

    seed.describe(acme, shipper_owner, acme_created)
    seed.describe(insights, analyst, insights_created)
    seed.describe(labelhub, platform_owner, labelhub_created)
    seed.describe(metrics, newcomer_owner, metrics_created)
    # One item in every staff queue.
    seed.pending("providers", labelhub, f"{labelhub.legal_name}: approve the organisation")
    seed.pending("agreements", submitted, f"{metrics.legal_name}: signed {version.label}")
    for line in submitted.schedule_lines.all():
        seed.pending("schedule lines", line, f"{metrics.legal_name}: MID {line.mid}")
    seed.pending("MID links", letter_link, f"{metrics.legal_name}: MID {LETTER_MID}, with a letter")
    seed.report.pending_review.append(
        {"queue": "agreement versions", "id": draft.pk, "status": "DRAFT", "what": "v2: publish"}
    )
    seed.tracking(
        owners={insights.legal_name: analyst, acme.legal_name: shipper_owner},
    )
    # A built extract per provider (the service provider's approved by the demo reviewer, as
    # staff would) and a subscription, disabled until pointed at a real listener.
    seed.report.extracts = [
        seed_extracts(
            provider=insights, actor=analyst, mids=[ANALYTICS_MID, SHIPPER_MID], reviewer=reviewer
        ),
        seed_extracts(provider=acme, actor=shipper_owner, mids=[SHIPPER_MID]),
    ]
    seed.report.webhooks = [seed_webhooks(provider=insights, mid=ANALYTICS_MID, actor=analyst)]
    for entry in [*seed.report.extracts, *seed.report.webhooks]:
        seed._count(bool(entry.get("created")))
    return {"finance": finance, "paying": insights, "payer": analyst, "held": metrics}
