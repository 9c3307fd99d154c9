"""Root URL configuration."""

from django.contrib import admin
from django.urls import include, path

from accounts.views.home import home
from agreements.admin.inspector import AccessInspectorView
from config.health import healthz

admin.site.site_header = "Tracking Access Portal: staff"
admin.site.site_title = "Tracking Access Portal"

urlpatterns = [
    path("", home, name="home"),
    path("account/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("", include("agreements.urls")),
    path("", include("tracking.urls")),
    path("oauth2/v3/", include("tracking.oauth_urls")),
    path("", include("tracking.api.urls")),
    path("subscriptions-tracking/v3r2/", include("tracking.webhooks.api_urls")),
    path("", include("billing.urls")),
    path("stripe/webhook/", include("billing.webhook_urls")),
    path("healthz", healthz, name="healthz"),
    # Staff pages outside the ModelAdmins, before "admin/" (whose catch-all would answer first),
    # guarded like the admin itself: active staff with a verified second factor.
    path(
        "admin/inspector/",
        admin.site.admin_view(AccessInspectorView.as_view()),
        name="access_inspector",
    ),
    path("admin/", admin.site.urls),
]
