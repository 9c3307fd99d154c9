"""Whole user journeys in a real browser (Chromium through pytest-playwright).

1. A new service provider: sign-up → the verification link from the e-mail → organisation →
   invite a teammate → sign the IP agreement → claim a MID with an uploaded PDF letter →
   the dashboard shows it pending review.
2. Owner consent: a platform asks to read a shipper's MID, the shipper approves, and the
   platform's dashboard shows the MID allowed (both providers activated by staff through the
   services first).
Screenshots of every step are saved under artifacts/<test name>/.
"""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import Page, expect

from accounts import services as account_services
from accounts.constants import ProviderType
from agreements import services as agreement_services
from agreements.constants import MidLinkStatus, MidRelation
from agreements.models import Agreement, MidLink
from tests.factories import AgreementVersionFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's password
LETTER = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def verified_user():
    """A user who finished sign-up: portal sign-in requires a verified address."""
    user = UserFactory()
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def choose(page: Page, name: str, value: str) -> None:
    """Pick a USWDS radio tile the way a person does: by clicking its label."""
    radio_id = page.locator(f"input[name={name}][value={value}]").get_attribute("id")
    page.locator(f"label[for={radio_id}]").click()


def nav(page: Page, name: str) -> None:
    """Follow a link of the side navigation."""
    side = page.get_by_role("navigation", name="Side navigation")
    side.get_by_role("link", name=name, exact=True).click()


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/account/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form").get_by_role("button", name=re.compile("Sign In", re.I)).click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


def sign_out(page: Page) -> None:
    page.get_by_role("button", name=re.compile("Sign out")).click()


def test_a_service_provider_onboards_itself(live_server, page, shot, mailoutbox, tmp_path):
    version = AgreementVersionFactory(label="v1")
    base = live_server.url

    page.goto(base)
    shot("landing")
    page.get_by_role("link", name="Create an account").first.click()
    page.locator("#id_email").fill("dana@parcelinsights.example")
    page.locator("#id_password1").fill("a-long-passphrase-2026")
    page.locator("#id_password2").fill("a-long-passphrase-2026")
    shot("sign-up")
    page.locator("form").get_by_role("button", name=re.compile("Sign Up", re.I)).click()
    expect(page.get_by_role("heading", name=re.compile("Verify Your Email", re.I))).to_be_visible()
    shot("verification-sent")

    link = re.search(r"http://\S+/account/confirm-email/\S+", mailoutbox[0].body).group(0)
    page.goto(link)
    shot("confirm-email")
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", name="Tell us about your organisation")).to_be_visible()
    choose(page, "provider_type", ProviderType.SERVICE_PROVIDER)
    page.get_by_label("Legal name").fill("Parcel Insights LLC")
    page.get_by_label("Street address").fill("1 Main St")
    page.get_by_label("City").fill("Springfield")
    page.get_by_label("State").fill("IL")
    page.get_by_label("ZIP code").fill("62701")
    page.get_by_label("Contact e-mail").fill("ops@parcelinsights.example")
    page.get_by_label("Contact phone").fill("+1 217 555 0100")
    shot("organisation")
    page.get_by_role("button", name="Register organisation").click()
    expect(page.get_by_text("waits for review by postal staff")).to_be_visible()
    shot("dashboard-new")

    nav(page, "Team")
    page.get_by_label("E-mail address").fill("sam@parcelinsights.example")
    page.get_by_label("Role").select_option("DEVELOPER")
    shot("invite")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("cell", name="sam@parcelinsights.example")).to_be_visible()
    shot("invited")
    assert mailoutbox[-1].to == ["sam@parcelinsights.example"]

    nav(page, "IP agreement")
    page.get_by_label("Your full name").fill("Dana Analyst")
    page.get_by_label("Your title").fill("Chief Executive Officer")
    page.get_by_text("I am authorized to bind Parcel Insights LLC to this agreement").click()
    shot("sign-agreement")
    page.get_by_role("button", name=f"Sign IP agreement {version.label}").click()
    shot("agreement-signed")
    agreement = Agreement.objects.get()
    assert agreement.signed_text_sha256 == version.text_sha256

    nav(page, "Mailer IDs")
    page.get_by_label("Mailer ID (MID)").fill("901234567")
    choose(page, "relation", MidRelation.AUTHORIZED_BY_OWNER)
    page.get_by_label("Owner's name (authorized MIDs)").fill("Acme Shipping Co.")
    page.get_by_label("Owner's CRID (authorized MIDs)").fill("20538353")
    letter = tmp_path / "letter-of-authorization.pdf"
    letter.write_bytes(LETTER)
    # USWDS turns the file input into a drop zone; the input itself still takes the file.
    page.locator("input[type=file][name=evidence]").set_input_files(letter)
    shot("claim-mid")
    page.get_by_role("button", name="Claim this MID").click()
    shot("mid-claimed")
    assert MidLink.objects.get().status == MidLinkStatus.REQUESTED

    nav(page, "Dashboard")
    panel = page.locator(".portal-access-table")
    expect(panel.get_by_role("row", name=re.compile("901234567"))).to_contain_text("pending review")
    shot("dashboard-pending")


