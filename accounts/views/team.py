"""The team page: members and pending invitations, inviting people, changing roles, removing
members, and accepting an invitation through its signed link.

Every object is fetched through a selector scoped to the active provider, so another
provider's ids answer 404; the services decide who may do what.
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse

from accounts import ratelimits, selectors, services
from accounts.constants import INVITATION_TTL_DAYS_DEFAULT
from accounts.forms.team import InviteForm, RoleChangeForm
from accounts.permissions import Permission, role_can_manage_role, roles_grantable_by
from accounts.portal import (
    PortalView,
    claim_submission,
    new_submission_token,
    release_submission,
)
from accounts.standing import provider_standing
from core.errors import DomainError

BREADCRUMBS = [("Dashboard", "/dashboard/"), ("Team", None)]


class TeamView(PortalView):
    """Everyone in the provider sees the team; managers also see the controls."""

    template_name = "accounts/team/team.html"

    def get(self, request):
        return self.render_team()

    def render_team(self, invite_form: InviteForm | None = None, status: int = 200):
        manages = self.request.portal.can(Permission.MANAGE_MEMBERS)
        my_role = self.membership.role
        grantable = roles_grantable_by(my_role)
        standing = provider_standing(provider=self.provider)
        if manages and invite_form is None and standing.can_invite:
            invite_form = InviteForm(
                roles=grantable, initial={"submission": new_submission_token()}
            )
        members = []
        for member in selectors.provider_members(provider_id=self.provider.pk):
            can_manage = member.user_id != self.request.user.pk and role_can_manage_role(
                my_role, member.role
            )
            form = None
            if can_manage:
                form = RoleChangeForm(
                    roles=grantable,
                    initial={"role": member.role},
                    auto_id=f"id_member{member.pk}_%s",
                )
            members.append({"membership": member, "can_manage": can_manage, "role_form": form})
        invitations = [
            {
                "invitation": invitation,
                "can_revoke": role_can_manage_role(my_role, invitation.role),
            }
            for invitation in selectors.provider_pending_invitations(provider_id=self.provider.pk)
        ]
        return render(
            self.request,
            self.template_name,
            {
                "provider": self.provider,
                "members": members,
                "invitations": invitations,
                "manages": manages,
                "standing": standing,
                "invite_form": invite_form if manages and standing.can_invite else None,
                "ttl_days": getattr(settings, "INVITATION_TTL_DAYS", INVITATION_TTL_DAYS_DEFAULT),
                "breadcrumbs": BREADCRUMBS,
            },
            status=status,
        )


class InviteView(TeamView):
    permission = Permission.MANAGE_MEMBERS
    http_method_names = ["post"]

    def post(self, request):
        form = InviteForm(request.POST, roles=roles_grantable_by(self.membership.role))
        if not form.is_valid():
            return self.render_team(invite_form=form, status=400)
        token = form.cleaned_data["submission"]
        if not claim_submission(request, token):
            messages.info(request, "That invitation was already sent.")
            return redirect("accounts:team")
        usage = ratelimits.invitation_send_consume(user=request.user)
        if usage.refusal is not None:
            release_submission(request, token)
            form.add_error(None, usage.refusal.message)
            return self.render_team(invite_form=form, status=429)
        try:
            invitation = services.invitation_create(
                provider=self.provider,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                actor=request.user,
                accept_url=lambda signed: request.build_absolute_uri(
                    reverse("accounts:invitation_accept", args=[signed])
                ),
            )
        except DomainError as exc:
            usage.release()
            release_submission(request, token)
            self.form_error(form, exc)
            return self.render_team(invite_form=form, status=400)
        messages.success(
            request,
            f"Invitation sent to {invitation.email} as {invitation.get_role_display()}. "
            f"The link works until {invitation.expires_at:%Y-%m-%d}.",
        )
        return redirect("accounts:team")


class ProviderObjectView(PortalView):
    """A POST action on one object of the active provider.

    The object is looked up through a scoped selector before the role check and whatever the
    method, so another provider's id (or no such id) is a 404 for every role and method, never
    a 403 or 405 that would tell it apart from a missing one."""

    http_method_names = ["post"]

    def scoped(self) -> QuerySet:
        raise NotImplementedError

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.portal.membership is not None:
            self.object = get_object_or_404(self.scoped(), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)


class InvitationRevokeView(ProviderObjectView):
    permission = Permission.MANAGE_MEMBERS

    def scoped(self) -> QuerySet:
        return selectors.provider_invitations(provider_id=self.provider.pk)

    def post(self, request, pk: int):
        invitation = self.object
        try:
            services.invitation_revoke(invitation=invitation, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"The invitation of {invitation.email} is revoked.")
        return redirect("accounts:team")


class MemberRoleView(ProviderObjectView):
    permission = Permission.MANAGE_MEMBERS

    def scoped(self) -> QuerySet:
        return selectors.provider_members(provider_id=self.provider.pk)

    def post(self, request, pk: int):
        membership = self.object
        form = RoleChangeForm(request.POST, roles=roles_grantable_by(self.membership.role))
        if not form.is_valid():
            messages.error(request, f"Choose a role you can give: {form.errors['role'][0]}")
            return redirect("accounts:team")
        try:
            services.membership_change_role(
                membership=membership, role=form.cleaned_data["role"], actor=request.user
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{membership.user} is now {membership.get_role_display()}.")
        return redirect("accounts:team")


class MemberRemoveView(ProviderObjectView):
    """Managers remove others; every member may leave (permission VIEW, checked per target)."""

    def scoped(self) -> QuerySet:
        return selectors.provider_members(provider_id=self.provider.pk)

    def post(self, request, pk: int):
        membership = self.object
        leaving = membership.user_id == request.user.pk
        if not leaving and not request.portal.can(Permission.MANAGE_MEMBERS):
            raise PermissionDenied(
                f"Your role ({self.membership.get_role_display()}) cannot "
                f"{Permission.MANAGE_MEMBERS.label}."
            )
        provider = self.provider
        try:
            services.membership_remove(membership=membership, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("accounts:team")
        if leaving:
            request.portal.leave()
            messages.success(request, f"You have left {provider}.")
            return redirect("agreements:dashboard")
        messages.success(request, f"{membership.user} is no longer a member of {provider}.")
        return redirect("accounts:team")


class InvitationAcceptView(PortalView):
    """Open to any signed-in user (with or without a provider); anonymous people are sent to
    sign in and come back here."""

    needs_provider = False
    template_name = "accounts/team/accept.html"

    def dispatch(self, request, *args, **kwargs):
        # Signing in first: a signed-out visitor learns nothing about the token.
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.invitation = selectors.invitation_for_token(token=kwargs["token"])
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, token: str):
        if self.invitation is None:
            return self._invalid()
        problem = selectors.invitation_acceptance_problem(
            invitation=self.invitation, user=request.user
        )
        return self._render(problem=problem, status=200 if problem is None else 400)

    def post(self, request, token: str):
        if self.invitation is None:
            return self._invalid()
        invitation = self.invitation
        if invitation.accepted_by_id == request.user.pk:  # a second click on the button
            request.portal.activate(invitation.provider_id)
            return redirect("agreements:dashboard")
        try:
            services.invitation_accept(invitation=invitation, user=request.user)
        except DomainError as exc:
            return self._render(problem=exc.message, status=400)
        request.portal.activate(invitation.provider_id)
        messages.success(
            request,
            f"Welcome to {invitation.provider}: you are a member as "
            f"{invitation.get_role_display()}.",
        )
        return redirect("agreements:dashboard")

    def _render(self, *, problem: str | None, status: int):
        return render(
            self.request,
            self.template_name,
            {
                "invitation": self.invitation,
                "provider": self.invitation.provider,
                "problem": problem,
                "breadcrumbs": [("Dashboard", "/dashboard/"), ("Invitation", None)],
            },
            status=status,
        )

    def _invalid(self):
        return render(
            self.request,
            "accounts/team/invalid_link.html",
            {"breadcrumbs": [("Dashboard", "/dashboard/"), ("Invitation", None)]},
            status=404,
        )


urlpatterns = [
    path("team/", TeamView.as_view(), name="team"),
    path("team/invite/", InviteView.as_view(), name="team_invite"),
    path(
        "team/invitations/<int:pk>/revoke/",
        InvitationRevokeView.as_view(),
        name="invitation_revoke",
    ),
    path("team/members/<int:pk>/role/", MemberRoleView.as_view(), name="member_role"),
    path("team/members/<int:pk>/remove/", MemberRemoveView.as_view(), name="member_remove"),
    path(
        "team/invitations/accept/<str:token>/",
        InvitationAcceptView.as_view(),
        name="invitation_accept",
    ),
]
