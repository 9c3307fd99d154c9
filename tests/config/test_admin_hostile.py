"""No admin URL answers 5xx, whatever the ids, query string or form data (issue 8, part 8).

For every registered admin (django.contrib.admin.site._registry, so an admin or an action added
later is walked without editing this file), as a superuser with a verified second factor:

- every page: the changelist, add, and each page that takes an object id (change, history,
  delete, the bare id, and custom ones such as a user's password page) for an existing row and
  for hostile ids; the "view on site" shortcut too;
- every action the admin offers (`get_actions`): tampered `_selected_action` values and action
  indexes, then on a real row the reason page and its confirmation with the reason missing,
  blank, huge or too big to accept, and every other field of its form given hostile values;
- the add and change forms posted with hostile values in every field;
- the autocomplete endpoint, for every `autocomplete_fields` entry, with hostile terms and pages,
  and with tampered app, model and field names.

Each request runs inside a savepoint rolled back afterwards, so every request starts from the
same rows (an action that worked, a deletion included, is undone) and a database error in one
cannot hide the next. The client answers a 500 as a response instead of raising, so a test
reports every failing request at once. tests/config/test_bad_input.py walks changelist query
strings; this file walks everything else.
"""

import uuid
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from accounts.constants import MembershipRole
from accounts.models import Invitation, User
from agreements.constants import MidLinkStatus, MidRelation
from core.audit import audit_record
from tests.factories import (
    AgreementFactory,
    AgreementVersionFactory,
    MembershipFactory,
    MidLinkFactory,
    ProviderFactory,
    ScheduleLineFactory,
    StaffFactory,
    billing_rows,
    extract_and_webhook_rows,
)
from tests.otp import otp_login

pytestmark = pytest.mark.django_db

ADMINS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
IDS = [model._meta.label for model, _ in ADMINS]

HOSTILE_IDS = [
    "0",
    "-1",
    "1.5",
    "99999999999999999999",
    "9223372036854775808",  # one past the largest bigint
    "abc",
    "\x00",  # sent as %00 in the path
    "_00",  # the admin's own quoting of NUL (admin.utils.unquote)
    "1 OR 1=1",
    "1;DROP TABLE x",
    "%",
    "../../etc/passwd",
    "🙂",
    "x" * 2000,
]
HOSTILE_SELECTIONS = [
    ["abc"],
    ["1.5"],
    ["-1"],
    ["0"],
    ["99999999999999999999"],
    [""],
    [" "],
    ["1e3"],
    ["x" * 5000],
    ["1", "abc"],
    [str(n) for n in range(500)],
]
HOSTILE_VALUES = [
    "abc",
    "-1",
    "0",
    "99999999999999999999",
    "1e308",
    "NaN",
    "9999-12-31T23:59",
    "99999-01-01T00:00",
    "2026-02-30T10:00",
    "0001-01-01T00:00",
    "2026-03-08T02:30",  # a local time that does not exist where clocks spring forward
    "<script>alert(1)</script>",
    "\u202egnp.exe",
    "🙂" * 50,
    "' OR '1'='1",
    "x" * 100_000,
]
HOSTILE_TERMS = [
    "",
    " ",
    "%",
    "_",
    "\\",
    "'",
    '"',
    "%%%",
    "((",
    "[",
    "*",
    "-1",
    "99999999999999999999",
    "<script>",
    "🙂",
    "\u202e",
    " ".join("abcdefghijklmnopqrstuvwxyz"),
    "x" * 5000,
]
HOSTILE_PAGES = ["abc", "-1", "0", "99999999999999999999", "1.5"]
TOO_BIG = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
# Known 5xx answers, by model and the end of the request's label, each a defect outside this
# project's code waiting for its fix. The walk fails when one of them answers 5xx no longer, so
# the entry is removed with the fix.
KNOWN_5XX: dict[str, set[str]] = {}
# What the walk itself may not reach: logging out ends the walk's session.
SKIPPED_URL_NAMES = {"logout"}


def _label(model) -> str:
    return model._meta.label


def _info(model) -> str:
    return f"{model._meta.app_label}_{model._meta.model_name}"


