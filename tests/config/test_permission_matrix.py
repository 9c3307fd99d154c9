"""The whole staff permission matrix (issue 8): who opens which admin page, who may decide.

The groups come from core/migrations/0002_staff_groups.py, and their permissions on the tracking
app from tracking/migrations/0002_staff_group_permissions.py and on billing from
billing/migrations/0002_finance_permissions.py. Admin pages answer on "view" permissions;
decisions (admin actions) are gated on "change" (or "add") permissions. Every registered admin
is in the table, so an admin added later fails here until its row says who may open it.
"""

import importlib
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from tests.factories import StaffFactory, UserFactory
from tests.otp import otp_login

pytestmark = pytest.mark.django_db

REVIEWERS, FINANCE, SUPPORT = "Agreement reviewers", "Finance", "Support"
ROLES = ["superuser", REVIEWERS, FINANCE, SUPPORT, "staff without a group"]
PROJECT_APPS = {"accounts", "agreements", "core", "tracking", "billing"}

# GET /admin/<app>/<model>/ for each role, in the order of ROLES.
CHANGELISTS: dict[str, tuple[int, int, int, int, int]] = {
    "accounts.Provider": (200, 200, 200, 200, 403),
    "accounts.Membership": (200, 200, 200, 200, 403),
    "accounts.Invitation": (200, 200, 403, 200, 403),
    "accounts.User": (200, 403, 403, 200, 403),
    "agreements.Agreement": (200, 200, 403, 200, 403),
    "agreements.AgreementScheduleLine": (200, 200, 403, 200, 403),
    "agreements.MidLink": (200, 200, 403, 200, 403),
    "agreements.AgreementVersion": (200, 200, 403, 200, 403),
    "core.AuditEntry": (200, 200, 403, 200, 403),
    "account.EmailAddress": (200, 403, 403, 403, 403),
    "auth.Group": (200, 403, 403, 403, 403),
    "django_celery_beat.PeriodicTask": (200, 403, 403, 403, 403),
    "django_celery_beat.IntervalSchedule": (200, 403, 403, 403, 403),
    "django_celery_beat.CrontabSchedule": (200, 403, 403, 403, 403),
    "django_celery_beat.SolarSchedule": (200, 403, 403, 403, 403),
    "django_celery_beat.ClockedSchedule": (200, 403, 403, 403, 403),
    "tracking.ApiApp": (200, 200, 200, 200, 403),
    "tracking.ProviderApiQuota": (200, 200, 403, 200, 403),
    "tracking.MailPiece": (200, 200, 403, 200, 403),
    "tracking.Disclosure": (200, 200, 403, 200, 403),
    "tracking.DailyUsage": (200, 200, 200, 200, 403),
    "tracking.Extract": (200, 200, 403, 200, 403),
    "tracking.Subscription": (200, 200, 403, 200, 403),
    "tracking.WebhookDelivery": (200, 200, 403, 200, 403),
    "billing.FeeSchedule": (200, 403, 200, 200, 403),
    "billing.BillingAccount": (200, 403, 200, 200, 403),
    "billing.Invoice": (200, 403, 200, 200, 403),
    "billing.CreditNote": (200, 403, 200, 200, 403),
    "billing.Payment": (200, 403, 200, 200, 403),
    "billing.StripeEvent": (200, 403, 200, 200, 403),
    "billing.ReconciliationIssue": (200, 403, 200, 200, 403),
}

BILLING_MODELS = (
    "feeschedule",
    "billingaccount",
    "invoice",
    "invoiceline",
    "creditnote",
    "payment",
    "stripeevent",
    "reconciliationissue",
)
BILLING_VIEWS = {f"billing.view_{model}" for model in BILLING_MODELS}
# Extracts and webhooks carry tracking data: reviewers and support read them, finance does not.
EXTRACT_WEBHOOK_VIEWS = {
    f"tracking.view_{model}"
    for model in (
        "extract",
        "extractdownload",
        "subscription",
        "webhookdelivery",
        "deliveryattempt",
    )
}
# What finance decides in the admin: every invoice action (approve, void, write off, credit
# note, offline payment, resend, export) on change_invoice; fee schedule rows; reconciliation.
FINANCE_DECISIONS = [
    "billing.change_invoice",
    "billing.add_feeschedule",
    "billing.change_reconciliationissue",
]

