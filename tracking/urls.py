"""Portal pages of the tracking app (API apps, usage, try it). Each views module owns its
routes."""

from tracking.extracts import urls as extract_urls
from tracking.views import apps, page, tryit
from tracking.webhooks import urls as webhook_urls

app_name = "tracking"

urlpatterns = [
    *page.urlpatterns,
    *apps.urlpatterns,
    *tryit.urlpatterns,
    *extract_urls.urlpatterns,
    *webhook_urls.urlpatterns,
]
