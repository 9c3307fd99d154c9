"""Hostile or malformed query strings and form fields get a 4xx, never a 500 (issue 6, defect 8).

PostgreSQL cannot store or compare a string holding NUL, so psycopg raises as soon as such a
value reaches a query; the date-hierarchy drill-down computes the next year/month/day in Python
and overflows past 9999-12-31. Every registered admin changelist is walked with a list of bad
parameters, so an admin added later (ours or an installed app's) is covered without editing
this file.
"""

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models, transaction
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config.middleware import RejectNulBytesMiddleware
from core.admin import SafeChangeListMixin
from core.audit import audit_record
from tests.factories import (
    AgreementFactory,
    MembershipFactory,
    MidLinkFactory,
    ScheduleLineFactory,
    StaffFactory,
)
from tests.otp import current_code, otp_login, staff_device

pytestmark = pytest.mark.django_db

NUL_MESSAGE = "Request parameters must not contain NUL characters."

ADMINS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
DATE_HIERARCHY_ADMINS = [
    (model, model_admin) for model, model_admin in ADMINS if model_admin.date_hierarchy
]


def _label(model) -> str:
    return model._meta.label


def _changelist_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _filter_key(model_admin) -> str:
    """A filter the changelist really offers, so the NUL reaches a real lookup."""
    for list_filter in model_admin.list_filter:
        if isinstance(list_filter, str):
            return f"{list_filter}__exact"
    return "pk__exact"


def _nul_queries(model_admin) -> list[str]:
    return [
        f"{_filter_key(model_admin)}=%00",
        f"{_filter_key(model_admin)}=abc%00def",
        "%00=1",
        "status%00__exact=ACTIVE",
        "q=%00",
        "q=acme%00",
        "o=%00",
        "p=%00",
        f"q=ok&{_filter_key(model_admin)}=ok&{_filter_key(model_admin)}=%00",
    ]


# Bad, but not NUL: whatever Django makes of them (redirect to ?e=1, 400, empty list), not 5xx.
OTHER_QUERIES = [
    "no_such_field=1",
    "no_such_field__exact=1",
    "pk__in=1,abc",
    "pk__exact=99999999999999999999999",
    "o=99",
    "o=abc",
    "o=-.1",
    "p=99999",
    "p=abc",
    "p=-1",
    "_to_field=no_such_field",
    "q=" + "x" * 5000,
    # These pass queryset.filter() and only fail when the SQL is compiled or run.
    "pk__regex=(",
    "pk__iregex=[",
]


def _other_queries(model) -> list[str]:
    queries = list(OTHER_QUERIES)
    for field in model._meta.concrete_fields:
        if isinstance(field, models.DateField):  # DateTimeField too
            queries += [
                f"{field.name}__year=10000",
                f"{field.name}__year=0",
                f"{field.name}__year__gte=10000",
                f"{field.name}__iso_year=10000",
                f"{field.name}__date=9999-99-99",
            ]
        elif isinstance(field, models.CharField):
            queries.append(f"{field.name}__regex=(")
    return queries


def _date_queries(field: str) -> list[str]:
    year, month, day = f"{field}__year", f"{field}__month", f"{field}__day"
    return [
        f"{year}=9999",
        f"{year}=9999&{month}=12",
        f"{year}=9999&{month}=12&{day}=31",
        f"{year}=0",
        f"{year}=-1",
        f"{year}=10000",
        f"{year}=abc",
        f"{year}=",
        f"{year}=2024&{month}=13",
        f"{year}=2024&{month}=0",
        f"{year}=2024&{month}=abc",
        f"{year}=2024&{month}=2&{day}=30",
        f"{year}=2023&{month}=2&{day}=29",
        f"{year}=2024&{month}=1&{day}=32",
        f"{year}=2024&{month}=1&{day}=0",
        f"{year}=2024&{day}=32",
        f"{year}=2024&{year}=9999",
    ]


def _good_date_queries(field: str) -> list[str]:
    year, month, day = f"{field}__year", f"{field}__month", f"{field}__day"
    return [
        f"{year}=2024&{month}=2&{day}=29",
        f"{year}=9999&{month}=11",
        f"{year}=9999&{month}=12&{day}=30",
        f"{year}=1",
        f"{year}=1&{month}=1&{day}=1",
    ]