@pytest.fixture
def rows():
    """One row (at least) of every registered model. A model registered later needs a row here:
    test_every_registered_model_has_a_row_to_walk names it."""
    staff = StaffFactory()
    membership = MembershipFactory()
    provider = membership.provider
    agreement = AgreementFactory(
        provider=provider, signer=membership.user, version=AgreementVersionFactory()
    )
    ScheduleLineFactory(agreement=agreement, status="REQUESTED")
    link = MidLinkFactory(provider=provider, requested_by=membership.user)
    MidLinkFactory(
        provider=ProviderFactory(),
        mid=link.mid,
        relation=MidRelation.AUTHORIZED_BY_OWNER,
        status=MidLinkStatus.REQUESTED,
    )
    audit_record(subject=link, action="mid_link_verify", actor=staff, provider_id=provider.pk)
    Invitation.objects.create(
        provider=provider,
        email="invitee@example.com",
        role=MembershipRole.DEVELOPER,
        invited_by=membership.user,
    )
    group = Group.objects.create(name="Walkers")
    staff.groups.add(group)
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=staff, email=staff.email, verified=False, primary=True)
    every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    CrontabSchedule.objects.create(minute="0", hour="4")
    SolarSchedule.objects.create(event="sunrise", latitude=38.88, longitude=-77.02)
    ClockedSchedule.objects.create(clocked_time=timezone.now())
    _tracking_rows(provider)
    billing_rows(provider)
    # A task nobody registered: the "run tasks" action reports it instead of queueing anything.
    PeriodicTask.objects.create(
        name="probe", task="tests.no_such_task", interval=every, start_time=timezone.now()
    )


def _tracking_rows(provider) -> None:
    from tracking.models import DailyUsage, Disclosure, MailPiece, TrackingEvent
    from tracking.services.apps import app_create
    from tracking.services.quotas import quota_set

    app = app_create(provider=provider, name="Walker", actor=None).app
    quota_set(provider=provider, calls_per_hour=100, actor=None)
    piece = MailPiece.objects.create(
        tracking_number="9200190123456712345677",
        mailing_date=timezone.now().date(),
        mid="901234567",
        unique_mail_piece_id="walk-1",
    )
    TrackingEvent.objects.create(
        piece=piece, event_code="10", event_type="Processed", event_timestamp="2026-11-20T08:00:00"
    )
    Disclosure.objects.create(
        record_id=uuid.uuid4(),
        occurred_at=timezone.now(),
        request_id="walk",
        provider=provider,
        app=app,
        tracking_number=piece.tracking_number,
        mid=piece.mid,
        allowed=True,
        http_status=200,
    )
    DailyUsage.objects.create(
        provider=provider, app=app, day=timezone.now().date(), allowed=True, calls=1
    )
    extract_and_webhook_rows(
        provider=provider, app=app, piece=piece, user=provider.memberships.first().user
    )


@pytest.fixture
def walker(admin_user) -> Client:
    return otp_login(Client(raise_request_exception=False), admin_user)


def _request_as(user, path="/admin/"):
    request = RequestFactory().get(path)
    request.user = user
    return request


def walk_user(client: Client):
    return User.objects.get(pk=client.session["_auth_user_id"])


def _status(send) -> int:
    savepoint = transaction.savepoint()
    try:
        return send().status_code
    finally:
        transaction.savepoint_rollback(savepoint)


class Walk:
    """Sends requests and keeps those answered with 5xx."""

    def __init__(self, client: Client):
        self.client = client
        self.failures: dict[str, int] = {}
        self.count = 0

    def get(self, url: str, params=None, label: str = "") -> int:
        return self._record(f"GET {label or url}", lambda: self.client.get(url, params))

    def post(self, url: str, data, label: str) -> int:
        return self._record(f"POST {label}", lambda: self.client.post(url, data))

    def _record(self, label: str, send) -> int:
        status = _status(send)
        self.count += 1
        if status >= 500:
            self.failures[label[:300]] = status
        return status


def _existing(model):
    return model._default_manager.order_by("pk").first()


def _url_arguments(pattern) -> list[str]:
    """The names of a URL pattern's arguments (path converters or regex groups)."""
    converters = getattr(pattern.pattern, "converters", None)
    if converters:
        return list(converters)
    regex = getattr(pattern.pattern, "regex", None)
    return list(regex.groupindex) if regex is not None else []


