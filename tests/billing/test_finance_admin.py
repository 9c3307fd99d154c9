"""Finance in the admin (issue 10 §5): the invoice queue and its filters, bulk approval, void,
write-off, credit notes, offline payments, resending, CSV export, the aging report; fee
schedules and the reconciliation queue. Finance acts, Support only reads, reviewers and
providers see nothing; nobody adds or deletes invoices by hand. The project's hostile-input
walks run over every billing admin with rows to walk."""

import csv
import importlib
import io
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from accounts.constants import MembershipRole
from billing.constants import InvoiceStatus, ReconciliationStatus
from billing.models import (
    CreditNote,
    FeeSchedule,
    Invoice,
    Payment,
)
from billing.services import invoices as services
from billing.services.invoices import invoice_approve
from billing.tasks import charge_invoice
from core.models import AuditEntry
from tests.config import test_admin_hostile as hostile
from tests.config import test_bad_input as bad_input
from tests.factories import (
    FeeScheduleFactory,
    InvoiceFactory,
    MembershipFactory,
    ProviderFactory,
    ReconciliationIssueFactory,
    StaffFactory,
    UserFactory,
    billing_rows,
)
from tests.otp import otp_login
from tests.review_admin import decide, messages_of, open_reason_page

pytestmark = pytest.mark.django_db

FINANCE, SUPPORT, REVIEWERS = "Finance", "Support", "Agreement reviewers"
TODAY = date(2026, 11, 30)
INVOICES = reverse("admin:billing_invoice_changelist")
AGING = reverse("admin:billing_invoice_aging")
BILLING_ADMINS = sorted(
    (
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label == "billing"
    ),
    key=lambda item: item[0]._meta.label,
)
BILLING_IDS = [model._meta.label for model, _ in BILLING_ADMINS]


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(services, "billing_today", lambda: TODAY)
    monkeypatch.setattr("billing.selectors.billing_today", lambda: TODAY)


@pytest.fixture(autouse=True)
def charges(monkeypatch) -> list[int]:
    queued: list[int] = []
    monkeypatch.setattr(charge_invoice, "delay", queued.append)
    return queued


@pytest.fixture
def groups(staff_groups):
    """The staff groups with their billing permissions (tests/conftest.py's staff_groups
    re-applies core's migration only)."""
    module = importlib.import_module("billing.migrations.0002_finance_permissions")
    key = ("billing", "0002_finance_permissions")
    state = MigrationExecutor(connection).loader.project_state(key)
    module.grant(state.apps, SimpleNamespace(connection=connection))


def member_of(group: str) -> Client:
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return otp_login(Client(), user)


@pytest.fixture
def finance(groups) -> Client:
    return member_of(FINANCE)


@pytest.fixture
def provider():
    provider = ProviderFactory(legal_name="Parcel Insights LLC")
    MembershipFactory(provider=provider, user__email="owner@example.com")
    MembershipFactory(
        provider=provider, user__email="billing@example.com", role=MembershipRole.BILLING
    )
    return provider


def draft(provider, month: int, total: int = 100_000) -> Invoice:
    return InvoiceFactory(provider=provider, period=date(2026, month, 1), total_cents=total)


def opened(provider, month: int, total: int = 100_000, *, days_past_due: int = -30) -> Invoice:
    invoice = invoice_approve(invoice=draft(provider, month, total), actor=None)
    Invoice.objects.filter(pk=invoice.pk).update(due_on=TODAY - timedelta(days=days_past_due))
    invoice.refresh_from_db()
    return invoice


def listed(response) -> list[Invoice]:
    return list(response.context["cl"].result_list)


def change_url(invoice) -> str:
    return reverse("admin:billing_invoice_change", args=[invoice.pk])


# --- The queue --------------------------------------------------------------------------------


