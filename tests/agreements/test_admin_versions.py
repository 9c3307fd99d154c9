"""Agreement versions in the admin: drafts are written and edited through the services,
publishing is an action with a confirmation page and freezes the version; each version shows
its re-acceptance deadline and how many providers accepted it."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone

from agreements import services
from agreements.constants import AgreementStatus
from agreements.models import AgreementVersion
from agreements.selectors.review import DEADLINE_CAP, reacceptance_deadline
from agreements.services.versions import agreement_version_fingerprint
from core.errors import DomainError, ImmutableRecord
from core.models import AuditEntry
from tests.factories import (
    AgreementFactory,
    AgreementVersionFactory,
    ProviderFactory,
    StaffFactory,
    UserFactory,
)
from tests.otp import otp_login
from tests.review_admin import (
    decide,
    messages_of,
    open_reason_page,
    record_notifications,
    reviewer_client,
    view_only_staff,
)

pytestmark = pytest.mark.django_db

LIST = reverse("admin:agreements_agreementversion_changelist")
ADD = reverse("admin:agreements_agreementversion_add")


def _change(version) -> str:
    return reverse("admin:agreements_agreementversion_change", args=[version.pk])


@pytest.fixture
def staff():
    return StaffFactory(email="drafter@usps.example")


@pytest.fixture
def client(staff) -> Client:
    return reviewer_client(staff)


def _draft(**changes) -> AgreementVersion:
    fields = {
        "label": "2026-07",
        "text": "Clause 1.\n",
        "effective_at": timezone.now() + timedelta(days=30),
        "applies_to": ["SERVICE_PROVIDER"],
    }
    return services.agreement_version_create(**(fields | changes))


def _shown(moment) -> str:
    """A date and time as the admin prints it."""
    return formats.localize(timezone.template_localtime(moment))


def _form(**changes) -> dict:
    data = {
        "label": "2026-07",
        "effective_at_0": "2026-07-01",
        "effective_at_1": "00:00:00",
        "reacceptance_days": "45",
        "applies_to": ["SERVICE_PROVIDER", "PLATFORM"],
        "text": "Clause 1.   \r\nClause 2.\r\n",
    }
    return data | changes


# --- Drafts ------------------------------------------------------------------------------------


def test_a_draft_is_written_through_the_service(client, staff):
    page = client.get(ADD)
    response = client.post(ADD, _form())

    assert page.status_code == 200
    assert 'name="applies_to"' in page.text and 'type="checkbox"' in page.text
    assert response.status_code == 302
    version = AgreementVersion.objects.get(label="2026-07")
    assert version.text == "Clause 1.\nClause 2.\n"  # canonicalised by the service
    assert version.applies_to == ["PLATFORM", "SERVICE_PROVIDER"]
    assert version.reacceptance_days == 45
    assert version.published_at is None and version.text_sha256 == ""
    (entry,) = AuditEntry.objects.filter(action="agreement_version_create")
    assert (entry.actor, entry.subject_id, entry.extra) == (staff, version.pk, {"label": "2026-07"})


def test_a_draft_form_with_errors_shows_them_and_writes_nothing(client):
    _draft(label="2026-07")

    response = client.post(ADD, _form(applies_to=[], reacceptance_days="99999", text=" \r\n  "))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"label", "applies_to", "reacceptance_days", "text"}
    assert AgreementVersion.objects.count() == 1
    assert AuditEntry.objects.filter(action="agreement_version_create").count() == 1


def test_a_draft_is_edited_through_the_service(client, staff):
    version = _draft()
    url = _change(version)

    page = client.get(url)
    response = client.post(
        url, _form(label="2026-08", text="New clause.\n", loaded_fingerprint=_fingerprint_of(page))
    )

    assert page.status_code == 200
    assert page.context["has_change_permission"] is True
    assert response.status_code == 302
    version.refresh_from_db()
    assert (version.label, version.text, version.reacceptance_days) == (
        "2026-08",
        "New clause.\n",
        45,
    )
    (entry,) = AuditEntry.objects.filter(action="agreement_version_update")
    assert entry.actor == staff
    assert entry.extra == {
        "fields": ["applies_to", "effective_at", "label", "reacceptance_days", "text"]
    }


def test_saving_a_draft_unchanged_writes_no_audit_entry(client):
    version = _draft(effective_at=datetime(2026, 7, 1, tzinfo=ZoneInfo("UTC")))
    page = client.get(_change(version))
    initial = page.context["adminform"].form.initial
    unchanged = _form(
        loaded_fingerprint=_fingerprint_of(page),
        label=version.label,
        text=version.text,
        reacceptance_days=str(version.reacceptance_days),
        applies_to=version.applies_to,
        effective_at_0=timezone.localtime(initial["effective_at"]).strftime("%Y-%m-%d"),
        effective_at_1=timezone.localtime(initial["effective_at"]).strftime("%H:%M:%S"),
    )

    response = client.post(_change(version), unchanged)

    assert response.status_code == 302
    assert not AuditEntry.objects.filter(action="agreement_version_update").exists()


def test_a_service_refusal_on_save_is_shown_and_nothing_is_kept(client, monkeypatch):
    version = _draft()

    def published_meanwhile(**kwargs):
        raise ImmutableRecord(f"{version} is already published.")

    loaded = _fingerprint_of(client.get(_change(version)))
    monkeypatch.setattr(services, "agreement_version_update", published_meanwhile)
    response = client.post(_change(version), _form(label="2026-09", loaded_fingerprint=loaded))

    assert response.status_code == 302
    assert messages_of(response) == [f"{version} is already published."]
    version.refresh_from_db()
    assert version.label == "2026-07"


def test_a_published_version_is_read_only(client):
    version = AgreementVersionFactory(label="2025-01")

    page = client.get(_change(version))
    posted = client.post(_change(version), _form(label="2025-99", text="Rewritten."))

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert 'name="_save"' not in page.text
    assert "frozen" in page.text
    assert posted.status_code == 403
    version.refresh_from_db()
    assert version.label == "2025-01"


def test_versions_are_never_deleted(client):
    draft = _draft()

    assert (
        client.post(
            reverse("admin:agreements_agreementversion_delete", args=[draft.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert AgreementVersion.objects.filter(pk=draft.pk).exists()


# --- Publishing ------------------------------------------------------------------------------


def test_publish_asks_for_confirmation_and_then_freezes_the_version(
    client, staff, monkeypatch, django_capture_on_commit_callbacks
):
    notified = record_notifications(monkeypatch)
    version = _draft(text="Clause 1.\n")

    page = open_reason_page(client, LIST, "publish_versions", [version])
    shown = {_publish_field(version): services.text_sha256("Clause 1.\n")}
    unconfirmed = decide(client, LIST, "publish_versions", [version], **shown)
    version.refresh_from_db()
    assert version.published_at is None
    with django_capture_on_commit_callbacks(execute=True):
        done = decide(client, LIST, "publish_versions", [version], freeze="on", **shown)

    assert page.status_code == 200
    assert 'name="freeze"' in page.text and 'name="reason"' not in page.text
    assert f"2026-07: in effect from {timezone.localtime(version.effective_at):%Y-%m-%d}" in (
        page.text
    )
    assert unconfirmed.status_code == 200
    assert unconfirmed.context["form"].errors == {"freeze": ["This field is required."]}
    assert messages_of(done) == ["1 item decided."]
    version.refresh_from_db()
    assert version.is_published
    assert version.text_sha256 == services.text_sha256("Clause 1.\n")
    (entry,) = AuditEntry.objects.filter(action="agreement_version_publish")
    assert (entry.actor, entry.subject_id) == (staff, version.pk)
    assert notified == []  # no provider is decided on
    assert client.get(_change(version)).context["has_change_permission"] is False


def test_publishing_a_published_version_is_refused(client):
    version = AgreementVersionFactory(label="2025-01")

    response = decide(client, LIST, "publish_versions", [version], freeze="on")

    (message,) = messages_of(response)
    assert "IP agreement 2025-01 is already published." in message
    assert not AuditEntry.objects.exists()


def test_a_draft_s_page_links_to_publish_and_a_published_one_does_not(client):
    draft = _draft()
    published = AgreementVersionFactory()

    draft_page = client.get(_change(draft))
    published_page = client.get(_change(published))

    url = reverse("admin:agreements_agreementversion_decide", args=[draft.pk, "publish_versions"])
    assert draft_page.context["item_decisions"] == [("Publish…", url)]
    assert published_page.context["item_decisions"] == []
    assert client.get(url).status_code == 200


# --- Effective date, deadline, acceptance ------------------------------------------------------


def test_the_list_shows_deadline_and_acceptance_counts(client):
    effective = datetime(2026, 5, 1, 12, 0, tzinfo=ZoneInfo("UTC"))
    version = AgreementVersionFactory(label="2026-05", effective_at=effective, reacceptance_days=30)
    older = AgreementVersionFactory(effective_at=effective - timedelta(days=100))
    counted = {
        AgreementStatus.APPROVED: 2,
        AgreementStatus.SUSPENDED: 1,
        AgreementStatus.SUPERSEDED: 1,
        AgreementStatus.TERMINATED: 1,
        AgreementStatus.SUBMITTED: 1,
        AgreementStatus.REJECTED: 1,
    }
    for status, count in counted.items():
        for _ in range(count):
            AgreementFactory(version=version, status=status)
    AgreementFactory(version=older)
    _draft(label="draft-1")

    response = client.get(LIST)

    rows = {row.label: row for row in response.context["cl"].result_list}
    row = rows["2026-05"]
    assert (row.accepted_count, row.in_force_count, row.awaiting_count) == (5, 2, 1)
    assert row.deadline == effective + timedelta(days=30)
    assert (rows[older.label].accepted_count, rows["draft-1"].accepted_count) == (1, 0)
    assert list(rows)[0] == "draft-1"  # drafts first
    assert "1 draft not yet published" in response.text
    assert _shown(effective + timedelta(days=30)) in response.text


def test_a_provider_counts_once_per_version(client):
    version = AgreementVersionFactory()
    provider = ProviderFactory()
    AgreementFactory(version=version, provider=provider, status=AgreementStatus.TERMINATED)
    AgreementFactory(version=version, provider=provider, status=AgreementStatus.APPROVED)

    response = client.get(LIST)

    (row,) = response.context["cl"].result_list
    assert (row.accepted_count, row.in_force_count) == (1, 1)


def test_the_published_page_shows_dates_hash_and_acceptance(client):
    version = AgreementVersionFactory(reacceptance_days=14)
    AgreementFactory(version=version)

    body = client.get(_change(version)).text

    assert version.text_sha256 in body
    assert "1 accepted it" in body and "1 hold it in force" in body
    assert _shown(version.effective_at + timedelta(days=14)) in body


# --- Permissions ----------------------------------------------------------------------------


def test_view_only_staff_cannot_draft_edit_or_publish(
    monkeypatch, django_capture_on_commit_callbacks
):
    client = otp_login(Client(), view_only_staff())
    draft = _draft()

    listing = client.get(LIST)
    added = client.post(ADD, _form(label="2026-99"))
    edited = client.post(_change(draft), _form(label="2026-98"))
    published = decide(client, LIST, "publish_versions", [draft], freeze="on")
    linked = client.post(
        reverse("admin:agreements_agreementversion_decide", args=[draft.pk, "publish_versions"]),
        {"confirm": "yes", "freeze": "on"},
    )

    assert listing.status_code == 200
    assert listing.context["action_form"] is None
    assert client.get(ADD).status_code == 403 and added.status_code == 403
    assert edited.status_code == 403
    assert published.status_code in {200, 302}
    assert linked.status_code == 403
    draft.refresh_from_db()
    assert (draft.label, draft.published_at) == ("2026-07", None)
    assert AgreementVersion.objects.count() == 1


def test_drafting_needs_the_add_permission_and_publishing_the_change_permission():
    user = UserFactory(is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_agreementversion", "add_agreementversion"])
    )
    client = otp_login(Client(), user)

    added = client.post(ADD, _form())
    version = AgreementVersion.objects.get(label="2026-07")
    decide(client, LIST, "publish_versions", [version], freeze="on")

    assert added.status_code == 302
    version.refresh_from_db()
    assert version.published_at is None


# --- Review fixes (issue 8) --------------------------------------------------------------------


def _fingerprint_of(page) -> str:
    return page.context["adminform"].form["loaded_fingerprint"].value()


def _publish_field(version) -> str:
    return f"text_sha256_{version.pk}"


@pytest.mark.parametrize(("date", "time"), [("9999-12-31", "00:00:00"), ("1999-12-31", "23:59:59")])
def test_an_effective_date_out_of_bounds_is_a_field_error_and_nothing_is_written(
    client, date, time
):
    response = client.post(ADD, _form(effective_at_0=date, effective_at_1=time))

    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"effective_at"}
    assert not AgreementVersion.objects.exists()
    assert not AuditEntry.objects.exists()


def test_the_services_bound_the_effective_date():
    too_late = timezone.now() + timedelta(days=3660)
    too_early = datetime(1999, 12, 31, 23, 59, tzinfo=ZoneInfo("UTC"))
    version = _draft()

    for moment in (too_late, too_early):
        with pytest.raises(DomainError) as refused:
            _draft(label="late", effective_at=moment)
        assert set(refused.value.field_errors) == {"effective_at"}
        with pytest.raises(DomainError) as refused:
            services.agreement_version_update(version=version, effective_at=moment)
        assert set(refused.value.field_errors) == {"effective_at"}

    version.refresh_from_db()
    assert AgreementVersion.objects.count() == 1
    assert version.effective_at > timezone.now()
    assert not AuditEntry.objects.filter(action="agreement_version_update").exists()


@pytest.mark.parametrize("days", [30, 3650, 2_147_483_647])
def test_a_far_future_row_written_directly_does_not_break_the_pages(client, days):
    far = datetime(9999, 12, 31, tzinfo=ZoneInfo("UTC"))
    version = AgreementVersion.objects.create(
        label="far",
        text="Clause.\n",
        effective_at=far,
        reacceptance_days=days,
        applies_to=["SERVICE_PROVIDER"],
    )
    AgreementVersionFactory(label="normal")

    listing = client.get(LIST)
    by_deadline = client.get(LIST, {"o": "4"})
    change = client.get(_change(version))
    publish = open_reason_page(client, LIST, "publish_versions", [version])

    assert [r.status_code for r in (listing, by_deadline, change, publish)] == [200] * 4
    rows = {row.label: row for row in listing.context["cl"].result_list}
    assert rows["far"].deadline == reacceptance_deadline(version) == DEADLINE_CAP
    assert _shown(DEADLINE_CAP) in listing.text


def test_the_publish_page_shows_the_full_text_and_its_hash(client):
    version = _draft(text="Clause 1: <b>data</b> stays with USPS.\nClause 2.\n")

    page = open_reason_page(client, LIST, "publish_versions", [version])

    digest = services.text_sha256(version.text)
    assert "Clause 1: &lt;b&gt;data&lt;/b&gt; stays with USPS.\nClause 2." in page.text
    assert digest in page.text
    assert f'name="{_publish_field(version)}" value="{digest}"' in page.text


def test_publishing_pins_the_text_the_reviewer_saw(client):
    version = _draft(text="Clause 1.\n")
    page = open_reason_page(client, LIST, "publish_versions", [version])
    seen = page.context["form"][_publish_field(version)].value()

    # Reviewer B edits the draft while A reads the confirmation page.
    services.agreement_version_update(version=version, text="Clause 1, rewritten by B.\n")
    response = decide(
        client, LIST, "publish_versions", [version], freeze="on", **{_publish_field(version): seen}
    )

    (message,) = messages_of(response)
    assert "changed since" in message
    version.refresh_from_db()
    assert version.published_at is None and version.text_sha256 == ""
    assert version.text == "Clause 1, rewritten by B.\n"
    assert not AuditEntry.objects.filter(action="agreement_version_publish").exists()


@pytest.mark.parametrize("posted", [None, "", "0" * 64, "not a hash"])
def test_publishing_without_the_shown_hash_publishes_nothing(client, posted):
    version = _draft()
    fields = {} if posted is None else {_publish_field(version): posted}

    response = decide(client, LIST, "publish_versions", [version], freeze="on", **fields)

    assert response.status_code in {200, 302}
    version.refresh_from_db()
    assert version.published_at is None


def test_the_publish_service_refuses_a_stale_hash_and_accepts_the_current_one():
    version = _draft(text="Clause 1.\n")
    stale = services.text_sha256("Clause 1.\n")
    services.agreement_version_update(version=version, text="Clause 2.\n")

    with pytest.raises(DomainError):
        services.agreement_version_publish(version=version, expected_text_sha256=stale)
    version.refresh_from_db()
    assert version.published_at is None

    current = services.text_sha256("Clause 2.\r\n")  # the canonical form is what is hashed
    published = services.agreement_version_publish(version=version, expected_text_sha256=current)
    assert published.text_sha256 == current


def test_a_draft_edited_by_someone_else_meanwhile_is_not_overwritten(client):
    version = _draft(text="Clause 1.\n")
    page = client.get(_change(version))
    loaded = _fingerprint_of(page)
    assert f'name="loaded_fingerprint" value="{loaded}"' in page.text

    services.agreement_version_update(version=version, text="B's clause.\n")
    response = client.post(_change(version), _form(text="A's clause.\n", loaded_fingerprint=loaded))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "This draft changed since you opened it; reload" in str(errors)
    version.refresh_from_db()
    assert version.text == "B's clause.\n"
    assert AuditEntry.objects.filter(action="agreement_version_update").count() == 1


def test_an_edit_landing_between_the_form_check_and_the_save_is_refused(client, monkeypatch):
    version = _draft(text="Clause 1.\n")
    loaded = _fingerprint_of(client.get(_change(version)))
    update = services.agreement_version_update

    def b_edits_first(**kwargs):
        update(version=version, text="B's clause.\n")
        return update(**kwargs)

    monkeypatch.setattr(services, "agreement_version_update", b_edits_first)
    response = client.post(_change(version), _form(text="A's clause.\n", loaded_fingerprint=loaded))

    assert response.status_code in {200, 302}
    assert "This draft changed since you opened it; reload" in " ".join(messages_of(response))
    version.refresh_from_db()
    assert version.text == "Clause 1.\n"  # the whole request was rolled back


def test_an_edit_without_the_loaded_token_is_refused(client):
    version = _draft(text="Clause 1.\n")

    response = client.post(_change(version), _form(text="A's clause.\n"))

    assert response.status_code == 200
    assert "loaded_fingerprint" in response.context["adminform"].form.errors
    version.refresh_from_db()
    assert version.text == "Clause 1.\n"


def test_the_update_service_refuses_a_stale_fingerprint():
    version = _draft(text="Clause 1.\n")
    loaded = agreement_version_fingerprint(version)
    services.agreement_version_update(version=version, reacceptance_days=45)

    with pytest.raises(DomainError, match="changed since you opened it"):
        services.agreement_version_update(
            version=version, text="Mine.\n", expected_fingerprint=loaded
        )
    version.refresh_from_db()
    assert version.text == "Clause 1.\n"

    fresh = agreement_version_fingerprint(version)
    saved = services.agreement_version_update(
        version=version, text="Mine.\n", expected_fingerprint=fresh
    )
    assert saved.text == "Mine.\n"
