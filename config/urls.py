"""Root URL configuration."""

from django.contrib import admin
from django.urls import include, path

from accounts.views.home import home
from config.health import healthz

admin.site.site_header = "Tracking Access Portal: staff"
admin.site.site_title = "Tracking Access Portal"

urlpatterns = [
    path("", home, name="home"),
    path("account/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("", include("agreements.urls")),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