# Every permission each group holds: nothing more, nothing less.
PERMISSIONS: dict[str, set[str]] = {
    REVIEWERS: {
        "accounts.view_provider",
        "accounts.change_provider",
        "agreements.view_agreement",
        "agreements.change_agreement",
        "agreements.view_agreementscheduleline",
        "agreements.change_agreementscheduleline",
        "agreements.view_midlink",
        "agreements.change_midlink",
        "agreements.view_agreementversion",
        "agreements.change_agreementversion",
        "agreements.add_agreementversion",
        "accounts.view_membership",
        "accounts.view_invitation",
        "core.view_auditentry",
        "tracking.view_apiapp",
        "tracking.view_providerapiquota",
        "tracking.change_providerapiquota",
        "tracking.add_providerapiquota",
        "tracking.view_mailpiece",
        "tracking.view_trackingevent",
        "tracking.view_disclosure",
        "tracking.view_dailyusage",
        *EXTRACT_WEBHOOK_VIEWS,
        "tracking.change_extract",  # approve or reject a service provider's extract
    },
    FINANCE: {
        "accounts.view_provider",
        "accounts.view_membership",
        "tracking.view_apiapp",
        "tracking.view_dailyusage",
        *BILLING_VIEWS,
        *FINANCE_DECISIONS,
    },
    SUPPORT: {
        "accounts.view_user",
        "accounts.view_provider",
        "accounts.view_membership",
        "accounts.view_invitation",
        "agreements.view_agreementversion",
        "agreements.view_agreement",
        "agreements.view_agreementscheduleline",
        "agreements.view_midlink",
        "core.view_auditentry",
        "tracking.view_apiapp",
        "tracking.view_providerapiquota",
        "tracking.view_mailpiece",
        "tracking.view_trackingevent",
        "tracking.view_disclosure",
        "tracking.view_dailyusage",
        *EXTRACT_WEBHOOK_VIEWS,
        *BILLING_VIEWS,
    },
}

# The "review" permissions that gate decisions in the admin, per role.
DECISIONS = [
    "accounts.change_provider",
    "agreements.change_agreement",
    "agreements.change_agreementscheduleline",
    "agreements.change_midlink",
    "agreements.change_agreementversion",
    "agreements.add_agreementversion",
    "tracking.change_providerapiquota",
    "tracking.add_providerapiquota",
    "tracking.change_extract",
]
DECIDES: dict[str, bool] = {
    "superuser": True,
    REVIEWERS: True,
    FINANCE: False,
    SUPPORT: False,
    "staff without a group": False,
}


def _group_migration(app_label: str, name: str):
    """A group migration's module and the apps of the project state it runs in."""
    module = importlib.import_module(f"{app_label}.migrations.{name}")
    state = MigrationExecutor(connection).loader.project_state((app_label, name))
    return module, state.apps


TRACKING_GRANTS = ("0002_staff_group_permissions", "0005_extract_webhook_permissions")


def grant_tracking_permissions() -> None:
    """tests/conftest.py's staff_groups re-applies core's migration, which sets each group to
    exactly core's grants; the tracking migrations' forward steps add the tracking ones back."""
    for name in TRACKING_GRANTS:
        module, apps = _group_migration("tracking", name)
        module.grant(apps, SimpleNamespace(connection=connection))


def grant_billing_permissions() -> None:
    """The billing migration's forward step, for the same reason."""
    module, apps = _group_migration("billing", "0002_finance_permissions")
    module.grant(apps, SimpleNamespace(connection=connection))


@pytest.fixture(autouse=True)
def _groups(staff_groups):
    grant_tracking_permissions()
    grant_billing_permissions()


def staff_member(role: str):
    if role == "superuser":
        return StaffFactory()
    user = UserFactory(is_staff=True)
    if role in PERMISSIONS:
        user.groups.add(Group.objects.get(name=role))
    return user


def _changelist(label: str) -> str:
    app_label, model_name = label.lower().split(".")
    return reverse(f"admin:{app_label}_{model_name}_changelist")