def test_the_queue_filters_drafts_open_and_overdue_and_shows_the_amounts(finance, provider):
    waiting = draft(provider, 10)
    current = opened(provider, 9)
    late = opened(provider, 8, days_past_due=3)
    paid = opened(provider, 7, total=0)

    everything = finance.get(INVOICES)
    drafts = finance.get(INVOICES, {"queue": "draft"})
    open_ = finance.get(INVOICES, {"queue": "open"})
    overdue = finance.get(INVOICES, {"queue": "overdue"})

    assert listed(everything)[0] == waiting  # drafts first
    assert set(listed(everything)) == {waiting, current, late, paid}
    assert listed(drafts) == [waiting]
    assert set(listed(open_)) == {current, late}
    assert listed(overdue) == [late]
    page = everything.content.decode()
    assert "1 draft to approve." in page
    assert "1 overdue, the oldest due since 2026-11-27." in page
    assert "$1,000.00" in page
    assert "(draft #" in page and late.number in page
    assert AGING in page


def test_the_queue_lists_many_invoices_in_a_constant_number_of_queries(
    finance, provider, django_assert_max_num_queries
):
    for month in range(1, 13):
        opened(ProviderFactory(), month)

    with django_assert_max_num_queries(20):
        response = finance.get(INVOICES)

    assert len(listed(response)) == 12


def test_finance_approves_drafts_in_bulk(
    finance, provider, charges, django_capture_on_commit_callbacks
):
    first, second = draft(provider, 9), draft(provider, 10)

    page = open_reason_page(finance, INVOICES, "approve_invoices", [first, second])
    with django_capture_on_commit_callbacks(execute=True):
        response = decide(finance, INVOICES, "approve_invoices", [first, second], reason="")

    assert page.status_code == 200 and page.context["title"] == "Approve invoices"
    assert "2 items decided." in messages_of(response)
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == ["TAP-2026-000001", "TAP-2026-000002"]
    assert sorted(charges) == sorted([first.pk, second.pk])


def test_approving_an_invoice_already_open_says_so_and_changes_nothing(finance, provider):
    invoice = opened(provider, 9)

    response = decide(finance, INVOICES, "approve_invoices", [invoice], reason="")

    (message,) = messages_of(response)
    assert "it is Open, and from OPEN it can only move to" in message
    assert AuditEntry.objects.filter(action="invoice_approve").count() == 1


def test_void_needs_a_reason(finance, provider):
    invoice = draft(provider, 10)

    refused = decide(finance, INVOICES, "void_invoices", [invoice], reason=" ")
    done = decide(finance, INVOICES, "void_invoices", [invoice], reason="Billed in error.")

    assert refused.status_code == 200  # the reason page again, with its error
    assert refused.context["form"].errors == {"reason": ["This field is required."]}
    assert "1 item decided." in messages_of(done)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.decision_reason) == (InvoiceStatus.VOID, "Billed in error.")


def test_finance_writes_off_an_open_invoice(finance, provider):
    invoice = opened(provider, 9)

    decide(finance, INVOICES, "write_off_invoices", [invoice], reason="Company dissolved.")

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.UNCOLLECTIBLE
    assert AuditEntry.objects.get(action="invoice_mark_uncollectible").reason == (
        "Company dissolved."
    )


def test_finance_issues_a_credit_note_in_dollars(finance, provider):
    invoice = opened(provider, 9)

    page = open_reason_page(finance, INVOICES, "credit_invoice", [invoice])
    decide(finance, INVOICES, "credit_invoice", [invoice], amount="250.50", reason="Outage 3 Oct.")

    assert list(page.context["form"].fields) == ["amount", "reason"]
    note = CreditNote.objects.get()
    assert (note.amount_cents, note.reason, note.invoice) == (25_050, "Outage 3 Oct.", invoice)
    invoice.refresh_from_db()
    assert invoice.amount_due_cents == 74_950


def test_an_over_credit_is_refused_with_the_amount_due(finance, provider):
    invoice = opened(provider, 9)

    response = decide(
        finance, INVOICES, "credit_invoice", [invoice], amount="1000.01", reason="Too much"
    )

    (message,) = messages_of(response)
    assert "only $1,000.00 is still due" in message
    assert not CreditNote.objects.exists()


def test_a_credit_note_or_payment_is_for_one_invoice_at_a_time(finance, provider):
    invoices = [opened(provider, 9), opened(provider, 10)]

    for action in ("credit_invoice", "record_offline_payment"):
        response = open_reason_page(finance, INVOICES, action, invoices)
        assert "Choose exactly one invoice" in messages_of(response)[0]
        assert response.status_code == 302
    assert not CreditNote.objects.exists() and not Payment.objects.exists()


