"""Portal pages about the organisation and its people. Each views module owns its routes."""

from accounts.views import organisation, team

app_name = "accounts"

urlpatterns = [*organisation.urlpatterns, *team.urlpatterns]