def _object_urls(model_admin, object_id: str, actions: list[str]) -> dict[str, str]:
    """Every URL of the admin that takes an object id, for `object_id` (quoted into the path).

    Other arguments (a decision's action name, for instance) get each action the admin offers
    and one it does not."""
    placeholder = "8675309"
    urls = {}
    for pattern in model_admin.get_urls():
        arguments = _url_arguments(pattern)
        keys = [key for key in arguments if key in ("object_id", "id", "pk")]
        if not keys or not pattern.name:
            continue
        others = [key for key in arguments if key != keys[0]]
        for value in [*actions, "no_such_action"] if others else [""]:
            kwargs = {keys[0]: placeholder, **dict.fromkeys(others, value)}
            url = reverse(f"admin:{pattern.name}", kwargs=kwargs)
            label = f"{pattern.name} {value}".strip()
            urls[label] = url.replace(placeholder, quote(object_id, safe=""))
    changelist = reverse(f"admin:{_info(model_admin.model)}_changelist")
    urls["bare id"] = f"{changelist}{quote(object_id, safe='')}/"
    return urls


# --- Pages -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "model_admin"), ADMINS, ids=IDS)
def test_every_page_survives_hostile_ids(walker, rows, model, model_admin):
    walk = Walk(walker)
    info = _info(model)
    walk.get(reverse(f"admin:{info}_changelist"))
    walk.get(reverse(f"admin:{info}_add"))
    walk.get(reverse(f"admin:{info}_add"), {"_changelist_filters": "status__exact=<x>"})
    existing = _existing(model)
    ids = [str(existing.pk)] if existing is not None else []
    actions = list(model_admin.get_actions(_request_as(walk_user(walker))))
    for object_id in ids + HOSTILE_IDS:
        for name, url in _object_urls(model_admin, object_id, actions).items():
            walk.get(url, label=f"{name} {object_id[:40]!r}")
    if existing is not None:
        change = reverse(f"admin:{info}_change", args=[existing.pk])
        for query in (
            {"_to_field": "password"},
            {"_to_field": "no_such_field"},
            {"_popup": "1", "_to_field": "id"},
            {"_changelist_filters": "x" * 5000},
            {"_changelist_filters": "pk__in=abc"},
        ):
            walk.get(change, query)
        history = reverse(f"admin:{info}_history", args=[existing.pk])
        for page in HOSTILE_PAGES:
            walk.get(history, {"p": page})
    content_type = ContentType.objects.get_for_model(model)
    for object_id in ids + HOSTILE_IDS:
        shortcut = f"/admin/r/{content_type.pk}/{quote(object_id, safe='')}/"
        walk.get(shortcut, label=f"view on site {object_id[:40]!r}")

    assert walk.failures == {}
    assert walk.count > 10


def test_the_admin_sites_own_pages_survive_hostile_input(walker, rows):
    walk = Walk(walker)
    for pattern in admin.site.get_urls():
        name = getattr(pattern, "name", None)
        if not name or name in SKIPPED_URL_NAMES or _url_arguments(pattern):
            continue
        walk.get(reverse(f"admin:{name}"), {"next": "//evil.example", "q": "<script>"})
    for app_label in ("accounts", "no_such_app", "<script>", "x" * 2000, "🙂"):
        walk.get(f"/admin/{quote(app_label, safe='')}/", label=f"app list {app_label[:40]!r}")
    for content_type_id in ("0", "-1", "99999999999999999999", "abc"):
        walk.get(f"/admin/r/{content_type_id}/1/")
    walk.get("/admin/no/such/page/")

    assert walk.failures == {}


# --- Actions -----------------------------------------------------------------------------------


def _actions(model_admin, user) -> list[str]:
    return list(model_admin.get_actions(_request_as(user)))


ACTION_CASES = [
    (model, model_admin, name)
    for model, model_admin in ADMINS
    for name in _actions(model_admin, User(is_active=True, is_staff=True, is_superuser=True))
]