def test_finance_records_a_wire_that_settles_the_invoice(finance, provider):
    invoice = opened(provider, 9)

    page = open_reason_page(finance, INVOICES, "record_offline_payment", [invoice])
    decide(
        finance,
        INVOICES,
        "record_offline_payment",
        [invoice],
        method="WIRE",
        amount="1000.00",
        reference="FED 2026-11-30 0042",
    )

    assert list(page.context["form"].fields) == ["method", "amount", "reference"]
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_cents) == (InvoiceStatus.PAID, 100_000)
    payment = Payment.objects.get()
    assert (payment.method, payment.reference) == ("WIRE", "FED 2026-11-30 0042")


def test_finance_resends_the_email(
    finance, provider, mailoutbox, django_capture_on_commit_callbacks
):
    invoice = opened(provider, 9)

    with django_capture_on_commit_callbacks(execute=True):
        decide(finance, INVOICES, "resend_invoices", [invoice])

    (mail,) = mailoutbox
    assert invoice.number in mail.subject
    assert sorted(mail.to) == ["billing@example.com", "owner@example.com"]


def test_csv_export_of_the_selection(finance, provider):
    invoice = opened(provider, 9, total=123_456)
    draft(provider, 10)

    response = finance.post(
        INVOICES,
        {"action": "export_csv", "index": 0, "_selected_action": [invoice.pk]},
    )

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="invoices.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:5] == ["number", "provider_id", "provider", "period", "status"]
    assert rows[1:] == [
        [
            invoice.number,
            str(provider.pk),
            "Parcel Insights LLC",
            "2026-09",
            "OPEN",
            "USD",
            "1234.56",
            "0.00",
            "0.00",
            "1234.56",
            "2026-11-30",
            "2026-12-30",
            "",
        ]
    ]


def test_the_invoice_page_offers_the_decisions_of_its_status(finance, provider):
    waiting, open_ = draft(provider, 10), opened(provider, 9)

    draft_page = finance.get(change_url(waiting)).content.decode()
    open_page = finance.get(change_url(open_)).content.decode()

    assert "Approve…" in draft_page and "Void…" in draft_page
    assert "Issue a credit note…" not in draft_page
    assert "Approve…" not in open_page
    for label in ("Issue a credit note…", "Record a wire or check…", "Mark uncollectible…"):
        assert label in open_page
    assert "Monthly access fee" in open_page  # the lines inline


def test_the_decision_link_opens_the_reason_page_and_returns_to_the_invoice(finance, provider):
    invoice = draft(provider, 10)
    url = reverse("admin:billing_invoice_decide", args=[invoice.pk, "approve_invoices"])

    page = finance.get(url)
    response = finance.post(url, {"confirm": "yes", "reason": ""})

    assert page.status_code == 200
    assert response.status_code == 302 and response.url == change_url(invoice)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN


# --- Aging report -----------------------------------------------------------------------------


def test_the_aging_report_shows_buckets_totals_and_a_chart(finance, provider):
    opened(provider, 1, total=10_000, days_past_due=5)
    opened(provider, 2, total=20_000, days_past_due=45)
    opened(provider, 3, total=40_000, days_past_due=120)
    opened(provider, 4, total=80_000, days_past_due=-3)

    response = finance.get(AGING)

    assert response.status_code == 200
    rows = {row["currency"]: row for row in response.context["aging"]}
    assert rows["USD"]["buckets"] == [
        ("0–30 days", 1, "$100.00"),
        ("31–60 days", 1, "$200.00"),
        ("61–90 days", 0, "$0.00"),
        ("Over 90 days", 1, "$400.00"),
    ]
    assert rows["USD"]["past_due"] == (3, "$700.00")
    assert rows["USD"]["not_yet_due"] == (1, "$800.00")
    assert response.context["chart"]["datasets"] == [
        {"label": "USD", "data": ["100", "200", "0", "400"]}
    ]
    page = response.content.decode()
    assert 'id="aging-chart-data"' in page
    assert "/static/chartjs/chart.umd.min.js" in page
    assert "/static/billing_admin/aging-chart.js" in page
    assert [row["period"] for row in response.context["periods"]] == [
        "2026-04",
        "2026-03",
        "2026-02",
        "2026-01",
    ]


