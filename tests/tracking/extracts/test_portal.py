"""Portal pages of extracts: the list with signed download links, the request form (one-time
token, refusals on their fields), and the download: only members of the extract's provider,
404 for another tenant or a tampered link, 410 once expired, refused when a MID is no longer
allowed, every download recorded."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.constants import MembershipRole
from accounts.portal import new_submission_token
from agreements.models import MidLink
from agreements.services.mid_links import mid_link_revoke
from core.models import AuditEntry
from tests.factories import StaffFactory
from tests.tracking.extracts.helpers import (
    MID,
    OTHER_MID,
    member,
    recent,
    sha256,
    shipper,
    store,
)
from tracking.constants import ExtractSource, ExtractStatus
from tracking.extracts import links
from tracking.extracts.services import extract_build, extract_request
from tracking.models import Extract, ExtractDownload

pytestmark = pytest.mark.django_db

LIST = "/extracts/"
REQUEST = "/extracts/request/"


_SERIALS = iter(range(1, 10**6, 10))


def ready_extract(provider=None, *, actor=None, mid=MID):
    provider = provider or shipper(mids=(mid,))
    store(mid, 2, events=2, first_serial=next(_SERIALS))
    extract = extract_request(
        provider=provider,
        actor=actor or member(provider),
        mids=[mid],
        start_date=recent(),
        end_date=recent(),
        file_format="CSV",
        source=ExtractSource.PORTAL,
    )
    extract_build(extract_id=extract.pk)
    extract.refresh_from_db()
    return extract


def signed_in(client, user):
    client.force_login(user)
    return client


def download(client, extract, **token_options):
    token = links.make_token(extract=extract, **token_options)
    return client.get(f"/extracts/download/{token}/")


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_list_shows_the_providers_extracts_with_their_facts_and_a_link(
    client, django_assert_max_num_queries
):
    extract = ready_extract()
    other = ready_extract(mid=OTHER_MID)  # another tenant's
    client = signed_in(client, member(extract.provider))

    with django_assert_max_num_queries(14):  # whatever the number of extracts
        page = client.get(LIST)

    assert page.status_code == 200
    text = page.text
    assert f'id="extract-{extract.public_id}"' in text
    assert extract.sha256 in text and f'extract-rows">{extract.row_count}<' in text
    assert "/extracts/download/" in text
    assert str(other.public_id) not in text and other.sha256 not in text
    assert "no-store" in page["Cache-Control"]


@pytest.mark.parametrize("url", [LIST, REQUEST])
def test_the_billing_role_cannot_request_extracts(client, url):
    provider = shipper()
    response = signed_in(client, member(provider, MembershipRole.BILLING)).get(url)
    assert response.status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client):
    extract = ready_extract()
    for response in (client.get(LIST), download(client, extract)):
        assert response.status_code == 302 and "/account/login/" in response["Location"]


def form(**overrides):
    data = {
        "mids": [MID],
        "other_mids": "",
        "start_date": recent().isoformat(),
        "end_date": recent().isoformat(),
        "file_format": "NDJSON",
        "submission": new_submission_token(),
    }
    return data | overrides


def test_a_request_is_saved_once_even_when_sent_twice(client, django_capture_on_commit_callbacks):
    provider = shipper()
    client = signed_in(client, member(provider))
    data = form()

    with django_capture_on_commit_callbacks():
        first = client.post(REQUEST, data)
        second = client.post(REQUEST, data)

    assert first.status_code == second.status_code == 302
    extract = Extract.objects.get()
    assert (extract.provider, extract.status, extract.mids) == (
        provider,
        ExtractStatus.QUEUED,
        [MID],
    )
    assert extract.source == ExtractSource.PORTAL


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mids": [], "other_mids": OTHER_MID}, f"MID {OTHER_MID}: MID_NOT_AUTHORIZED"),
        ({"other_mids": "12345"}, "Not valid MIDs: &#x27;12345&#x27;"),
        (
            {"start_date": recent(1).isoformat(), "end_date": recent(2).isoformat()},
            "is after the end date",
        ),
        ({"end_date": "2026-02-30"}, "Enter a valid date."),
        ({"mids": ["900999999"]}, "Select a valid choice."),
        (
            {"start_date": "0001-01-01", "end_date": "0001-01-02"},
            "The date 0001-01-01 is out of range: the year must be 2000 to",
        ),
        (
            {"start_date": "9999-12-30", "end_date": "9999-12-31"},
            "The date 9999-12-30 is out of range",
        ),
    ],
)
def test_a_refused_request_shows_why_and_saves_nothing(client, overrides, message):
    provider = shipper()

    response = signed_in(client, member(provider)).post(REQUEST, form(**overrides))

    assert response.status_code == 400
    assert message in response.text
    assert not Extract.objects.exists()


def test_a_member_downloads_the_file_and_the_download_is_recorded(client):
    extract = ready_extract()
    user = member(extract.provider, MembershipRole.DEVELOPER)

    response = download(
        signed_in(client, user),
        extract,
    )

    assert response.status_code == 200
    data = body_of(response)
    assert sha256(data) == extract.sha256 == response["X-Content-SHA256"]
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"] == f'attachment; filename="{extract.public_id}.csv.gz"'
    download_row = ExtractDownload.objects.get()
    assert (download_row.extract, download_row.user) == (extract, user)
    assert AuditEntry.objects.filter(action="extract_download", actor=user).count() == 1


def test_another_tenants_link_is_not_found(client):
    extract = ready_extract()
    stranger = member(shipper(mids=(OTHER_MID,)))

    response = download(signed_in(client, stranger), extract)

    assert response.status_code == 404
    assert not ExtractDownload.objects.exists()


def test_an_old_link_of_another_tenant_is_still_not_found(client):
    extract = ready_extract()
    stranger = member(shipper(mids=(OTHER_MID,)))

    response = download(signed_in(client, stranger), extract, issued_at=time.time() - 25 * 3600)

    assert response.status_code == 404


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: token.replace(token.split(":")[0], token.split(":")[0][::-1], 1),
        lambda token: "not-a-token",
    ],
)
def test_a_tampered_link_is_not_found(client, tamper):
    extract = ready_extract()
    client = signed_in(client, member(extract.provider))

    response = client.get(f"/extracts/download/{tamper(links.make_token(extract=extract))}/")

    assert response.status_code == 404


def test_a_link_older_than_its_lifetime_has_expired(client, settings):
    extract = ready_extract()
    client = signed_in(client, member(extract.provider))
    hours = settings.EXTRACT_LINK_TTL_HOURS

    fresh = download(client, extract, issued_at=time.time() - (hours * 3600 - 60))
    old = download(client, extract, issued_at=time.time() - (hours * 3600 + 60))

    assert fresh.status_code == 200
    assert old.status_code == 410
    assert "This download link has expired" in old.text
    assert ExtractDownload.objects.count() == 1


def test_an_expired_extract_answers_gone(client):
    extract = ready_extract()
    client = signed_in(client, member(extract.provider))
    Extract.objects.filter(pk=extract.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    response = download(client, extract)

    assert response.status_code == 410
    assert "This extract has expired" in response.text


def test_a_download_is_refused_once_a_mid_is_revoked(client):
    extract = ready_extract()
    client = signed_in(client, member(extract.provider))
    link = MidLink.objects.get(provider=extract.provider, mid=MID)
    mid_link_revoke(link=link, actor=StaffFactory(), reason="Letter withdrawn")

    response = download(client, extract)

    assert response.status_code == 403
    assert (
        f"MID {MID}: MID_NOT_AUTHORIZED" in response.text or "may no longer read" in response.text
    )
    assert not ExtractDownload.objects.exists()


def test_a_build_that_failed_has_nothing_to_download(client):
    provider = shipper()
    store(MID, 4, events=1)
    extract = extract_request(
        provider=provider,
        actor=member(provider),
        mids=[MID],
        start_date=recent(),
        end_date=recent(),
        file_format="NDJSON",
        source=ExtractSource.PORTAL,
    )
    link = MidLink.objects.get(provider=provider, mid=MID)

    def revoke(rows):
        mid_link_revoke(link=link, actor=StaffFactory(), reason="Letter withdrawn")

    extract_build(extract_id=extract.pk, chunk_rows=2, on_progress=revoke)
    extract.refresh_from_db()
    assert extract.status == ExtractStatus.FAILED

    response = download(signed_in(client, member(provider)), extract)

    assert response.status_code == 404
    page = client.get(LIST)
    assert "/extracts/download/" not in page.text
    assert "was withdrawn during the build" in page.text


def test_the_form_says_when_the_provider_has_too_many_open_extracts(client, settings):
    settings.EXTRACT_MAX_OPEN_PER_PROVIDER = 1
    provider = shipper()
    client = signed_in(client, member(provider))

    first = client.post(REQUEST, form())
    second = client.post(REQUEST, form())

    assert first.status_code == 302
    assert second.status_code == 400
    assert "the most it may have at once (1)" in second.text
    assert Extract.objects.count() == 1


def test_a_head_request_of_a_link_records_no_download(client):
    extract = ready_extract()
    client = signed_in(client, member(extract.provider))
    token = links.make_token(extract=extract)

    head = client.head(f"/extracts/download/{token}/")

    assert head.status_code == 200
    assert head["X-Content-SHA256"] == extract.sha256
    assert head["Content-Length"] == str(extract.byte_count)
    assert not ExtractDownload.objects.exists()
    assert not AuditEntry.objects.filter(action="extract_download").exists()