def test_the_matrix_lists_every_registered_admin():
    assert set(CHANGELISTS) == {model._meta.label for model in admin.site._registry}


def test_the_migration_made_exactly_three_staff_groups():
    assert set(Group.objects.values_list("name", flat=True)) == set(PERMISSIONS)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_exactly_its_changelists(role):
    client = otp_login(Client(), staff_member(role))
    column = ROLES.index(role)

    statuses = {label: client.get(_changelist(label)).status_code for label in CHANGELISTS}

    assert client.get(reverse("admin:index")).status_code == 200
    assert statuses == {label: row[column] for label, row in CHANGELISTS.items()}


@pytest.mark.parametrize("group", sorted(PERMISSIONS))
def test_each_group_holds_exactly_its_permissions(group):
    user = staff_member(group)

    assert user.get_all_permissions() == PERMISSIONS[group]


@pytest.mark.parametrize("role", ROLES)
def test_only_superusers_and_reviewers_may_decide(role):
    user = staff_member(role)

    assert {perm: user.has_perm(perm) for perm in DECISIONS} == dict.fromkeys(
        DECISIONS, DECIDES[role]
    )


@pytest.mark.parametrize("role", ROLES)
def test_only_superusers_and_finance_may_decide_billing(role):
    user = staff_member(role)

    assert {perm: user.has_perm(perm) for perm in FINANCE_DECISIONS} == dict.fromkeys(
        FINANCE_DECISIONS, role in ("superuser", FINANCE)
    )


def test_finance_cannot_approve_agreements_or_anything_outside_billing():
    finance = staff_member(FINANCE)

    assert not any(
        perm.split(".")[1].startswith(("change_", "add_", "delete_"))
        for perm in finance.get_all_permissions()
        if not perm.startswith("billing.")
    )
    assert not finance.has_perm("agreements.change_agreement")


def test_no_group_deletes_or_reaches_beyond_the_project_apps():
    """No deletions (records end through decisions), and nothing of auth or third-party apps:
    no group can edit groups, permissions or users, and so cannot grant itself more."""
    held = Permission.objects.filter(group__name__in=PERMISSIONS)

    assert not held.filter(codename__startswith="delete_").exists()
    assert set(held.values_list("content_type__app_label", flat=True)) <= PROJECT_APPS
    assert (
        not held.filter(content_type__app_label="accounts", content_type__model="user")
        .exclude(codename="view_user")
        .exists()
    )


def test_finance_data_is_for_finance_and_supports_eyes_only():
    """Billing is Finance's to change: reviewers hold none of its permissions, and Support only
    reads it (to answer providers' questions about their bills)."""
    billing = Permission.objects.filter(content_type__app_label="billing")

    assert not billing.filter(group__name=REVIEWERS).exists()
    assert not billing.filter(group__name=SUPPORT).exclude(codename__startswith="view_").exists()


def test_a_group_member_without_a_verified_device_opens_nothing(client):
    reviewer = staff_member(REVIEWERS)
    client.force_login(reviewer)  # a password alone

    for label in CHANGELISTS:
        response = client.get(_changelist(label))
        assert response.status_code == 302, label
        assert response.url.startswith(reverse("admin:login"))


