"""The PDF of a signed agreement: an attachment with the full text, schedule, signature block
and the text's SHA-256. reportlab writes it uncompressed, so its text is in the bytes."""

import re

import pytest
from django.urls import reverse

from accounts.constants import MembershipRole
from agreements.models import Agreement
from agreements.pdf import agreement_pdf
from agreements.services import canonical_text
from tests.factories import (
    AgreementFactory,
    AgreementVersionFactory,
    MembershipFactory,
    ProviderFactory,
    ScheduleLineFactory,
)

pytestmark = pytest.mark.django_db

PAGE = re.compile(rb"/Type /Page\b(?!s)")


ESCAPES = re.compile(rb"\\([0-7]{1,3}|.)", re.DOTALL)


def _unescape(match: re.Match) -> bytes:
    escaped = match.group(1)
    if escaped[:1].isdigit():
        return bytes([int(escaped, 8)])
    return {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(escaped, escaped)


def pdf_text(data: bytes) -> str:
    """The strings drawn on the pages (PDF string escapes undone; the standard fonts use
    WinAnsi encoding), one shown string after another."""
    strings = re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", data, re.DOTALL)
    return " ".join(ESCAPES.sub(_unescape, s).decode("cp1252", "replace") for s in strings)


@pytest.fixture
def agreement():
    provider = ProviderFactory(legal_name="Parcel Insights LLC", crid="12345678")
    version = AgreementVersionFactory(
        label="v2",
        text=canonical_text(
            "1. Use. Data (tracking) is used only for authorized MIDs.\n\n"
            "2. Markup is text: <b>not bold</b> & fine."
        ),
    )
    agreement = AgreementFactory(
        provider=provider,
        version=version,
        signer_name="Pat Signer",
        signer_title="General Counsel",
        ip_address="203.0.113.7",
    )
    ScheduleLineFactory(agreement=agreement, mid="654321", justification="Returns for Bolt.")
    return agreement


def download(client, agreement, role=MembershipRole.OWNER):
    membership = MembershipFactory(provider=agreement.provider, role=role)
    client.force_login(membership.user)
    return client.get(reverse("agreements:agreement_pdf", args=[agreement.pk]))


@pytest.mark.parametrize("role", list(MembershipRole))
def test_every_member_downloads_the_pdf_as_an_attachment(client, agreement, role):
    response = download(client, agreement, role)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="ip-agreement-parcel-insights-llc-v2-{agreement.pk}.pdf"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"%PDF-")


def test_the_pdf_holds_the_text_schedule_signature_block_and_hash(client, agreement):
    data = download(client, agreement).content
    text = pdf_text(data)

    assert agreement.signed_text_sha256.encode() in data
    for expected in (
        "Intellectual Property Agreement v2",
        "Parcel Insights LLC",
        "12345678",
        "Effective:",
        agreement.version.effective_at.strftime("%Y-%m-%d"),
        "Data (tracking) is used only for authorized MIDs.",
        "MID 654321 (Approved):",
        "Returns for Bolt.",
        "Pat Signer",
        "General Counsel",
        "203.0.113.7",
        agreement.signed_at.strftime("%Y-%m-%d %H:%M"),
        "attested being authorized to bind",
        agreement.signed_text_sha256,
        "Page 1",
    ):
        assert expected in text, expected
    # Markup in the agreement is text, not formatting (drawn in several runs, hence no spaces).
    assert "Markupistext:<b>notbold</b>&fine." in re.sub(r"\s", "", text)


def test_a_long_text_wraps_over_several_pages_each_with_a_footer(agreement):
    paragraph = "The provider keeps a log of every disclosure of tracking data. " * 12
    agreement.version.text = canonical_text("\n\n".join(f"{n}. {paragraph}" for n in range(60)))
    data = agreement_pdf(agreement=agreement)
    text = pdf_text(data)

    pages = len(PAGE.findall(data))
    assert pages >= 5
    assert f"Page {pages}" in text
    assert text.count("Parcel Insights LLC · IP agreement v2 · signed") == pages
    assert "59. The provider keeps a log" in text
    assert agreement.signed_text_sha256 in text  # the signature block made it to the end


def test_an_agreement_without_schedule_lines_says_so():
    agreement = AgreementFactory(signer_name="Sam Solo")
    data = agreement_pdf(agreement=Agreement.objects.get(pk=agreement.pk))
    assert "No schedule lines were requested with this signature." in pdf_text(data)


def test_a_long_unbroken_word_and_odd_characters_do_not_break_the_pdf(agreement):
    agreement.version.text = canonical_text("x" * 500 + "\n\nQuotes “curly” — and ½ and →.")
    agreement.user_agent = "A" * 900
    data = agreement_pdf(agreement=agreement)
    assert data.startswith(b"%PDF-")
    assert agreement.signed_text_sha256.encode() in data


def test_another_providers_pdf_is_a_404(client, agreement):
    other = MembershipFactory(provider=ProviderFactory())
    client.force_login(other.user)
    response = client.get(reverse("agreements:agreement_pdf", args=[agreement.pk]))
    assert response.status_code == 404
    assert response.get("Content-Type", "").startswith("text/html")
