"""The provider a signed-in user is acting for, re-checked against memberships every request."""

from functools import cached_property

from django.http import HttpRequest

from accounts.models import Membership, Provider
from accounts.permissions import role_can
from accounts.selectors import memberships_for_user

SESSION_KEY = "active_provider_id"


class PortalContext:
    """`request.portal`: the user's memberships and the active one. Lazy: pages that never
    ask (static files, the admin) cost no query."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    @cached_property
    def memberships(self) -> list[Membership]:
        user = self._request.user
        if not user.is_authenticated:
            return []
        return list(memberships_for_user(user=user))

    @cached_property
    def membership(self) -> Membership | None:
        """The session's provider if the user is (still) a member of it, else their first."""
        if not self.memberships:
            return None
        wanted = self._request.session.get(SESSION_KEY)
        chosen = next((m for m in self.memberships if m.provider_id == wanted), None)
        if chosen is None:
            chosen = self.memberships[0]
            self._request.session[SESSION_KEY] = chosen.provider_id
        return chosen

    @property
    def provider(self) -> Provider | None:
        return self.membership.provider if self.membership else None

    def can(self, permission: str) -> bool:
        return self.membership is not None and role_can(self.membership.role, permission)

    def activate(self, provider_id: int) -> None:
        """Act for a provider the user just joined or formed (this request's memberships were
        read before that): the next request re-checks the membership as always."""
        self._request.session[SESSION_KEY] = provider_id
        self.__dict__.pop("memberships", None)
        self.__dict__.pop("membership", None)

    def leave(self) -> None:
        """The user left the active provider: the next request picks another membership."""
        self._request.session.pop(SESSION_KEY, None)
        self.__dict__.pop("memberships", None)
        self.__dict__.pop("membership", None)

    def switch_to(self, provider_id: int) -> bool:
        """Make `provider_id` active; False (and nothing changes) unless the user is a member."""
        chosen = next((m for m in self.memberships if m.provider_id == provider_id), None)
        if chosen is None:
            return False
        self._request.session[SESSION_KEY] = provider_id
        self.__dict__["membership"] = chosen
        return True


class ActiveProviderMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        request.portal = PortalContext(request)
        return self.get_response(request)
