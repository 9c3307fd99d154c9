"""Evidence uploads: the type comes from the bytes (never the name or the browser's content
type), at most 5 MB, stored under a random name in a storage that has no URL; a refused file
leaves nothing behind, neither a row nor a file."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from agreements import services
from agreements.constants import MidRelation
from agreements.models import MidLink
from agreements.uploads import EVIDENCE_MAX_BYTES, JPEG, PDF, PNG, check_evidence, detect
from core.errors import DomainError
from core.models import AuditEntry
from core.storage import NoPublicURL, PrivateStorage
from tests.agreements.conftest import stored_files
from tests.concurrency import race_past_the_precheck
from tests.factories import MembershipFactory, ProviderFactory

PDF_BYTES = b"%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20
HTML_BYTES = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
SVG_BYTES = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'

OWNER = {"owner_name": "Acme Shipping Co.", "owner_crid": "20538353"}


def upload(name: str, content: bytes, content_type: str = "application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)


# --- Detection (standard library only) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [(PDF_BYTES, PDF), (PNG_BYTES, PNG), (JPEG_BYTES, JPEG)],
    ids=["pdf", "png", "jpeg"],
)
def test_the_three_formats_are_recognised_by_their_signature(content, expected):
    assert detect(content[:8]) == expected
    assert check_evidence(io.BytesIO(content)) == expected


@pytest.mark.parametrize(
    "content",
    [
        HTML_BYTES,
        SVG_BYTES,
        b"GIF89a" + b"\x00" * 10,
        b" %PDF-1.7 with a leading space",
        b"%PD",
        b"\x89PNG\r\n",  # truncated signature
        b"\xff\xd8",
    ],
    ids=["html", "svg", "gif", "pdf-not-at-start", "short-pdf", "short-png", "short-jpeg"],
)
def test_anything_else_is_not_detected(content):
    assert detect(content) is None


def test_the_size_limit_is_5_mb_inclusive():
    exactly = io.BytesIO(PDF_BYTES + b"\x00" * (EVIDENCE_MAX_BYTES - len(PDF_BYTES)))
    assert check_evidence(exactly) == PDF

    over = io.BytesIO(PDF_BYTES + b"\x00" * (EVIDENCE_MAX_BYTES + 1 - len(PDF_BYTES)))
    with pytest.raises(ValueError, match="the limit is 5 MB"):
        check_evidence(over)


def test_checking_leaves_the_stream_where_it_was():
    stream = io.BytesIO(PDF_BYTES)
    stream.seek(3)

    check_evidence(stream)

    assert stream.tell() == 3


# --- Through the service: what is stored, and what is refused ----------------------------------


@pytest.fixture
def claimant(db):
    provider = ProviderFactory()
    return provider, MembershipFactory(provider=provider).user


def claim(claimant, evidence):
    provider, user = claimant
    return services.mid_link_request(
        provider=provider,
        mid="901234567",
        relation=MidRelation.AUTHORIZED_BY_OWNER,
        requested_by=user,
        evidence=evidence,
        **OWNER,
    )


@pytest.mark.parametrize(
    ("name", "content", "browser_type", "detected", "suffix"),
    [
        ("letter.pdf", PDF_BYTES, "application/pdf", "application/pdf", ".pdf"),
        ("scan.png", PNG_BYTES, "image/png", "image/png", ".png"),
        ("photo.jpeg", JPEG_BYTES, "image/jpeg", "image/jpeg", ".jpg"),
        # Misleading names and browser types do not matter either way.
        ("letter.html", PDF_BYTES, "text/html", "application/pdf", ".pdf"),
        ("noextension", JPEG_BYTES, "application/octet-stream", "image/jpeg", ".jpg"),
    ],
    ids=["pdf", "png", "jpeg", "pdf-named-html", "jpeg-without-extension"],
)
def test_pdf_png_and_jpeg_are_accepted_and_stored_privately_under_a_random_name(
    claimant, private_media, settings, tmp_path, name, content, browser_type, detected, suffix
):
    settings.MEDIA_ROOT = tmp_path / "public-media"

    link = claim(claimant, upload(name, content, browser_type))

    link.refresh_from_db()
    assert (link.evidence_content_type, link.evidence_name) == (detected, name)
    assert name.rsplit(".", 1)[0] not in link.evidence.name
    assert link.evidence.name.endswith(suffix)
    files = stored_files(private_media)
    assert [path.read_bytes() for path in files] == [content]
    assert files[0] == private_media / link.evidence.name
    assert stored_files(settings.MEDIA_ROOT) == []  # nothing under the public media root


@pytest.mark.parametrize(
    ("name", "content", "browser_type", "message"),
    [
        ("letter.pdf", HTML_BYTES, "application/pdf", "not a PDF, PNG or JPEG file"),
        ("letter.svg", SVG_BYTES, "image/svg+xml", "renamed web page, SVG"),
        ("letter.png", SVG_BYTES, "image/png", "not a PDF, PNG or JPEG file"),
        ("letter.pdf", b"", "application/pdf", "The file is empty"),
        (
            "big.pdf",
            PDF_BYTES + b"\x00" * (EVIDENCE_MAX_BYTES + 1 - len(PDF_BYTES)),
            "application/pdf",
            "the limit is 5 MB",
        ),
    ],
    ids=["html-renamed-pdf", "svg", "svg-renamed-png", "empty", "5mb-plus-one-byte"],
)
def test_a_refused_file_saves_nothing_and_leaves_no_file(
    claimant, private_media, name, content, browser_type, message
):
    with pytest.raises(DomainError, match=message) as refused:
        claim(claimant, upload(name, content, browser_type))

    assert list(refused.value.field_errors) == ["evidence"]
    assert not MidLink.objects.exists()
    assert not AuditEntry.objects.exists()
    assert stored_files(private_media) == []


def test_the_private_storage_has_no_url(claimant, private_media):
    link = claim(claimant, upload("letter.pdf", PDF_BYTES))

    with pytest.raises(NoPublicURL, match="has no URL"):
        link.evidence.url  # noqa: B018
    with pytest.raises(NoPublicURL):
        PrivateStorage().url("mid-evidence/1/x.pdf")
    assert PrivateStorage().location == str(private_media)


@pytest.mark.django_db(transaction=True)
def test_a_claim_refused_by_the_unique_index_removes_the_file_it_stored(private_media):
    provider = ProviderFactory()
    user = MembershipFactory(provider=provider).user

    def request():
        return claim((provider, user), upload("letter.pdf", PDF_BYTES))

    outcomes = race_past_the_precheck(request, request)

    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert [type(e).__name__ for e in errors] == ["DomainError"], outcomes
    link = MidLink.objects.get()
    assert stored_files(private_media) == [private_media / link.evidence.name]
