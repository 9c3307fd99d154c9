"""Every transition service against every starting status.

Legal moves succeed and write one audit entry; every other move raises a domain error and
changes nothing at all (the row and the audit log are compared before and after).
The expected legal moves are written out here, independently of constants.py.
"""

import pytest
from django.forms.models import model_to_dict

from accounts import services as account_services
from accounts.constants import MembershipRole, ProviderStatus
from accounts.models import Provider
from agreements import services
from agreements.constants import AgreementStatus, MidLinkStatus, ScheduleLineStatus
from agreements.models import Agreement, AgreementScheduleLine, MidLink
from core.errors import DomainError, InvalidTransition
from core.models import AuditEntry
from tests.factories import (
    AgreementFactory,
    MembershipFactory,
    MidLinkFactory,
    ProviderFactory,
    ScheduleLineFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db

REASON = "Checked against the BCG record"


def make_provider(status):
    cause = "STAFF_ACTION" if status == ProviderStatus.SUSPENDED else ""
    return ProviderFactory(status=status, suspension_cause=cause)


def make_agreement(status):
    return AgreementFactory(status=status)


def make_line(status):
    return ScheduleLineFactory(status=status)


def make_link(status):
    return MidLinkFactory(status=status)


def provider_call(name, **kw):
    def call(obj, actor):
        fn = getattr(account_services, f"provider_{name}")
        return fn(provider=obj, actor=actor, reason=REASON, **kw)

    return call


def call_with(module, name, arg):
    def call(obj, actor):
        return getattr(module, name)(**{arg: obj}, actor=actor, reason=REASON)

    return call


def withdraw_as_member(obj, actor):
    # Only the claimant's members who may claim MIDs withdraw (tests/agreements/test_mid_views.py).
    MembershipFactory(provider=obj.provider, user=actor, role=MembershipRole.ADMIN)
    return services.mid_link_withdraw(link=obj, actor=actor, reason=REASON)


MACHINES = {
    "provider": (
        Provider,
        ProviderStatus,
        make_provider,
        {
            "approve": (provider_call("approve"), {"PENDING_REVIEW"}, "ACTIVE"),
            "suspend": (provider_call("suspend", cause="NON_PAYMENT"), {"ACTIVE"}, "SUSPENDED"),
            "reinstate": (provider_call("reinstate"), {"SUSPENDED"}, "ACTIVE"),
            "close": (
                provider_call("close"),
                {"PENDING_REVIEW", "ACTIVE", "SUSPENDED"},
                "CLOSED",
            ),
        },
    ),
    "agreement": (
        Agreement,
        AgreementStatus,
        make_agreement,
        {
            "approve": (
                call_with(services, "agreement_approve", "agreement"),
                {"SUBMITTED"},
                "APPROVED",
            ),
            "reject": (
                call_with(services, "agreement_reject", "agreement"),
                {"SUBMITTED"},
                "REJECTED",
            ),
            "suspend": (
                call_with(services, "agreement_suspend", "agreement"),
                {"APPROVED"},
                "SUSPENDED",
            ),
            "reinstate": (
                call_with(services, "agreement_reinstate", "agreement"),
                {"SUSPENDED"},
                "APPROVED",
            ),
            "terminate": (
                call_with(services, "agreement_terminate", "agreement"),
                {"APPROVED", "SUSPENDED"},
                "TERMINATED",
            ),
        },
    ),
    "schedule line": (
        AgreementScheduleLine,
        ScheduleLineStatus,
        make_line,
        {
            "approve": (
                call_with(services, "schedule_line_approve", "line"),
                {"REQUESTED"},
                "APPROVED",
            ),
            "reject": (
                call_with(services, "schedule_line_reject", "line"),
                {"REQUESTED"},
                "REJECTED",
            ),
            "revoke": (
                call_with(services, "schedule_line_revoke", "line"),
                {"APPROVED"},
                "REVOKED",
            ),
        },
    ),
    "MID link": (
        MidLink,
        MidLinkStatus,
        make_link,
        {
            "verify": (call_with(services, "mid_link_verify", "link"), {"REQUESTED"}, "VERIFIED"),
            "reject": (call_with(services, "mid_link_reject", "link"), {"REQUESTED"}, "REJECTED"),
            "revoke": (call_with(services, "mid_link_revoke", "link"), {"VERIFIED"}, "REVOKED"),
            "withdraw": (withdraw_as_member, {"REQUESTED"}, "WITHDRAWN"),
        },
    ),
}

CASES = [
    pytest.param(machine, action, status, id=f"{machine}: {action} from {status}")
    for machine, (_, statuses, _, actions) in MACHINES.items()
    for action in actions
    for status in statuses.values
]


@pytest.mark.parametrize(("machine", "action", "from_status"), CASES)
def test_transition(machine, action, from_status):
    model, _, make, actions = MACHINES[machine]
    call, legal_from, to_status = actions[action]
    obj = make(from_status)
    actor = StaffFactory()
    before = model_to_dict(model.objects.get(pk=obj.pk))
    audit_before = AuditEntry.objects.count()

    if from_status in legal_from:
        result = call(obj, actor)

        row = model.objects.get(pk=obj.pk)
        assert row.status == to_status == result.status
        entry = AuditEntry.objects.latest("pk")
        assert AuditEntry.objects.count() == audit_before + 1
        assert (entry.from_status, entry.to_status, entry.actor) == (from_status, to_status, actor)
        assert entry.subject == row
        assert entry.reason == REASON
    else:
        with pytest.raises(
            InvalidTransition, match="it can only move to|nothing \\(it is final\\)"
        ):
            call(obj, actor)

        assert model_to_dict(model.objects.get(pk=obj.pk)) == before
        assert AuditEntry.objects.count() == audit_before


def test_decisions_record_reviewer_time_and_reason():
    link = MidLinkFactory(status=MidLinkStatus.REQUESTED)
    staff = StaffFactory()

    services.mid_link_reject(link=link, actor=staff, reason="Letter is unsigned")

    link.refresh_from_db()
    assert link.decided_by == staff
    assert link.decided_at is not None
    assert link.decision_reason == "Letter is unsigned"


@pytest.mark.parametrize(
    "call",
    [
        lambda obj, staff: services.mid_link_revoke(link=obj, actor=staff, reason="  "),
        lambda obj, staff: services.mid_link_reject(link=obj, actor=staff, reason=""),
    ],
    ids=["revoke", "reject"],
)
def test_negative_decisions_need_a_reason_and_change_nothing(call):
    link = MidLinkFactory(status=MidLinkStatus.VERIFIED)
    before = model_to_dict(link)

    with pytest.raises(DomainError, match="A reason is required"):
        call(link, StaffFactory())

    assert model_to_dict(MidLink.objects.get(pk=link.pk)) == before
    assert not AuditEntry.objects.exists()


def test_suspension_records_its_cause_and_reinstatement_clears_it():
    provider = ProviderFactory(status=ProviderStatus.ACTIVE)
    staff = StaffFactory()

    account_services.provider_suspend(
        provider=provider, actor=None, reason="Invoice 12 unpaid", cause="NON_PAYMENT"
    )
    provider.refresh_from_db()
    assert (provider.status, provider.suspension_cause) == ("SUSPENDED", "NON_PAYMENT")
    assert AuditEntry.objects.latest("pk").extra == {"cause": "NON_PAYMENT"}
    assert AuditEntry.objects.latest("pk").actor is None  # a system action

    account_services.provider_reinstate(provider=provider, actor=staff, reason="Paid in full")
    provider.refresh_from_db()
    assert (provider.status, provider.suspension_cause) == ("ACTIVE", "")


def test_an_unknown_suspension_cause_is_refused():
    provider = ProviderFactory(status=ProviderStatus.ACTIVE)

    with pytest.raises(DomainError, match="Unknown suspension cause"):
        account_services.provider_suspend(provider=provider, actor=None, reason="x", cause="WHIM")

    provider.refresh_from_db()
    assert provider.status == ProviderStatus.ACTIVE


def test_the_callers_instance_is_updated_too():
    provider = ProviderFactory(status=ProviderStatus.PENDING_REVIEW)

    account_services.provider_approve(provider=provider, actor=StaffFactory())

    assert provider.status == ProviderStatus.ACTIVE