def test_the_aging_report_of_nothing(finance):
    response = finance.get(AGING)

    assert response.status_code == 200
    assert "No open invoice." in response.content.decode()


# --- Who may do what -------------------------------------------------------------------------


def test_support_reads_invoices_but_runs_no_decision(groups, provider):
    support = member_of(SUPPORT)
    invoice = draft(provider, 10)

    page = support.get(INVOICES)
    attempt = decide(support, INVOICES, "approve_invoices", [invoice], reason="")
    decide_url = reverse("admin:billing_invoice_decide", args=[invoice.pk, "approve_invoices"])

    assert page.status_code == 200
    assert page.context["cl"].model_admin.get_actions(page.wsgi_request) == {}
    assert attempt.status_code in (200, 302)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.DRAFT
    assert support.get(decide_url).status_code == 403
    assert support.get(AGING).status_code == 200
    assert "Approve…" not in support.get(change_url(invoice)).content.decode()


@pytest.mark.parametrize("group", [REVIEWERS, None])
def test_reviewers_and_staff_without_a_group_see_no_billing(groups, provider, group):
    client = member_of(group) if group else otp_login(Client(), UserFactory(is_staff=True))
    invoice = draft(provider, 10)

    assert client.get(INVOICES).status_code == 403
    assert client.get(AGING).status_code == 403
    assert client.get(change_url(invoice)).status_code == 403


def test_a_provider_member_cannot_reach_the_finance_admin(provider):
    client = Client()
    client.force_login(provider.memberships.get(role=MembershipRole.OWNER).user)

    for url in (INVOICES, AGING, reverse("admin:billing_feeschedule_add")):
        response = client.get(url)
        assert response.status_code == 302 and reverse("admin:login") in response.url


def test_nobody_adds_or_deletes_invoices_by_hand(provider):
    superuser = otp_login(Client(), StaffFactory())
    invoice = draft(provider, 10)

    assert superuser.get(reverse("admin:billing_invoice_add")).status_code == 403
    assert (
        superuser.get(reverse("admin:billing_invoice_delete", args=[invoice.pk])).status_code == 403
    )
    response = superuser.post(
        INVOICES, {"action": "delete_selected", "index": 0, "_selected_action": [invoice.pk]}
    )
    assert Invoice.objects.filter(pk=invoice.pk).exists()
    assert response.status_code in (200, 302)


# --- Fee schedules -------------------------------------------------------------------------------


def test_finance_adds_a_fee_schedule_in_dollars_through_the_service(finance):
    response = finance.post(
        reverse("admin:billing_feeschedule_add"),
        {
            "provider_type": "SERVICE_PROVIDER",
            "effective_from": "2027-01-01",
            "currency": "usd",
            "monthly_fee": "1250.00",
            "included_calls": "100000",
            "overage_per_1000": "0.50",
        },
    )

    assert response.status_code == 302
    schedule = FeeSchedule.objects.get()
    assert (schedule.monthly_fee_cents, schedule.overage_cents_per_1000) == (125_000, 50)
    assert schedule.created_by is not None
    assert AuditEntry.objects.filter(action="fee_schedule_create").count() == 1


def test_a_schedule_the_service_refuses_is_not_saved_and_the_reason_is_shown(finance):
    url = reverse("admin:billing_feeschedule_add")
    data = {
        "provider_type": "SERVICE_PROVIDER",
        "currency": "usd",
        "monthly_fee": "1.00",
        "included_calls": "",
        "overage_per_1000": "0",
    }

    mid_month = finance.post(url, {**data, "effective_from": "2027-01-15"}, follow=True)

    assert FeeSchedule.objects.count() == 0
    assert any("takes effect on the first day of a month" in m for m in messages_of(mid_month))


def test_fee_schedule_rows_are_never_edited_or_deleted(finance, provider):
    used = FeeScheduleFactory()
    invoice = draft(provider, 10)
    invoice.lines.update(fee_schedule=used)
    change = reverse("admin:billing_feeschedule_change", args=[used.pk])

    page = finance.get(change)
    finance.post(change, {"monthly_fee": "1.00", "_save": "Save"})

    assert page.status_code == 200 and not page.context["has_change_permission"]
    assert "Used by invoices" in page.content.decode()
    used.refresh_from_db()
    assert used.monthly_fee_cents == 100_000
    delete = reverse("admin:billing_feeschedule_delete", args=[used.pk])
    assert finance.get(delete).status_code == 403