def _upload(content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("loa.pdf", content, content_type="application/pdf")


@pytest.fixture
def rows():
    """At least one row in every admin's table, so changelists render rows and filters."""
    staff = StaffFactory()
    membership = MembershipFactory()
    agreement = AgreementFactory(provider=membership.provider, signer=membership.user)
    ScheduleLineFactory(agreement=agreement)
    link = MidLinkFactory(provider=membership.provider, requested_by=membership.user)
    audit_record(subject=link, action="mid_link_verify", actor=staff, provider_id=link.provider_id)
    every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.create(
        name="probe", task="config.celery.heartbeat", interval=every, start_time=timezone.now()
    )


@pytest.fixture
def staff_client(admin_user):
    """Answers a 500 as a response instead of raising, so one test can report every query."""
    return otp_login(Client(raise_request_exception=False), admin_user)


def _statuses(client, url: str, queries: list[str]) -> dict[str, int]:
    statuses = {}
    for query in queries:
        # A database error inside one request must not poison the test transaction for the next.
        savepoint = transaction.savepoint()
        statuses[query] = client.get(f"{url}?{query}").status_code
        transaction.savepoint_rollback(savepoint)
    return statuses


@pytest.mark.parametrize(("model", "model_admin"), ADMINS, ids=[_label(m) for m, _ in ADMINS])
def test_every_changelist_refuses_nul_bytes_with_400(staff_client, rows, model, model_admin):
    url = _changelist_url(model)
    assert staff_client.get(url).status_code == 200

    statuses = _statuses(staff_client, url, _nul_queries(model_admin))

    assert statuses == dict.fromkeys(statuses, 400)


@pytest.mark.parametrize(("model", "model_admin"), ADMINS, ids=[_label(m) for m, _ in ADMINS])
def test_every_changelist_survives_bad_parameters(staff_client, rows, model, model_admin):
    statuses = _statuses(staff_client, _changelist_url(model), _other_queries(model))

    assert {query: status for query, status in statuses.items() if status >= 500} == {}


@pytest.mark.parametrize(
    ("model", "model_admin"),
    DATE_HIERARCHY_ADMINS,
    ids=[_label(m) for m, _ in DATE_HIERARCHY_ADMINS],
)
def test_every_date_hierarchy_refuses_impossible_dates_with_400(
    staff_client, rows, model, model_admin
):
    statuses = _statuses(
        staff_client, _changelist_url(model), _date_queries(model_admin.date_hierarchy)
    )

    assert statuses == dict.fromkeys(statuses, 400)


@pytest.mark.parametrize(
    ("model", "model_admin"),
    DATE_HIERARCHY_ADMINS,
    ids=[_label(m) for m, _ in DATE_HIERARCHY_ADMINS],
)
def test_every_date_hierarchy_still_drills_down_to_valid_dates(
    staff_client, rows, model, model_admin
):
    url = _changelist_url(model)
    field = model_admin.date_hierarchy
    now = timezone.localtime()

    statuses = _statuses(staff_client, url, _good_date_queries(field))
    this_month = staff_client.get(url, {f"{field}__year": now.year, f"{field}__month": now.month})

    assert statuses == dict.fromkeys(statuses, 200)
    assert this_month.status_code == 200


def test_date_hierarchy_month_or_day_alone_is_not_a_500(staff_client, rows):
    url = reverse("admin:accounts_provider_changelist")

    statuses = _statuses(
        staff_client,
        url,
        ["created_at__month=13", "created_at__day=32", "created_at__month=abc"],
    )

    assert {query: status for query, status in statuses.items() if status >= 500} == {}


def test_a_valid_date_hierarchy_drill_down_still_finds_the_row(staff_client, rows):
    today = timezone.localtime()
    url = reverse("admin:accounts_provider_changelist")
    params = {"created_at__year": today.year, "created_at__month": today.month}

    found = staff_client.get(url, {**params, "created_at__day": today.day})
    missed = staff_client.get(url, {**params, "created_at__year": today.year - 1})

    assert found.status_code == 200
    assert found.context["cl"].result_count >= 1
    assert missed.status_code == 200
    assert missed.context["cl"].result_count == 0


def test_the_walk_covers_the_project_admins():
    """Guards the walk itself: an empty registry would make every test above pass vacuously."""
    labels = {_label(model) for model, _ in ADMINS}
    with_dates = {_label(model) for model, _ in DATE_HIERARCHY_ADMINS}

    assert {
        "accounts.Provider",
        "accounts.Membership",
        "accounts.User",
        "agreements.Agreement",
        "agreements.AgreementScheduleLine",
        "agreements.AgreementVersion",
        "agreements.MidLink",
        "core.AuditEntry",
    } <= labels
    assert {
        "accounts.Provider",
        "accounts.Membership",
        "agreements.Agreement",
        "agreements.AgreementVersion",
        "agreements.MidLink",
        "core.AuditEntry",
    } <= with_dates


def test_every_registered_admin_is_hardened():
    """Third-party admins included: core/admin.py re-registers them with the mixin."""
    unprotected = [
        _label(model)
        for model, model_admin in ADMINS
        if not isinstance(model_admin, SafeChangeListMixin)
    ]

    assert unprotected == []


@pytest.mark.parametrize(
    ("url_name", "action"),
    [
        ("admin:accounts_user_changelist", "delete_selected"),
        ("admin:django_celery_beat_periodictask_changelist", "enable_tasks"),
    ],
)
def test_an_admin_action_on_a_tampered_id_is_400(staff_client, rows, url_name, action):
    url = reverse(url_name)

    with_index = staff_client.post(url, {"action": action, "index": 0, "_selected_action": "abc"})
    confirm = staff_client.post(url, {"action": action, "_selected_action": ["1", "1.5"]})

    assert with_index.status_code == 400
    assert confirm.status_code == 400


def test_an_admin_action_on_real_ids_still_runs(staff_client, rows):
    task = PeriodicTask.objects.get(name="probe")
    url = reverse("admin:django_celery_beat_periodictask_changelist")

    response = staff_client.post(
        url, {"action": "disable_tasks", "index": 0, "_selected_action": [str(task.pk)]}
    )

    assert response.status_code == 302
    task.refresh_from_db()
    assert task.enabled is False


def test_autocomplete_refuses_nul_in_the_term(staff_client, rows):
    url = reverse("admin:autocomplete")
    params = {"app_label": "agreements", "model_name": "midlink", "field_name": "provider"}

    good = staff_client.get(url, {**params, "term": "Provider"})
    bad = staff_client.get(url, {**params, "term": "Pro\x00vider"})

    assert good.status_code == 200
    assert good.json()["results"]
    assert bad.status_code == 400


def test_a_post_with_nul_in_a_form_field_is_400(rows):
    client = Client(raise_request_exception=False)
    url = reverse("admin:login")
    fields = {"username": "admin\x00@example.com", "password": "x"}

    multipart = client.post(url, fields)
    urlencoded = client.post(
        url,
        "username=admin%00%40example.com&password=x",
        content_type="application/x-www-form-urlencoded",
    )
    in_key = client.post(url, {"username": "a@example.com", "pass\x00word": "x"})

    assert multipart.status_code == 400
    assert urlencoded.status_code == 400
    assert in_key.status_code == 400
    assert multipart["Content-Type"].startswith("text/plain")
    assert multipart.content.decode() == NUL_MESSAGE


def test_nul_bytes_inside_an_uploaded_file_are_not_refused(admin_user):
    client = Client(raise_request_exception=False)
    upload = _upload(b"%PDF-1.7\x00\x00binary")

    response = client.post(
        reverse("admin:login"),
        {
            "username": admin_user.email,
            "password": "password",
            "otp_token": current_code(staff_device(admin_user)),
            "evidence": upload,
        },
    )

    assert response.status_code == 302  # logged in: the file's bytes were not inspected


def test_nul_refusal_is_site_wide(client):
    response = client.get("/", {"next": "\x00"})

    assert response.status_code == 400
    assert response.content.decode() == NUL_MESSAGE


def test_healthz_still_answers(client):
    assert client.get("/healthz").status_code == 200


@override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=True)
def test_static_files_are_still_served():
    # A fresh client builds its middleware chain under the overridden settings.
    response = Client().get("/static/admin/css/base.css")

    assert response.status_code == 200
    assert b"".join(response.streaming_content)


class TestMiddleware:
    """The middleware on its own: which parts of a request it reads and which it leaves alone."""

    factory = RequestFactory()

    middleware = RejectNulBytesMiddleware(lambda request: HttpResponse("passed"))

    def test_clean_requests_pass(self):
        request = self.factory.post("/x?a=1&b=two", {"name": "Pat", "email": "p@example.com"})

        assert self.middleware(request).content == b"passed"

    def test_json_bodies_are_left_to_the_view(self):
        # Only form-encoded bodies are parsed here; an API validates its own JSON.
        request = self.factory.post("/x", '{"name": "\\u0000"}', content_type="application/json")

        assert self.middleware(request).content == b"passed"

    @pytest.mark.parametrize("query", ["a=%00", "%00=1", "a=1&a=%00", "a%00b=1", "a=x%00y"])
    def test_nul_anywhere_in_the_query_string_is_refused(self, query):
        response = self.middleware(self.factory.get(f"/x?{query}"))

        assert response.status_code == 400
        assert response.content.decode() == NUL_MESSAGE

    def test_uploaded_file_contents_are_not_inspected(self):
        request = self.factory.post("/x", {"file": _upload(b"\x00\x00"), "name": "ok"})

        assert self.middleware(request).content == b"passed"