def test_a_shipper_consents_and_the_platform_can_read_at_once(live_server, page, shot):
    staff = StaffFactory()
    shipper_owner, platform_owner = verified_user(), verified_user()
    address = {
        "address_line1": "475 L'Enfant Plaza SW",
        "city": "Washington",
        "state": "DC",
        "zip_code": "20260",
        "contact_phone": "+1 202 555 0100",
    }
    shipper = account_services.provider_create(
        owner=shipper_owner,
        legal_name="Acme Shipping Co.",
        provider_type=ProviderType.SHIPPER,
        contact_email=shipper_owner.email,
        **address,
    )
    platform = account_services.provider_create(
        owner=platform_owner,
        legal_name="LabelHub Inc.",
        provider_type=ProviderType.PLATFORM,
        contact_email=platform_owner.email,
        **address,
    )
    for provider in (shipper, platform):
        account_services.provider_approve(provider=provider, actor=staff, reason="Checked")
    owned = agreement_services.mid_link_request(
        provider=shipper, mid="901234567", relation=MidRelation.OWNED, requested_by=shipper_owner
    )
    agreement_services.mid_link_verify(link=owned, actor=staff, reason="BCG record matches")
    base = live_server.url

    sign_in(page, base, platform_owner.email)
    nav(page, "Mailer IDs")
    page.get_by_label("Mailer ID (MID)").fill("901234567")
    choose(page, "relation", MidRelation.AUTHORIZED_BY_OWNER)
    shot("platform-asks")
    page.get_by_role("button", name="Claim this MID").click()
    shot("platform-asked")
    request = MidLink.objects.get(provider=platform)
    assert (request.status, request.owner_provider) == (MidLinkStatus.REQUESTED, shipper)
    sign_out(page)

    sign_in(page, base, shipper_owner.email)
    nav(page, "Who can read my MIDs")
    shot("shipper-sees-request")
    page.get_by_role("button", name="Approve LabelHub Inc. for MID 901234567").click()
    shot("shipper-approved")
    sign_out(page)

    sign_in(page, base, platform_owner.email)
    row = page.locator(".portal-access-table").get_by_role("row", name=re.compile("901234567"))
    expect(row).to_contain_text("Allowed")
    shot("platform-allowed")


def test_letters_are_not_reachable_by_url(live_server, page):
    """No public URL exists for uploaded evidence: /media/ serves nothing of it."""
    user = UserFactory()
    provider = account_services.provider_create(
        owner=user,
        legal_name="Parcel Insights LLC",
        provider_type=ProviderType.SERVICE_PROVIDER,
        contact_email=user.email,
        address_line1="1 Main St",
        city="Springfield",
        state="IL",
        zip_code="62701",
        contact_phone="+1 217 555 0100",
    )
    link = agreement_services.mid_link_request(
        provider=provider,
        mid="901234567",
        relation=MidRelation.AUTHORIZED_BY_OWNER,
        requested_by=user,
        owner_name="Acme Shipping Co.",
        owner_crid="20538353",
        evidence=SimpleUploadedFile("letter.pdf", LETTER, "application/pdf"),
    )

    response = page.goto(f"{live_server.url}/media/{link.evidence.name}")

    assert response.status == 404