# --- Reconciliation queue -----------------------------------------------------------------------


def test_finance_resolves_a_reconciliation_finding_with_a_note(finance):
    issue = ReconciliationIssueFactory()

    listing = finance.get(reverse("admin:billing_reconciliationissue_changelist"))
    decide(
        finance,
        reverse("admin:billing_reconciliationissue_changelist"),
        "resolve_issues",
        [issue],
        reason="Refunded in Stripe on 30 Nov.",
    )

    assert "1 open finding." in listing.content.decode()
    issue.refresh_from_db()
    assert (issue.status, issue.resolution) == (
        ReconciliationStatus.RESOLVED,
        "Refunded in Stripe on 30 Nov.",
    )


# --- Every billing admin: smoke pages and the project's hostile-input walks -----------------


@pytest.fixture
def rows(provider):
    """One row of every billing model the admin shows."""
    billing_rows(provider)


@pytest.fixture
def walker(admin_user) -> Client:
    return otp_login(Client(raise_request_exception=False), admin_user)


@pytest.mark.parametrize(("model", "model_admin"), BILLING_ADMINS, ids=BILLING_IDS)
def test_every_billing_changelist_search_and_change_page_opens(finance, rows, model, model_admin):
    info = f"{model._meta.app_label}_{model._meta.model_name}"
    existing = model._default_manager.order_by("pk").first()

    assert finance.get(reverse(f"admin:{info}_changelist")).status_code == 200
    assert finance.get(reverse(f"admin:{info}_changelist"), {"q": "Parcel"}).status_code == 200
    assert finance.get(reverse(f"admin:{info}_change", args=[existing.pk])).status_code == 200


@pytest.mark.parametrize(("model", "model_admin"), BILLING_ADMINS, ids=BILLING_IDS)
def test_every_billing_admin_page_and_form_survives_hostile_input(walker, rows, model, model_admin):
    hostile.test_every_page_survives_hostile_ids(walker, rows, model, model_admin)
    hostile.test_every_add_and_change_form_survives_hostile_values(walker, rows, model, model_admin)


BILLING_ACTIONS = [
    (model, model_admin, action)
    for model, model_admin, action in hostile.ACTION_CASES
    if model._meta.app_label == "billing"
]


@pytest.mark.parametrize(
    ("model", "model_admin", "action"),
    BILLING_ACTIONS,
    ids=[f"{model._meta.label}-{action}" for model, _, action in BILLING_ACTIONS],
)
def test_every_billing_action_survives_tampered_selections_and_reasons(
    walker, rows, admin_user, model, model_admin, action
):
    hostile.test_every_action_survives_tampered_selections_and_reasons(
        walker, rows, admin_user, model, model_admin, action
    )


def test_the_walk_covers_the_billing_actions():
    assert {(model._meta.label, action) for model, _, action in BILLING_ACTIONS} == {
        ("billing.Invoice", "approve_invoices"),
        ("billing.Invoice", "void_invoices"),
        ("billing.Invoice", "write_off_invoices"),
        ("billing.Invoice", "credit_invoice"),
        ("billing.Invoice", "record_offline_payment"),
        ("billing.Invoice", "resend_invoices"),
        ("billing.Invoice", "export_csv"),
        ("billing.ReconciliationIssue", "resolve_issues"),
    }


@pytest.mark.parametrize(("model", "model_admin"), BILLING_ADMINS, ids=BILLING_IDS)
def test_every_billing_changelist_survives_bad_parameters(walker, rows, model, model_admin):
    bad_input.test_every_changelist_refuses_nul_bytes_with_400(walker, rows, model, model_admin)
    bad_input.test_every_changelist_survives_bad_parameters(walker, rows, model, model_admin)
    if model_admin.date_hierarchy:
        bad_input.test_every_date_hierarchy_refuses_impossible_dates_with_400(
            walker, rows, model, model_admin
        )
        bad_input.test_every_date_hierarchy_still_drills_down_to_valid_dates(
            walker, rows, model, model_admin
        )
