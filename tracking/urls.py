"""Portal pages of the tracking app (API apps, usage, try it). Each views module owns its
routes."""

from tracking.views import apps, page, tryit

app_name = "tracking"

urlpatterns = [
    *page.urlpatterns,
    *apps.urlpatterns,
    *tryit.urlpatterns,
]
