"""Portal pages about agreements, Mailer IDs, consents and access. Each views module owns
its routes."""

from agreements.views import consents, dashboard, mids, signing

app_name = "agreements"

urlpatterns = [
    *dashboard.urlpatterns,
    *mids.urlpatterns,
    *consents.urlpatterns,
    *signing.urlpatterns,
]
