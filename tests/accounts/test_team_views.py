"""The team pages through Django's test client: every page for every role, anonymous visitors,
another tenant's ids on every URL and method, and the invitation journey through the outbox."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from accounts import selectors, services
from accounts.constants import InvitationStatus, MembershipRole, ProviderStatus
from accounts.middleware import SESSION_KEY
from accounts.models import Invitation, Membership
from core.models import AuditEntry
from tests.factories import MembershipFactory, ProviderFactory, StaffFactory, UserFactory
from tests.otp import otp_login

pytestmark = pytest.mark.django_db

OWNER, ADMIN, BILLING, DEVELOPER = (
    MembershipRole.OWNER,
    MembershipRole.ADMIN,
    MembershipRole.BILLING,
    MembershipRole.DEVELOPER,
)
ROLES = [OWNER, ADMIN, BILLING, DEVELOPER]
MANAGERS = [OWNER, ADMIN]
NOT_MANAGERS = [BILLING, DEVELOPER]
TEAM_URL = reverse("accounts:team")
INVITE_URL = reverse("accounts:team_invite")
METHODS = ["get", "post", "put", "patch", "delete", "head", "options"]


def accept_url(token: str) -> str:
    return f"http://testserver{reverse('accounts:invitation_accept', args=[token])}"


def _invite(provider, actor, email, role=DEVELOPER) -> Invitation:
    return services.invitation_create(
        provider=provider, email=email, role=role, actor=actor, accept_url=accept_url
    )


@pytest.fixture
def team():
    """Our provider: one member of each role and a pending invitation."""
    provider = ProviderFactory(legal_name="Parcel Insights LLC")
    members = {
        role: MembershipFactory(
            provider=provider, role=role, user=UserFactory(email=f"{role.lower()}@parcel.example")
        )
        for role in ROLES
    }
    invitation = _invite(provider, members[OWNER].user, "invitee@parcel.example", role=BILLING)
    return provider, members, invitation


@pytest.fixture
def other():
    """Another tenant: its owner, a developer and a pending invitation."""
    provider = ProviderFactory(legal_name="Globex Analytics")
    owner = MembershipFactory(provider=provider, role=OWNER, user__email="owner@globex.example")
    developer = MembershipFactory(
        provider=provider, role=DEVELOPER, user__email="dev@globex.example"
    )
    invitation = _invite(provider, owner.user, "someone@globex.example")
    return {"provider": provider, "owner": owner, "developer": developer, "invitation": invitation}


def login(client, membership):
    client.force_login(membership.user)
    return client


def snapshot():
    """Everything a team action could change."""
    return (
        sorted(Membership.objects.values_list("pk", "provider_id", "user_id", "role")),
        sorted(Invitation.objects.values_list("pk", "status", "email")),
        AuditEntry.objects.count(),
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- the team page --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_member_sees_the_team(client, team, other, role):
    _provider, members, _invitation = team
    login(client, members[role])

    response = client.get(TEAM_URL)

    assert response.status_code == 200
    body = response.text
    for email in ("owner@parcel.example", "billing@parcel.example", "invitee@parcel.example"):
        assert email in body
    assert "Globex" not in body and "globex.example" not in body
    manages = role in MANAGERS
    assert ("Send invitation" in body) is manages
    assert (reverse("accounts:invitation_revoke", args=[team[2].pk]) in body) is manages
    someone_else = members[BILLING if role == DEVELOPER else DEVELOPER]
    assert (reverse("accounts:member_role", args=[someone_else.pk]) in body) is manages
    assert (reverse("accounts:member_remove", args=[someone_else.pk]) in body) is manages
    # Everybody may leave: their own row carries the button.
    assert reverse("accounts:member_remove", args=[members[role].pk]) in body


def test_an_admin_is_offered_neither_the_owner_role_nor_controls_over_owners(client, team):
    _provider, members, _invitation = team
    login(client, members[ADMIN])

    response = client.get(TEAM_URL)

    assert [value for value, _ in response.context["invite_form"].fields["role"].choices] == [
        ADMIN,
        DEVELOPER,
        BILLING,
    ]
    assert reverse("accounts:member_remove", args=[members[OWNER].pk]) not in response.text
    assert reverse("accounts:member_role", args=[members[OWNER].pk]) not in response.text


def test_every_role_select_has_its_own_label(client, team):
    _provider, members, _invitation = team
    login(client, members[OWNER])

    body = client.get(TEAM_URL).text

    ids = re.findall(r'<select name="role"[^>]* id="([^"]+)"', body)
    assert len(ids) == len(set(ids)) == 4  # the invite form and the three other members
    for select_id in ids:
        assert f'for="{select_id}"' in body


def test_every_described_by_points_at_something_on_the_page(client, team):
    _provider, members, _invitation = team
    login(client, members[OWNER])

    pages = [
        client.get(TEAM_URL).text,
        client.post(INVITE_URL, {"email": "bad", "role": "ROOT", "submission": "t"}).text,
    ]

    for body in pages:
        ids = set(re.findall(r' id="([^"]+)"', body))
        references = re.findall(r'aria-describedby="([^"]+)"', body)
        described = {ref for refs in references for ref in refs.split()}
        assert described, "the invite form describes its fields"
        assert described <= ids


def test_anonymous_visitors_are_sent_to_sign_in(client, team):
    response = client.get(TEAM_URL)

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert f"next={TEAM_URL}" in response.url.replace("%2F", "/")


def test_a_user_without_an_organisation_is_sent_to_create_one(client):
    client.force_login(UserFactory())

    response = client.get(TEAM_URL)

    assert response.status_code == 302
    assert response.url == reverse("accounts:organisation_create")


def test_a_closed_provider_says_why_nobody_can_be_invited(client, team):
    provider, members, _invitation = team
    services.provider_close(provider=provider, actor=None, reason="Wound up")
    login(client, members[OWNER])

    response = client.get(TEAM_URL)

    assert response.status_code == 200
    assert "Parcel Insights LLC was closed" in response.text and "Wound up" in response.text
    assert "take new members" in response.text and "change roles" in response.text
    assert "Send invitation" not in response.text


def test_a_suspended_provider_is_told_no_data_is_served_and_may_still_invite(client, team):
    provider, members, _invitation = team
    services.provider_suspend(
        provider=provider, actor=StaffFactory(), reason="Under audit", cause="STAFF_ACTION"
    )
    login(client, members[ADMIN])

    response = client.get(TEAM_URL)

    assert "no tracking data is served" in response.text and "Under audit" in response.text
    assert "Send invitation" in response.text


# --- who may post what ----------------------------------------------------------------------


def _management_posts(team):
    _provider, members, invitation = team
    return [
        (INVITE_URL, {"email": "x@parcel.example", "role": DEVELOPER, "submission": "t1"}),
        (reverse("accounts:invitation_revoke", args=[invitation.pk]), {}),
        (reverse("accounts:member_role", args=[members[ADMIN].pk]), {"role": DEVELOPER}),
        (reverse("accounts:member_remove", args=[members[ADMIN].pk]), {}),
    ]


@pytest.mark.parametrize("role", NOT_MANAGERS)
def test_roles_without_manage_members_get_403_and_nothing_changes(client, team, role):
    _provider, members, _invitation = team
    login(client, members[role])
    before = snapshot()

    statuses = [client.post(url, data).status_code for url, data in _management_posts(team)]

    assert statuses == [403, 403, 403, 403]
    assert snapshot() == before


@pytest.mark.parametrize("url_name", ["team_invite", "invitation_revoke", "member_role"])
def test_anonymous_posts_are_sent_to_sign_in_and_change_nothing(client, team, url_name):
    _provider, members, invitation = team
    args = {
        "team_invite": [],
        "invitation_revoke": [invitation.pk],
        "member_role": [members[ADMIN].pk],
    }[url_name]
    before = snapshot()

    response = client.post(reverse(f"accounts:{url_name}", args=args), {"role": OWNER})

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert snapshot() == before


def test_anonymous_remove_is_sent_to_sign_in(client, team):
    _provider, members, _invitation = team
    before = snapshot()

    response = client.post(reverse("accounts:member_remove", args=[members[OWNER].pk]))

    assert response.status_code == 302
    assert snapshot() == before


# --- another tenant's ids -------------------------------------------------------------------


def _foreign_urls(other):
    return [
        reverse("accounts:invitation_revoke", args=[other["invitation"].pk]),
        reverse("accounts:member_role", args=[other["owner"].pk]),
        reverse("accounts:member_role", args=[other["developer"].pk]),
        reverse("accounts:member_remove", args=[other["owner"].pk]),
        reverse("accounts:member_remove", args=[other["developer"].pk]),
        reverse("accounts:invitation_revoke", args=[99999999]),
        reverse("accounts:member_remove", args=[99999999]),
    ]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method", METHODS)
def test_another_tenants_ids_are_404_for_every_role_url_and_method(
    client, team, other, role, method
):
    _provider, members, _invitation = team
    login(client, members[role])
    before = snapshot()

    statuses = {
        url: getattr(client, method)(url, {"role": ADMIN} if method == "post" else None).status_code
        for url in _foreign_urls(other)
    }

    assert statuses == dict.fromkeys(statuses, 404)
    assert snapshot() == before


def test_a_member_of_both_acts_only_for_the_active_provider(client, team, other):
    """Being an owner of the other provider too does not open its ids while acting for ours."""
    provider, members, _invitation = team
    MembershipFactory(provider=other["provider"], user=members[OWNER].user, role=OWNER)
    login(client, members[OWNER])
    session = client.session
    session[SESSION_KEY] = provider.pk
    session.save()

    response = client.post(reverse("accounts:member_remove", args=[other["developer"].pk]))

    assert response.status_code == 404
    assert Membership.objects.filter(pk=other["developer"].pk).exists()


def test_own_ids_with_a_method_other_than_post_are_405(client, team):
    _provider, members, invitation = team
    login(client, members[OWNER])

    assert client.get(reverse("accounts:invitation_revoke", args=[invitation.pk])).status_code == (
        405
    )
    assert client.get(INVITE_URL).status_code == 405
    assert Invitation.objects.get(pk=invitation.pk).status == InvitationStatus.PENDING


# --- inviting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", MANAGERS)
def test_a_manager_invites_and_is_redirected_to_the_team(
    client, team, role, mailoutbox, django_capture_on_commit_callbacks
):
    provider, members, _invitation = team
    login(client, members[role])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            INVITE_URL,
            {"email": "Pat@Example.com", "role": DEVELOPER, "submission": "tok-1"},
            follow=True,
        )

    assert response.redirect_chain == [(TEAM_URL, 302)]
    assert "Invitation sent to pat@example.com as Developer" in messages_of(response)[0]
    invitation = Invitation.objects.get(email="pat@example.com")
    assert (invitation.provider, invitation.role, invitation.invited_by) == (
        provider,
        DEVELOPER,
        members[role].user,
    )
    assert [mail.to for mail in mailoutbox] == [["pat@example.com"]]
    assert "pat@example.com" in response.text  # listed as pending


def test_a_double_submit_of_the_invite_form_creates_one_invitation(
    client, team, mailoutbox, django_capture_on_commit_callbacks
):
    _provider, members, _invitation = team
    login(client, members[OWNER])
    data = {"email": "pat@example.com", "role": DEVELOPER, "submission": "same-token"}

    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(INVITE_URL, data)
        second = client.post(INVITE_URL, data, follow=True)

    assert first.status_code == 302
    assert second.redirect_chain == [(TEAM_URL, 302)]
    assert "That invitation was already sent." in messages_of(second)
    assert Invitation.objects.filter(email="pat@example.com").count() == 1
    assert len(mailoutbox) == 1


def test_a_refused_invitation_shows_the_reason_on_the_field_and_keeps_the_input(client, team):
    _provider, members, _invitation = team
    login(client, members[OWNER])
    before = snapshot()

    response = client.post(
        INVITE_URL,
        {"email": "INVITEE@parcel.example", "role": ADMIN, "submission": "tok-2"},
    )

    assert response.status_code == 400
    form = response.context["invite_form"]
    assert "already has a pending invitation" in form.errors["email"][0]
    assert 'value="INVITEE@parcel.example"' in response.text
    assert "usa-input--error" in response.text
    assert snapshot() == before

    # The same token may be sent again once corrected: a refusal releases it.
    corrected = client.post(
        INVITE_URL, {"email": "other@parcel.example", "role": ADMIN, "submission": "tok-2"}
    )
    assert corrected.status_code == 302
    assert Invitation.objects.filter(email="other@parcel.example").exists()


def _send_invitations(client, count, *, start=0, prefix="p"):
    return [
        client.post(
            INVITE_URL,
            {"email": f"{prefix}{n}@example.com", "role": DEVELOPER, "submission": f"{prefix}{n}"},
        )
        for n in range(start, start + count)
    ]


def test_one_person_sends_at_most_the_hourly_number_of_invitations(
    client, team, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.INVITATIONS_PER_HOUR = 2
    _provider, members, _invitation = team
    login(client, members[ADMIN])

    with django_capture_on_commit_callbacks(execute=True):
        sent = _send_invitations(client, 2)
        before = snapshot()
        refused = client.post(
            INVITE_URL, {"email": "third@example.com", "role": DEVELOPER, "submission": "p3"}
        )

    assert [r.status_code for r in sent] == [302, 302]
    assert refused.status_code == 429
    assert "You have sent 2 invitations this hour, the most one person may send" in refused.text
    assert 'value="third@example.com"' in refused.text  # kept for later
    assert snapshot() == before
    assert len(mailoutbox) == 2
    # The limit is per person: another manager of the same provider still invites.
    login(client, members[OWNER])
    assert _send_invitations(client, 1, prefix="owner")[0].status_code == 302


def test_the_hourly_limit_defaults_to_20_and_counts_only_invitations_sent(client, team, settings):
    del settings.INVITATIONS_PER_HOUR  # unset: the default applies
    _provider, members, _invitation = team
    login(client, members[OWNER])

    # Refused by the service (already pending): nothing is sent, so nothing is counted.
    duplicate = client.post(
        INVITE_URL, {"email": "invitee@parcel.example", "role": DEVELOPER, "submission": "dup"}
    )
    assert duplicate.status_code == 400
    # A double submit is not counted either.
    again = _send_invitations(client, 1) + _send_invitations(client, 1)
    assert [r.status_code for r in again] == [302, 302]

    sent = _send_invitations(client, 19, start=1)
    assert [r.status_code for r in sent] == [302] * 19
    assert _send_invitations(client, 1, start=20)[0].status_code == 429
    assert Invitation.objects.filter(invited_by=members[OWNER].user).count() == 21  # +fixture


def test_the_hourly_limit_starts_again_the_next_hour(client, team, settings, monkeypatch):
    from accounts import ratelimits

    settings.INVITATIONS_PER_HOUR = 1
    _provider, members, _invitation = team
    login(client, members[OWNER])
    now = 1_800_000_000.0 + 20 * 60  # 20 minutes into an hour (UTC)
    monkeypatch.setattr(ratelimits, "_now", lambda: now)

    assert _send_invitations(client, 1)[0].status_code == 302
    refused = _send_invitations(client, 1, start=1)[0]
    assert refused.status_code == 429 and "Try again in 40 minutes" in refused.text

    now += 40 * 60
    assert _send_invitations(client, 1, start=2)[0].status_code == 302


def test_the_pending_invitations_cap_shows_why_and_sends_nothing(
    client, team, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.INVITATIONS_PENDING_MAX = 1  # the fixture's invitation is pending
    _provider, members, _invitation = team
    login(client, members[OWNER])
    before = snapshot()

    with django_capture_on_commit_callbacks(execute=True):
        response = _send_invitations(client, 1)[0]

    assert response.status_code == 400
    assert "already has 1 pending invitation, the most it may have at once" in response.text
    assert 'role="alert"' in response.text
    assert snapshot() == before
    assert mailoutbox == []


def test_an_invalid_invite_form_is_shown_again_with_field_errors(client, team):
    _provider, members, _invitation = team
    login(client, members[ADMIN])
    before = snapshot()

    response = client.post(INVITE_URL, {"email": "nope", "role": OWNER, "submission": "tok-3"})

    assert response.status_code == 400
    assert set(response.context["invite_form"].errors) == {"email", "role"}
    assert snapshot() == before


# --- revoking, changing roles, removing ----------------------------------------------------


def test_a_manager_revokes_an_invitation(client, team):
    _provider, members, invitation = team
    login(client, members[ADMIN])

    response = client.post(reverse("accounts:invitation_revoke", args=[invitation.pk]), follow=True)

    assert response.redirect_chain == [(TEAM_URL, 302)]
    assert "invitee@parcel.example is revoked" in messages_of(response)[0]
    assert Invitation.objects.get(pk=invitation.pk).status == InvitationStatus.REVOKED
    assert "invitee@parcel.example" not in response.text.split("Pending invitations")[1]


def test_revoking_twice_shows_the_refusal(client, team):
    _provider, members, invitation = team
    login(client, members[OWNER])
    url = reverse("accounts:invitation_revoke", args=[invitation.pk])
    client.post(url)

    response = client.post(url, follow=True)

    assert any("already revoked" in text for text in messages_of(response))


def test_a_manager_changes_a_role(client, team):
    _provider, members, _invitation = team
    login(client, members[ADMIN])

    response = client.post(
        reverse("accounts:member_role", args=[members[DEVELOPER].pk]),
        {"role": BILLING},
        follow=True,
    )

    assert response.redirect_chain == [(TEAM_URL, 302)]
    assert messages_of(response) == ["developer@parcel.example is now Billing."]
    assert Membership.objects.get(pk=members[DEVELOPER].pk).role == BILLING


def test_the_last_owner_demoting_themselves_sees_why_and_nothing_changes(client, team):
    _provider, members, _invitation = team
    login(client, members[OWNER])
    before = snapshot()

    response = client.post(
        reverse("accounts:member_role", args=[members[OWNER].pk]), {"role": ADMIN}, follow=True
    )

    assert response.redirect_chain == [(TEAM_URL, 302)]
    assert "last owner" in messages_of(response)[0]
    assert snapshot() == before


def test_an_admin_cannot_grant_owner_even_by_tampering(client, team):
    _provider, members, _invitation = team
    login(client, members[ADMIN])
    before = snapshot()

    response = client.post(
        reverse("accounts:member_role", args=[members[DEVELOPER].pk]), {"role": OWNER}, follow=True
    )

    assert "Choose a role you can give" in messages_of(response)[0]
    assert snapshot() == before


def test_an_admin_cannot_remove_an_owner_by_posting_directly(client, team):
    _provider, members, _invitation = team
    login(client, members[ADMIN])
    before = snapshot()

    response = client.post(reverse("accounts:member_remove", args=[members[OWNER].pk]), follow=True)

    assert "Only an owner can remove an owner" in messages_of(response)[0]
    assert snapshot() == before


def test_a_manager_removes_a_member(client, team):
    provider, members, _invitation = team
    login(client, members[OWNER])

    response = client.post(
        reverse("accounts:member_remove", args=[members[BILLING].pk]), follow=True
    )

    assert response.redirect_chain == [(TEAM_URL, 302)]
    assert messages_of(response) == [f"billing@parcel.example is no longer a member of {provider}."]
    assert not Membership.objects.filter(pk=members[BILLING].pk).exists()


@pytest.mark.parametrize("role", NOT_MANAGERS)
def test_a_member_leaves_and_lands_on_their_next_organisation_or_its_creation(client, team, role):
    provider, members, _invitation = team
    login(client, members[role])

    response = client.post(reverse("accounts:member_remove", args=[members[role].pk]))

    assert response.status_code == 302
    assert response.url == reverse("agreements:dashboard")
    assert not Membership.objects.filter(pk=members[role].pk).exists()
    # No organisation left: the portal asks them to form one.
    assert client.get(TEAM_URL).url == reverse("accounts:organisation_create")


def test_the_last_owner_cannot_leave(client, team):
    _provider, members, _invitation = team
    login(client, members[OWNER])
    before = snapshot()

    response = client.post(reverse("accounts:member_remove", args=[members[OWNER].pk]), follow=True)

    assert response.redirect_chain == [(TEAM_URL, 302)]
    assert "last owner" in messages_of(response)[0]
    assert snapshot() == before


# --- accepting through the e-mailed link ------------------------------------------------------


def _link_from(mail) -> str:
    url = re.search(r"https?://\S+/team/invitations/accept/\S+/", mail.body).group(0)
    return urlsplit(url).path


@pytest.fixture
def emailed_link(client, team, mailoutbox, django_capture_on_commit_callbacks):
    """The owner invites pat@example.com as ADMIN through the page; the link from the mail."""
    _provider, members, _invitation = team
    login(client, members[OWNER])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(INVITE_URL, {"email": "pat@example.com", "role": ADMIN, "submission": "s"})
    client.logout()
    assert len(mailoutbox) == 1
    return _link_from(mailoutbox[0])


def test_the_invitee_accepts_through_the_emailed_link(client, team, emailed_link):
    provider, _members, _invitation = team
    existing = MembershipFactory(user__email="pat@example.com", role=OWNER)  # has another org
    pat = existing.user
    client.force_login(pat)

    page = client.get(emailed_link)

    assert page.status_code == 200
    assert "Parcel Insights LLC" in page.text
    assert "Administrator" in page.text
    assert "owner@parcel.example invites you" in page.text
    assert 'type="submit"' in page.text

    response = client.post(emailed_link, follow=True)

    assert response.redirect_chain == [(reverse("agreements:dashboard"), 302)]
    membership = Membership.objects.get(provider=provider, user=pat)
    assert membership.role == ADMIN
    assert client.session[SESSION_KEY] == provider.pk  # acting for the new organisation
    assert "Welcome to" in messages_of(response)[0]
    invitation = Invitation.objects.get(email="pat@example.com")
    assert (invitation.status, invitation.accepted_by) == (InvitationStatus.ACCEPTED, pat)

    # A second click on the button is harmless.
    again = client.post(emailed_link)
    assert again.status_code == 302
    assert Membership.objects.filter(provider=provider, user=pat).count() == 1


def test_an_invitee_without_any_organisation_can_accept(client, team, emailed_link):
    provider, _members, _invitation = team
    pat = UserFactory(email="pat@example.com")
    client.force_login(pat)

    assert client.get(emailed_link).status_code == 200
    response = client.post(emailed_link)

    assert response.status_code == 302
    assert Membership.objects.filter(provider=provider, user=pat).exists()
    assert client.get(reverse("agreements:dashboard")).status_code == 200


def test_a_signed_out_invitee_is_sent_to_sign_in_and_back(client, emailed_link):
    response = client.get(emailed_link)

    assert response.status_code == 302
    login_url, _, query = response.url.partition("?")
    assert login_url == reverse("account_login")
    assert "next=" in query
    assert emailed_link in query.replace("%2F", "/").replace("%3A", ":")
    assert client.post(emailed_link).status_code == 302
    assert not Invitation.objects.filter(status=InvitationStatus.ACCEPTED).exists()


def test_someone_else_with_the_link_is_refused_and_nothing_changes(client, team, emailed_link):
    client.force_login(UserFactory(email="mallory@example.com"))
    before = snapshot()

    page = client.get(emailed_link)
    response = client.post(emailed_link)

    for answer in (page, response):
        assert answer.status_code == 400
        assert "sent to pat@example.com, but you are signed in as mallory@example.com" in (
            answer.text
        )
        assert "Accept and join" not in answer.text
    assert snapshot() == before


def test_an_expired_link_explains_itself_and_changes_nothing(client, team, emailed_link):
    Invitation.objects.filter(email="pat@example.com").update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    client.force_login(UserFactory(email="pat@example.com"))
    before = snapshot()

    page = client.get(emailed_link)
    response = client.post(emailed_link)

    for answer in (page, response):
        assert answer.status_code == 400
        assert "expired on" in answer.text
    assert snapshot() == before


def test_a_revoked_link_explains_itself(client, team, emailed_link):
    _provider, members, _invitation = team
    invitation = Invitation.objects.get(email="pat@example.com")
    services.invitation_revoke(invitation=invitation, actor=members[OWNER].user)
    client.force_login(UserFactory(email="pat@example.com"))

    response = client.post(emailed_link)

    assert response.status_code == 400
    assert "was withdrawn" in response.text
    assert not Membership.objects.filter(user__email="pat@example.com").exists()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature changed
        lambda token: signing.dumps(int(signing.loads(token, salt="accounts.invitation")) + 1),
        lambda token: signing.dumps(
            int(signing.loads(token, salt="accounts.invitation")), salt="another.purpose"
        ),
        lambda token: "not-a-token",
        lambda token: signing.dumps("x", salt="accounts.invitation"),
        lambda token: signing.dumps(99999999, salt="accounts.invitation"),
    ],
    ids=["signature", "unsalted-other-id", "other-salt", "garbage", "not-an-id", "no-such-id"],
)
def test_a_tampered_link_is_a_clear_404_and_changes_nothing(client, team, emailed_link, tamper):
    token = emailed_link.rstrip("/").rsplit("/", 1)[1]
    client.force_login(UserFactory(email="pat@example.com"))
    url = reverse("accounts:invitation_accept", args=[tamper(token)])
    before = snapshot()

    page = client.get(url)
    response = client.post(url)

    for answer in (page, response):
        assert answer.status_code == 404
        assert "This invitation link is not valid" in answer.text
    assert snapshot() == before


def test_the_link_token_names_only_its_invitation(team):
    _provider, _members, invitation = team

    token = selectors.invitation_token(invitation=invitation)

    assert selectors.invitation_for_token(token=token) == invitation
    assert selectors.invitation_for_token(token=token + "x") is None


# --- the staff admin ------------------------------------------------------------------------


def test_the_admin_lists_searches_and_shows_invitations_read_only(client, team):
    _provider, _members, invitation = team
    otp_login(client, StaffFactory())
    changelist = reverse("admin:accounts_invitation_changelist")

    listed = client.get(changelist)
    found = client.get(changelist, {"q": "invitee@parcel"})
    missed = client.get(changelist, {"q": "nobody-at-all"})
    change = client.get(reverse("admin:accounts_invitation_change", args=[invitation.pk]))

    assert listed.status_code == found.status_code == missed.status_code == 200
    assert invitation in listed.context["cl"].result_list
    assert list(found.context["cl"].result_list) == [invitation]
    assert missed.context["cl"].result_count == 0
    assert change.status_code == 200
    assert "invitee@parcel.example" in change.text
    assert change.context["has_change_permission"] is False
    assert client.get(reverse("admin:accounts_invitation_add")).status_code == 403
    delete = reverse("admin:accounts_invitation_delete", args=[invitation.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Invitation.objects.filter(pk=invitation.pk).exists()


def test_a_provider_status_other_than_closed_still_takes_invitations(client, team):
    provider, members, _invitation = team
    provider.status = ProviderStatus.PENDING_REVIEW
    provider.save(update_fields=["status"])
    login(client, members[OWNER])

    response = client.post(
        INVITE_URL, {"email": "pat@example.com", "role": DEVELOPER, "submission": "tok-9"}
    )

    assert response.status_code == 302
    assert Invitation.objects.filter(email="pat@example.com").exists()