def _form_fields(response) -> list[str]:
    """The fields of the form an action's intermediate page asks for, if it has one."""
    context = getattr(response, "context", None)
    form = context.get("form") if context is not None else None
    return list(getattr(form, "fields", {}))


@pytest.mark.parametrize(
    ("model", "model_admin", "action"),
    ACTION_CASES,
    ids=[f"{_label(model)}-{action}" for model, _, action in ACTION_CASES],
)
def test_every_action_survives_tampered_selections_and_reasons(
    walker, rows, admin_user, model, model_admin, action
):
    walk = Walk(walker)
    url = reverse(f"admin:{_info(model)}_changelist")
    existing = _existing(model)
    assert existing is not None, f"no {_label(model)} row to act on: add one in rows()"
    pk = str(existing.pk)
    box = helpers.ACTION_CHECKBOX_NAME

    # Tampered selections and indexes, from the list and as a confirmation.
    for selection in HOSTILE_SELECTIONS:
        short = repr(selection)[:40]
        walk.post(url, {"action": action, "index": 0, box: selection}, f"{action} list {short}")
        walk.post(url, {"action": action, box: selection, "confirm": "yes"}, f"{action} {short}")
    for index in ("abc", "-1", "5", "99999999999999999999"):
        walk.post(url, {"action": action, "index": index, box: [pk]}, f"{action} index {index}")
    walk.post(url, {"action": [action, "nope"], "index": 1, box: [pk]}, f"{action} second")
    walk.post(url, {"action": "no_such_action", "index": 0, box: [pk]}, "unknown action")
    walk.post(url, {"action": action, "index": 0}, f"{action} nothing selected")
    walk.post(url, {"action": action, "index": 0, "select_across": "1", box: [pk]}, "across")

    # A real row: the intermediate page, then its confirmation with bad form data.
    savepoint = transaction.savepoint()
    try:
        fields = _form_fields(walk.client.post(url, {"action": action, "index": 0, box: [pk]}))
    finally:
        transaction.savepoint_rollback(savepoint)
    confirm = {"action": action, box: [pk], "confirm": "yes", "post": "yes"}
    variants: list[tuple[str, dict]] = [
        ("no fields", {}),
        ("blank", dict.fromkeys(fields, "")),
        ("spaces", dict.fromkeys(fields, "   ")),
    ]
    variants += [(f"all {value[:20]!r}", dict.fromkeys(fields, value)) for value in HOSTILE_VALUES]
    others = [field for field in fields if field != "reason"]
    variants += [
        (f"reason ok, others {value[:20]!r}", {"reason": "ok", **dict.fromkeys(others, value)})
        for value in HOSTILE_VALUES
        if others
    ]
    variants.append(("reason repeated", {"reason": ["a", "b" * 10_000]}))
    for label, data in variants:
        walk.post(url, {**confirm, **data}, f"{action} confirm {label}")
    too_big = walk.post(url, {**confirm, "reason": TOO_BIG}, f"{action} reason too big")

    assert walk.failures == {}
    assert too_big == 400


def test_the_walk_covers_the_mid_link_decisions_and_their_forms(walker, rows):
    """Guards the walk: the MID link queue's actions are among those walked, and the walk finds
    the fields of a reason page (so their hostile values are really posted)."""
    walked = {(model._meta.label, action) for model, _, action in ACTION_CASES}
    link = _existing(MidLinkFactory._meta.model)

    response = walker.post(
        reverse("admin:agreements_midlink_changelist"),
        {"action": "verify_links", "index": 0, helpers.ACTION_CHECKBOX_NAME: [link.pk]},
    )

    assert {
        ("agreements.MidLink", "verify_links"),
        ("agreements.MidLink", "reject_links"),
        ("agreements.MidLink", "revoke_links"),
        ("accounts.User", "delete_selected"),
    } <= walked
    assert _form_fields(response) == ["valid_from", "valid_until", "reason"]


# --- Add and change forms ----------------------------------------------------------------------


def _admin_form_fields(response) -> list[str]:
    context = getattr(response, "context", None)
    adminform = context.get("adminform") if context is not None else None
    if adminform is None:
        return []
    return list(adminform.form.fields)