def group_permissions() -> dict[str, set[str]]:
    return {
        group.name: {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        for group in Group.objects.prefetch_related("permissions__content_type")
    }


def _outside(app_label: str, permissions: dict[str, set[str]]) -> dict[str, set[str]]:
    return {
        group: {perm for perm in perms if not perm.startswith(f"{app_label}.")}
        for group, perms in permissions.items()
    }


def test_the_group_migration_is_idempotent_and_reversible():
    migration, apps = _group_migration("core", "0002_staff_groups")
    editor = SimpleNamespace(connection=connection)
    Group.objects.get(name=SUPPORT).permissions.add(
        Permission.objects.get(codename="delete_user")  # granted by hand, later
    )
    core_grants = _outside("billing", _outside("tracking", PERMISSIONS))

    migration.create_groups(apps, editor)
    assert group_permissions() == core_grants  # run again: exactly least privilege again

    migration.delete_groups(apps, editor)
    assert group_permissions() == {}

    migration.create_groups(apps, editor)
    assert group_permissions() == core_grants


def test_the_tracking_grants_are_idempotent_reversible_and_touch_only_tracking():
    migrations = [_group_migration("tracking", name) for name in TRACKING_GRANTS]
    editor = SimpleNamespace(connection=connection)
    by_hand = {
        FINANCE: Permission.objects.get(codename="view_disclosure"),  # a tracking one
        SUPPORT: Permission.objects.get(codename="delete_user"),  # outside tracking
    }
    for group, permission in by_hand.items():
        Group.objects.get(name=group).permissions.add(permission)
    expected = {**PERMISSIONS, SUPPORT: PERMISSIONS[SUPPORT] | {"accounts.delete_user"}}

    for _ in range(2):
        for migration, apps in migrations:
            migration.grant(apps, editor)
    assert group_permissions() == expected  # the hand-made tracking grant is gone, not the other

    for migration, apps in reversed(migrations):
        migration.revoke(apps, editor)
    assert group_permissions() == _outside("tracking", expected)

    for migration, apps in migrations:
        migration.grant(apps, editor)
    assert group_permissions() == expected


def test_each_tracking_grant_leaves_the_other_migrations_models_alone():
    """0002 (the API's models) and 0005 (extracts and webhooks) each set exactly their own
    models' permissions, so re-applying one never strips what the other granted."""
    (first, first_apps), (second, second_apps) = (
        _group_migration("tracking", name) for name in TRACKING_GRANTS
    )
    editor = SimpleNamespace(connection=connection)

    first.grant(first_apps, editor)
    assert group_permissions() == PERMISSIONS
    second.revoke(second_apps, editor)
    assert "tracking.view_disclosure" in group_permissions()[SUPPORT]
    assert "tracking.view_extract" not in group_permissions()[SUPPORT]
    second.grant(second_apps, editor)
    assert group_permissions() == PERMISSIONS


def test_no_group_may_revoke_api_apps():
    """Revoking a provider's app stops its integration at once: superusers only."""
    assert {role: staff_member(role).has_perm("tracking.change_apiapp") for role in ROLES} == {
        role: role == "superuser" for role in ROLES
    }


def test_finance_reads_no_agreement_or_mid_decisions_through_the_provider_page():
    """Review finding: the provider page's audit timeline and MID search told Finance what
    only reviewers and support may read."""
    from agreements import services
    from tests.factories import MidLinkFactory, ProviderFactory

    provider = ProviderFactory(legal_name="Parcel Insights LLC")
    link = MidLinkFactory(provider=provider, mid="123456", status="REQUESTED")
    services.mid_link_reject(link=link, actor=StaffFactory(), reason="SECRET-MID-REASON")
    finance = otp_login(Client(), staff_member(FINANCE))
    reviewer = otp_login(Client(), staff_member(REVIEWERS))
    page = f"/admin/accounts/provider/{provider.pk}/change/"
    search = "/admin/accounts/provider/?q=123456"

    assert "SECRET-MID-REASON" not in finance.get(page).content.decode()
    assert "Parcel Insights LLC" not in finance.get(search).content.decode()
    assert "SECRET-MID-REASON" in reviewer.get(page).content.decode()
    assert "Parcel Insights LLC" in reviewer.get(search).content.decode()


def test_the_billing_grants_are_idempotent_reversible_and_touch_only_billing():
    migration, apps = _group_migration("billing", "0002_finance_permissions")
    editor = SimpleNamespace(connection=connection)
    by_hand = {
        SUPPORT: Permission.objects.get(codename="change_invoice"),  # a billing one
        FINANCE: Permission.objects.get(codename="delete_user"),  # outside billing
    }
    for group, permission in by_hand.items():
        Group.objects.get(name=group).permissions.add(permission)
    expected = {**PERMISSIONS, FINANCE: PERMISSIONS[FINANCE] | {"accounts.delete_user"}}

    migration.grant(apps, editor)
    migration.grant(apps, editor)
    assert group_permissions() == expected  # the hand-made billing grant is gone, not the other

    migration.revoke(apps, editor)
    assert group_permissions() == _outside("billing", expected)

    migration.grant(apps, editor)
    assert group_permissions() == expected
