"""Portal pages about one object of the active provider."""

from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404

from accounts.portal import PortalView


class ScopedObjectView(PortalView):
    """The object named by the URL's `pk` is fetched through `get_queryset()`, a selector scoped
    to the active provider, for every HTTP method, even one the view does not answer: another
    provider's id is a 404 on every URL and method, never a 405 or 403 that would confirm it
    exists. (Role checks come first: a role without the permission gets 403 for any id.)"""

    def get_queryset(self) -> QuerySet:
        raise NotImplementedError

    def get_object(self) -> Model:
        if not hasattr(self, "object"):
            self.object = get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])
        return self.object

    def http_method_not_allowed(self, request, *args, **kwargs):
        self.get_object()
        return super().http_method_not_allowed(request, *args, **kwargs)

    def options(self, request, *args, **kwargs):
        self.get_object()
        return super().options(request, *args, **kwargs)