@pytest.mark.parametrize(("model", "model_admin"), ADMINS, ids=IDS)
def test_every_add_and_change_form_survives_hostile_values(walker, rows, model, model_admin):
    walk = Walk(walker)
    info = _info(model)
    existing = _existing(model)
    urls = [reverse(f"admin:{info}_add")]
    if existing is not None:
        urls.append(reverse(f"admin:{info}_change", args=[existing.pk]))
    for url in urls:
        fields = _admin_form_fields(walk.client.get(url))
        walk.post(url, {}, f"{url} empty")
        walk.post(url, {"_save": "Save"}, f"{url} save nothing")
        for value in HOSTILE_VALUES:
            data = {**dict.fromkeys(fields, value), "_save": "Save"}
            walk.post(url, data, f"{url} all {value[:20]!r}")
        walk.post(url, dict.fromkeys(fields, ["1", "abc"]), f"{url} repeated values")

    known = KNOWN_5XX.get(_label(model), set())
    unexpected = {
        label: status
        for label, status in walk.failures.items()
        if not any(label.endswith(end) for end in known)
    }
    assert unexpected == {}
    fixed = {end for end in known if not any(label.endswith(end) for label in walk.failures)}
    assert fixed == set(), "fixed: remove these from KNOWN_5XX"


# --- Autocomplete ------------------------------------------------------------------------------

AUTOCOMPLETE_CASES = [
    (model, field) for model, model_admin in ADMINS for field in model_admin.autocomplete_fields
]


@pytest.mark.parametrize(
    ("model", "field"),
    AUTOCOMPLETE_CASES,
    ids=[f"{_label(model)}.{field}" for model, field in AUTOCOMPLETE_CASES],
)
def test_every_autocomplete_survives_hostile_terms(walker, rows, model, field):
    walk = Walk(walker)
    url = reverse("admin:autocomplete")
    params = {"app_label": model._meta.app_label, "model_name": model._meta.model_name}
    params["field_name"] = field

    ok = walker.get(url, {**params, "term": ""})
    for term in HOSTILE_TERMS:
        walk.get(url, {**params, "term": term}, label=f"{field} term {term[:30]!r}")
    for page in HOSTILE_PAGES:
        walk.get(url, {**params, "term": "a", "page": page}, label=f"{field} page {page!r}")
    nul = walker.get(url, {**params, "term": "a\x00b"})

    assert ok.status_code == 200
    assert walk.failures == {}
    assert nul.status_code == 400


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"app_label": "agreements"},
        {"app_label": "agreements", "model_name": "midlink"},
        {"app_label": "agreements", "model_name": "midlink", "field_name": "no_such_field"},
        {"app_label": "agreements", "model_name": "midlink", "field_name": "mid"},
        {"app_label": "agreements", "model_name": "midlink", "field_name": "evidence"},
        {"app_label": "agreements", "model_name": "no_such_model", "field_name": "provider"},
        {"app_label": "no_such_app", "model_name": "midlink", "field_name": "provider"},
        {"app_label": "accounts", "model_name": "user", "field_name": "password"},
        {"app_label": "auth", "model_name": "permission", "field_name": "content_type"},
        {"app_label": "<script>", "model_name": "🙂", "field_name": "x" * 2000},
    ],
)
def test_the_autocomplete_refuses_tampered_sources(walker, rows, params):
    walk = Walk(walker)

    status = walk.get(reverse("admin:autocomplete"), {**params, "term": "a"})

    assert walk.failures == {}
    assert status in (403, 404)


def test_the_autocomplete_of_a_relation_not_offered_as_one_is_still_permission_checked(
    walker, rows
):
    """Django answers for any relation whose target has a searchable admin (not only the
    autocomplete_fields), checking the user's view permission on the target: here a superuser's
    search of groups through a user's `groups` field."""
    params = {"app_label": "accounts", "model_name": "user", "field_name": "groups", "term": "Walk"}

    response = walker.get(reverse("admin:autocomplete"), params)

    assert response.status_code == 200
    assert [item["text"] for item in response.json()["results"]] == ["Walkers"]


def test_every_registered_model_has_a_row_to_walk(rows):
    """Guards the walk: a model registered later without a row here would walk no change page."""
    empty = [_label(model) for model, _ in ADMINS if _existing(model) is None]

    assert empty == []
